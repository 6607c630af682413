// Creates what the deployed stack would: the archive bucket, the incident queue with its DLQ, the priority
// queue (hints, short retention, no DLQ), the incident topic, and one SQS subscription standing in for the people and programs that subscribe to it.
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { PRIORITY_HINT_RETENTION_SECONDS } from "../../functions/shared/queue-message.ts";

export interface LocalResourceNames {
  bucket: string;
  queue: string;
  deadLetterQueue: string;
  topic: string;
  notificationInbox: string;
  /** Default: the queue's name with "-priority". */
  priorityQueue?: string;
}

export const LOCAL_RESOURCE_NAMES: LocalResourceNames = {
  bucket: "cortex-incident-archive-local",
  queue: "cortex-incidents",
  deadLetterQueue: "cortex-incidents-dlq",
  topic: "cortex-incident-alerts",
  notificationInbox: "cortex-incident-alerts-inbox",
};

export interface LocalResources {
  bucket: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  /** The priority lane's hints: the poller sends, the enricher drains before each API call. */
  priorityQueueUrl: string;
  topicArn: string;
  /** The local subscriber's queue: each notification the topic fans out lands here. */
  notificationInboxUrl: string;
}

export interface ProvisionOptions {
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  names?: LocalResourceNames;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
}

/** Idempotent: on an endpoint that already has them (AWS_ENDPOINT_URL), existing resources are reused. */
export async function provisionLocalResources(options: ProvisionOptions): Promise<LocalResources> {
  const { s3, sqs, sns, visibilityTimeoutSeconds, maxReceiveCount } = options;
  const names = options.names ?? LOCAL_RESOURCE_NAMES;

  await createBucket(s3, names.bucket);

  const deadLetterQueueUrl = await createQueue(sqs, names.deadLetterQueue, {
    MessageRetentionPeriod: String(14 * 24 * 3600),
  });
  const deadLetterQueueArn = await queueArn(sqs, deadLetterQueueUrl);
  const queueAttributes = {
    VisibilityTimeout: String(visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterQueueArn, maxReceiveCount }),
  };
  const queueUrl = await createQueue(sqs, names.queue, queueAttributes);
  // CreateQueue on an existing queue with other attributes fails on AWS; make the flags win either way.
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: queueAttributes }));
  const priorityQueueUrl = await createQueue(sqs, names.priorityQueue ?? `${names.queue}-priority`, {
    MessageRetentionPeriod: String(PRIORITY_HINT_RETENTION_SECONDS),
  });

  const notificationInboxUrl = await createQueue(sqs, names.notificationInbox, {});
  const inboxArn = await queueArn(sqs, notificationInboxUrl);
  const topic = await sns.send(new CreateTopicCommand({ Name: names.topic }));
  const topicArn = topic.TopicArn;
  if (!topicArn) throw new LocalProvisioningError(`CreateTopic ${names.topic} returned no TopicArn`);
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: inboxArn }));

  return {
    bucket: names.bucket,
    queueUrl,
    queueArn: await queueArn(sqs, queueUrl),
    deadLetterQueueUrl,
    deadLetterQueueArn,
    priorityQueueUrl,
    topicArn,
    notificationInboxUrl,
  };
}

export class LocalProvisioningError extends Error {
  constructor(message: string, cause?: unknown) {
    super(
      `Could not create the local AWS resources: ${message}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "LocalProvisioningError";
  }
}

async function createBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
    throw new LocalProvisioningError(`CreateBucket ${bucket}: ${(error as Error).message}`, error);
  }
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  const reply = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!reply.QueueUrl) throw new LocalProvisioningError(`CreateQueue ${name} returned no QueueUrl`);
  return reply.QueueUrl;
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const reply = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = reply.Attributes?.QueueArn;
  if (!arn) throw new LocalProvisioningError(`GetQueueAttributes ${queueUrl} returned no QueueArn`);
  return arn;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const reply = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  const count = (name: string) => Number(reply.Attributes?.[name as keyof typeof reply.Attributes] ?? 0);
  return {
    visible: count("ApproximateNumberOfMessages"),
    inFlight: count("ApproximateNumberOfMessagesNotVisible"),
    delayed: count("ApproximateNumberOfMessagesDelayed"),
  };
}
