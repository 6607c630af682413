// AWS SDK clients for the Lambdas. The SDK reads region, credentials and AWS_ENDPOINT_URL itself; with a
// local endpoint, S3 is addressed path-style so no bucket-name DNS is needed.
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";

export function createS3Client(env: Record<string, string | undefined> = process.env): S3Client {
  return new S3Client({ forcePathStyle: env.AWS_ENDPOINT_URL !== undefined });
}

export function createSqsClient(): SQSClient {
  return new SQSClient({});
}
