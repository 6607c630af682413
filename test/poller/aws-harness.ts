// The real embedded AWS endpoint (fauxqs on 127.0.0.1) with a fresh bucket and queue per test, plus
// fault injection through the SDK's own middleware stack (the requests still reach fauxqs).
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { METRICS_NAMESPACE, POLLER_SERVICE } from "../../functions/shared/metric-names.ts";
import {
  type IncidentVersionMessage,
  incidentVersionMessageSchema,
} from "../../functions/shared/queue-message.ts";
import {
  type EmbeddedAwsEndpoint,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";

export interface AwsHarness {
  endpoint: EmbeddedAwsEndpoint;
  /** Fresh clients (so middleware added by one test stays in that test) with a new bucket and queue. */
  createPipeline(): Promise<{ s3: S3Client; sqs: SQSClient; bucket: string; queueUrl: string }>;
  close(): Promise<void>;
}

let sequence = 0;

export async function startAwsHarness(): Promise<AwsHarness> {
  const endpoint = await startEmbeddedAwsEndpoint();
  return {
    endpoint,
    async createPipeline() {
      const { s3, sqs } = localAwsClients(endpoint.url);
      const name = `poller-test-${process.pid}-${++sequence}`;
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      if (queue.QueueUrl === undefined) throw new TypeError("CreateQueue returned no QueueUrl");
      return { s3, sqs, bucket: name, queueUrl: queue.QueueUrl };
    },
    close: () => endpoint.close(),
  };
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

/**
 * Makes the queue reject some SendMessageBatch entries: those `reject` picks are not sent and come back
 * in `Failed` (as SQS reports a partial failure); the rest really reach fauxqs.
 */
export function rejectBatchEntries(
  sqs: SQSClient,
  reject: (entry: { Id?: string; MessageBody?: string }) => boolean,
): void {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "SendMessageBatchCommand") return next(args);
      const input = args.input as SendMessageBatchCommandInput;
      const entries = input.Entries ?? [];
      const rejected = entries.filter(reject);
      const kept = entries.filter((e) => !rejected.includes(e));
      const failed = rejected.map((e) => ({
        Id: e.Id,
        Code: "InternalError",
        SenderFault: false,
        Message: "injected: the queue rejected this entry",
      }));
      if (kept.length === 0) {
        const output: SendMessageBatchCommandOutput = { Successful: [], Failed: failed, $metadata: {} };
        return { output, response: {} } as Awaited<ReturnType<typeof next>>;
      }
      const result = await next({ ...args, input: { ...input, Entries: kept } });
      const output = result.output as SendMessageBatchCommandOutput;
      output.Failed = [...(output.Failed ?? []), ...failed];
      return result;
    },
    { step: "initialize", name: "rejectBatchEntries" },
  );
}

/** Thrown by the crash injector: stands for the process dying at that point. */
export class InjectedCrash extends Error {
  constructor(where: string) {
    super(`injected crash: ${where}`);
    this.name = "InjectedCrash";
  }
}

/** Cursor write number `writeNumber` (PutObject, counting from 1) dies before reaching S3, as if the Lambda were killed there. */
export function crashOnCursorWrite(s3: S3Client, writeNumber = 1): void {
  let writes = 0;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutObjectCommand" && ++writes === writeNumber) {
        throw new InjectedCrash("after the page was queued, before the cursor was saved");
      }
      return next(args);
    },
    { step: "initialize", name: "crashOnCursorWrite" },
  );
}

/** A silent Powertools logger for tests. */
export function quietLogger(): Logger {
  return new Logger({ serviceName: POLLER_SERVICE, logLevel: "SILENT" });
}

/** Powertools Metrics whose published EMF documents are kept in memory instead of printed. */
export function recordingMetrics(): { metrics: Metrics; published: Record<string, unknown>[] } {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: POLLER_SERVICE });
  const published: Record<string, unknown>[] = [];
  metrics.publishStoredMetrics = () => {
    published.push(metrics.serializeMetrics() as unknown as Record<string, unknown>);
    metrics.clearMetrics();
    return metrics;
  };
  return { metrics, published };
}

/** A context whose remaining time is measured against an injected clock. */
export function lambdaContext(now: () => number, budgetMs: number) {
  const end = now() + budgetMs;
  return { getRemainingTimeInMillis: () => end - now() };
}
