// The one AWS harness of the tests: the real embedded AWS endpoint (fauxqs on 127.0.0.1, OS-picked port),
// SDK clients pointed at it, and fresh resources (a bucket, an incident queue, a topic whose notifications
// land in a raw-delivery subscriber queue) per call, so tests never share state. Plus the queue operations
// tests do as Lambda's event source would: send, receive as an SQSEvent, acknowledge, drain.
import { gunzipSync } from "node:zlib";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import {
  type IncidentVersionMessage,
  incidentVersionMessageSchema,
} from "../../functions/shared/queue-message.ts";
import {
  type EmbeddedAwsEndpoint,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";

/** One test's own resources on the endpoint, with its own clients (middleware a test adds stays in it). */
export interface AwsResources {
  bucket: string;
  queueUrl: string;
  topicArn: string;
  /** Clients of this test's own. */
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  /** Raw-delivery subscriber of the topic: one SQS message per notification. */
  notificationQueueUrl: string;
}

export interface AwsHarness {
  endpoint: EmbeddedAwsEndpoint;
  /** Fresh clients with a new bucket, queue and topic. */
  createPipeline(): Promise<AwsResources>;
  close(): Promise<void>;
}

/** One endpoint with one set of resources, for a test file that shares them (and purges between tests). */
export interface AwsFixture extends AwsResources {
  endpoint: EmbeddedAwsEndpoint;
  close(): Promise<void>;
}

let sequence = 0;

export async function startAwsHarness(): Promise<AwsHarness> {
  const endpoint = await startEmbeddedAwsEndpoint();
  const created: AwsResources[] = [];
  return {
    endpoint,
    async createPipeline() {
      const resources = await createResources(endpoint.url);
      created.push(resources);
      return resources;
    },
    async close() {
      for (const { s3, sqs, sns } of created) destroyClients(s3, sqs, sns);
      await endpoint.close();
    },
  };
}

export async function startAws(): Promise<AwsFixture> {
  const harness = await startAwsHarness();
  return { ...(await harness.createPipeline()), endpoint: harness.endpoint, close: () => harness.close() };
}

async function createResources(endpointUrl: string): Promise<AwsResources> {
  const { s3, sqs, sns } = localAwsClients(endpointUrl);
  const suffix = `${process.pid}-${++sequence}`;
  const bucket = `test-archive-${suffix}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queueUrl = await createQueue(sqs, `test-incidents-${suffix}`);
  const notificationQueueUrl = await createQueue(sqs, `test-notifications-${suffix}`);
  const topicArn =
    (await sns.send(new CreateTopicCommand({ Name: `test-incidents-${suffix}` }))).TopicArn ?? "";
  const subscriberArn = (
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: notificationQueueUrl, AttributeNames: ["QueueArn"] }),
    )
  ).Attributes?.QueueArn;
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: "sqs",
      Endpoint: subscriberArn,
      Attributes: { RawMessageDelivery: "true" },
    }),
  );
  return { s3, sqs, sns, bucket, queueUrl, topicArn, notificationQueueUrl };
}

/** A further queue on the endpoint (a priority queue, say), named uniquely for this process. */
export async function createQueue(sqs: SQSClient, name: string): Promise<string> {
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (queue.QueueUrl === undefined) throw new TypeError(`CreateQueue ${name} returned no QueueUrl`);
  return queue.QueueUrl;
}

function destroyClients(...clients: { destroy(): void }[]): void {
  for (const client of clients) client.destroy();
}

export async function sendVersions(aws: AwsResources, bodies: readonly unknown[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: aws.queueUrl,
        Entries: bodies.slice(start, start + 10).map((body, index) => ({
          Id: String(index),
          MessageBody: typeof body === "string" ? body : JSON.stringify(body),
        })),
      }),
    );
  }
}

/** Receives like Lambda's SQS event source does and shapes the messages as an SQSEvent. */
export async function receiveEvent(aws: AwsResources, max = 10, visibilityTimeout = 300): Promise<SQSEvent> {
  const response = await aws.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: aws.queueUrl,
      MaxNumberOfMessages: max,
      VisibilityTimeout: visibilityTimeout,
      MessageSystemAttributeNames: ["All"],
      WaitTimeSeconds: 0,
    }),
  );
  const records: SQSRecord[] = (response.Messages ?? []).map((message) => ({
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? "1",
      SentTimestamp: message.Attributes?.SentTimestamp ?? "0",
      SenderId: message.Attributes?.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? "0",
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:incidents",
    awsRegion: "us-east-1",
  }));
  return { Records: records };
}

/** What Lambda's event source does with a partial batch response: delete everything not reported as failed. */
export async function acknowledge(
  aws: AwsResources,
  event: SQSEvent,
  response: SQSBatchResponse,
): Promise<void> {
  const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  const done = event.Records.filter((record) => !failed.has(record.messageId));
  for (let start = 0; start < done.length; start += 10) {
    await aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: aws.queueUrl,
        Entries: done
          .slice(start, start + 10)
          .map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      }),
    );
  }
}

/** One invocation as Lambda's event source makes it: receive, call the handler, delete what did not fail. */
export async function invokeFromQueue(
  aws: AwsResources,
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>,
  context: Context,
  receive: { max?: number; visibilitySeconds?: number } = {},
) {
  const event = await receiveEvent(aws, receive.max, receive.visibilitySeconds);
  const response = await handler(event, context);
  await acknowledge(aws, event, response);
  return { event, response, failedIds: response.batchItemFailures.map((failure) => failure.itemIdentifier) };
}

/** Invokes as the event source would until a receive finds nothing; returns how many invocations ran. */
export async function invokeUntilEmpty(
  aws: AwsResources,
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>,
  context: () => Context,
  options: { maxInvocations: number; visibilitySeconds?: number; receive?: () => Promise<SQSEvent> },
): Promise<number> {
  const receive = options.receive ?? (() => receiveEvent(aws, 10, options.visibilitySeconds));
  let invocations = 0;
  for (; invocations < options.maxInvocations; invocations++) {
    const event = await receive();
    if (event.Records.length === 0) break;
    await acknowledge(aws, event, await handler(event, context()));
  }
  return invocations;
}

/** Between the tests of a file that shares one fixture: empty the incident queue, any others given, and the notifications. */
export async function resetQueues(aws: AwsResources, ...otherQueueUrls: string[]): Promise<void> {
  for (const queueUrl of [aws.queueUrl, ...otherQueueUrls]) {
    await aws.sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  }
  await drainNotifications(aws);
}

/** Receives and deletes everything in the queue; every body must satisfy the shared message schema. */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<IncidentVersionMessage[]> {
  const messages: IncidentVersionMessage[] = [];
  for (;;) {
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const batch = received.Messages ?? [];
    if (batch.length === 0) return messages;
    for (const message of batch) {
      messages.push(incidentVersionMessageSchema.parse(JSON.parse(message.Body ?? "")));
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? "" })),
      }),
    );
  }
}

/** How many times each version "id@modification_time" arrived. */
export function countVersions(messages: readonly IncidentVersionMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) {
    const key = `${m.incident_id}@${m.modification_time}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Every notification the topic delivered to the subscriber queue since the last call (then deleted). */
export async function drainNotifications(aws: AwsResources) {
  const received: { body: string; attributes: Record<string, string | undefined> }[] = [];
  for (;;) {
    const response = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.notificationQueueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ["All"],
        WaitTimeSeconds: 0,
      }),
    );
    const messages = response.Messages ?? [];
    if (messages.length === 0) return received;
    for (const message of messages) {
      received.push({
        body: message.Body ?? "",
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue]),
        ),
      });
    }
    await aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: aws.notificationQueueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle ?? "",
        })),
      }),
    );
  }
}

export async function listKeys(aws: AwsResources, prefix: string): Promise<string[]> {
  const response = await aws.s3.send(new ListObjectsV2Command({ Bucket: aws.bucket, Prefix: prefix }));
  return (response.Contents ?? []).map((object) => object.Key ?? "").sort();
}

export async function readObject(aws: AwsResources, key: string) {
  const response = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: key }));
  const bytes = await response.Body?.transformToByteArray();
  const raw = Buffer.from(bytes ?? []);
  const body = response.ContentEncoding === "gzip" ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  return {
    body,
    contentType: response.ContentType,
    contentEncoding: response.ContentEncoding,
    metadata: response.Metadata ?? {},
  };
}
