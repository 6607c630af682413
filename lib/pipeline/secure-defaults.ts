// Secure defaults in one place, in the manner of AWS Solutions Constructs: every part spreads these
// and states what it adds or overrides, so a new resource starts encrypted, TLS-only and private.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";

/** Private, encrypted, TLS-only, owner-enforced, and kept when the stack is deleted. */
export function secureBucketProps(): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/** SQS-managed encryption (needs no key grants), TLS-only, the longest retention SQS allows. */
export function secureQueueProps(): sqs.QueueProps {
  return {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  };
}

/** TLS-only publishing. At rest, a topic is encrypted only with a configured customer-managed key: CloudWatch
 * alarms cannot publish to a topic under the AWS-managed SNS key, whose policy cannot be changed. */
export function secureTopicProps(): sns.TopicProps {
  return { enforceSSL: true };
}
