// AWS SDK clients for the Lambdas. The SDK reads region, credentials and AWS_ENDPOINT_URL itself; with a
// local endpoint, S3 is addressed path-style (no bucket-name DNS) and SQS calls go to that endpoint
// rather than to the host in the queue URL (local endpoints hand out URLs that need not resolve).
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";

type Environment = Record<string, string | undefined>;

export function createS3Client(env: Environment = process.env): S3Client {
  return new S3Client({ forcePathStyle: env.AWS_ENDPOINT_URL !== undefined });
}

export function createSqsClient(env: Environment = process.env): SQSClient {
  return new SQSClient({ useQueueUrlAsEndpoint: env.AWS_ENDPOINT_URL === undefined });
}
