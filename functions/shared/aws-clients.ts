// The AWS SDK clients of the Lambdas and of `npm run ops`, built in one place. The SDK reads region,
// credentials and AWS_ENDPOINT_URL itself; with a local endpoint, S3 is addressed path-style (no
// bucket-name DNS) and SQS calls go to that endpoint rather than to the host in the queue URL (local
// endpoints hand out URLs that need not resolve).
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";

type Environment = Record<string, string | undefined>;

/** What a caller may set beyond the SDK's defaults (the operations CLI: --region, AWS_ENDPOINT_URL). */
export interface AwsClientSettings {
  region?: string;
  endpoint?: string;
}

function localEndpoint(settings: AwsClientSettings, env: Environment): boolean {
  return (settings.endpoint ?? env.AWS_ENDPOINT_URL) !== undefined;
}

export function createS3Client(settings: AwsClientSettings = {}, env: Environment = process.env): S3Client {
  return new S3Client({ ...settings, forcePathStyle: localEndpoint(settings, env) });
}

export function createSqsClient(settings: AwsClientSettings = {}, env: Environment = process.env): SQSClient {
  return new SQSClient({ ...settings, useQueueUrlAsEndpoint: !localEndpoint(settings, env) });
}

export function createSnsClient(settings: AwsClientSettings = {}): SNSClient {
  return new SNSClient(settings);
}

export function createEventBridgeClient(settings: AwsClientSettings = {}): EventBridgeClient {
  return new EventBridgeClient(settings);
}
