// A local stand-in for Lambda's SQS event source mapping: long-polls the queue, invokes one handler per
// concurrent "container" with an SQSEvent of up to batchSize records, deletes what succeeded and leaves
// failures to reappear after the visibility timeout; the queue's own RedrivePolicy moves them to the DLQ.
import { randomUUID } from "node:crypto";
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from "aws-lambda";

/** The part of Lambda's context object the handlers use, plus the names a log line might print. */
export interface LocalLambdaContext {
  functionName: string;
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** Resolves to an SQSBatchResponse, or nothing when every record succeeded; checked as Lambda checks it. */
export type SqsBatchHandler = (event: SQSEvent, context: LocalLambdaContext) => Promise<unknown>;

export interface InvocationReport {
  /** Which concurrent instance ran it (0 .. maxConcurrency-1). */
  instance: number;
  records: SQSRecord[];
  /** messageIds deleted from the queue. */
  succeeded: string[];
  /** messageIds left on the queue to be received again after the visibility timeout. */
  failed: string[];
  /** Why the whole batch failed, when it did (a thrown error, a timeout, an invalid batch response). */
  batchError?: unknown;
  durationMs: number;
}

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  functionName: string;
  /** One handler per concurrent instance: their number is the event source's maximum concurrency. */
  handlers: readonly SqsBatchHandler[];
  /** Up to 100 (more than 10 needs a batching window, as on Lambda). */
  batchSize: number;
  /** How long to keep gathering messages after the first, up to batchSize (Lambda's maximum batching window). */
  batchingWindowMs?: number;
  functionTimeoutMs: number;
  /** Long-poll wait per ReceiveMessage; also how long stop() may wait for an idle receive to return. */
  waitTimeSeconds?: number;
  onInvocation?: (report: InvocationReport) => void;
  /** ReceiveMessage or DeleteMessageBatch failed; the loop backs off and carries on. */
  onQueueError?: (error: unknown) => void;
  now?: () => number;
}

/** A batch response naming a record that is not in the batch: Lambda then fails the whole batch. */
export class InvalidBatchResponseError extends Error {
  constructor(identifier: unknown) {
    super(
      `The handler's batchItemFailures named ${JSON.stringify(identifier)}, which is not a messageId of this batch; ` +
        "like Lambda, the whole batch is treated as failed.",
    );
    this.name = "InvalidBatchResponseError";
  }
}

export class FunctionTimeoutError extends Error {
  constructor(timeoutMs: number, cause?: unknown) {
    super(
      `The invocation ran past the ${timeoutMs / 1000} s function timeout; like Lambda, the whole batch is treated as failed.`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "FunctionTimeoutError";
  }
}

export class SqsEventSource {
  readonly #options: Required<Omit<SqsEventSourceOptions, "onInvocation" | "onQueueError">> &
    Pick<SqsEventSourceOptions, "onInvocation" | "onQueueError">;
  #stopping = false;
  #running: Promise<void>[] = [];
  #activeInvocations = 0;
  #windowEnded = false;
  readonly #stopSignal = new AbortController();

  constructor(options: SqsEventSourceOptions) {
    if (options.handlers.length === 0)
      throw new RangeError("SqsEventSource needs at least one handler instance");
    if (options.batchSize < 1 || options.batchSize > 100) throw new RangeError("batchSize must be 1..100");
    if (options.batchSize > 10 && !((options.batchingWindowMs ?? 0) > 0)) {
      throw new RangeError("a batchSize above 10 needs a batching window, as on Lambda");
    }
    this.#options = { waitTimeSeconds: 2, now: Date.now, batchingWindowMs: 0, ...options };
  }

  get maxConcurrency(): number {
    return this.#options.handlers.length;
  }

  /** Invocations running right now. */
  get activeInvocations(): number {
    return this.#activeInvocations;
  }

  /**
   * From now on a batch is handed over as soon as the queue has nothing more to add, without waiting out
   * the batching window: for --once after its last poll run, when no producer is left whose messages a
   * window would gather (messages the enricher hands back are on the queue at once).
   */
  endBatchingWindow(): void {
    this.#windowEnded = true;
  }

  start(): void {
    if (this.#running.length > 0) return;
    this.#running = this.#options.handlers.map((handler, instance) => this.#runInstance(handler, instance));
  }

  /** Stops receiving; resolves once every in-flight invocation has finished and its records are settled. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopSignal.abort();
    await Promise.all(this.#running);
  }

  async #runInstance(handler: SqsBatchHandler, instance: number): Promise<void> {
    while (!this.#stopping) {
      let messages: Message[];
      try {
        messages = await this.#receive();
      } catch (error) {
        this.#options.onQueueError?.(error);
        await pause(1000, this.#stopSignal.signal);
        continue;
      }
      // A receive that returns after stop() was called still gets processed: nothing received is dropped.
      if (messages.length > 0) await this.#invoke(handler, instance, messages);
    }
  }

  /** One long-poll receive, then, within the batching window, more receives until batchSize messages. */
  async #receive(): Promise<Message[]> {
    const { batchSize, waitTimeSeconds, batchingWindowMs, now } = this.#options;
    const messages = await this.#receiveUpTo(batchSize, waitTimeSeconds);
    const windowEnds = now() + batchingWindowMs;
    while (messages.length > 0 && messages.length < batchSize && now() < windowEnds && !this.#stopping) {
      const more = await this.#receiveUpTo(batchSize - messages.length, 0);
      if (more.length === 0 && this.#windowEnded) break;
      if (more.length === 0)
        await pause(Math.min(250, Math.max(0, windowEnds - now())), this.#stopSignal.signal);
      messages.push(...more);
    }
    return messages;
  }

  async #receiveUpTo(max: number, waitTimeSeconds: number): Promise<Message[]> {
    const { sqs, queueUrl } = this.#options;
    const reply = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    return reply.Messages ?? [];
  }

  async #invoke(handler: SqsBatchHandler, instance: number, messages: Message[]): Promise<void> {
    const { functionTimeoutMs, now } = this.#options;
    const records = messages.map((message) => this.#toRecord(message));
    const startedAt = now();
    const deadline = startedAt + functionTimeoutMs;
    const context: LocalLambdaContext = {
      functionName: this.#options.functionName,
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    };
    this.#activeInvocations += 1;
    let failedIds: Set<string>;
    let batchError: unknown;
    try {
      const invocation = Promise.resolve().then(() => handler({ Records: records }, context));
      const outcome = await withTimeout(invocation, functionTimeoutMs);
      if (outcome.timedOut) {
        batchError = new FunctionTimeoutError(functionTimeoutMs);
        // Lambda would kill the container; here the instance waits for it to settle (or for stop()) before the next batch.
        const settled = invocation.then(
          () => undefined,
          (late: unknown) => {
            // Kept as the cause: the run ended in an error after its time was up.
            batchError = new FunctionTimeoutError(functionTimeoutMs, late);
          },
        );
        await Promise.race([settled, aborted(this.#stopSignal.signal)]);
        failedIds = new Set(records.map((record) => record.messageId));
      } else {
        failedIds = failuresFrom(outcome.value, records);
      }
    } catch (error) {
      batchError = error;
      failedIds = new Set(records.map((record) => record.messageId));
    }
    const succeeded = records.filter((record) => !failedIds.has(record.messageId));
    try {
      await this.#delete(succeeded);
    } catch (error) {
      // Not deleted means received again later: a duplicate, never a loss; the enricher is idempotent.
      this.#options.onQueueError?.(error);
    } finally {
      this.#activeInvocations -= 1;
    }
    const report: InvocationReport = {
      instance,
      records,
      succeeded: succeeded.map((record) => record.messageId),
      failed: records.filter((record) => failedIds.has(record.messageId)).map((record) => record.messageId),
      durationMs: now() - startedAt,
    };
    if (batchError !== undefined) report.batchError = batchError;
    this.#options.onInvocation?.(report);
  }

  /** Deletes in SQS's batches of 10 (an invocation may hold up to 100 records). */
  async #delete(records: SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      const reply = await this.#options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#options.queueUrl,
          Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      if ((reply.Failed ?? []).length > 0) {
        throw new QueueDeleteError(
          reply.Failed?.map((entry) => `${entry.Code}: ${entry.Message}`).join("; ") ?? "",
        );
      }
    }
  }

  #toRecord(message: Message): SQSRecord {
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      attributes: {
        ...attributes,
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
        SentTimestamp: attributes.SentTimestamp ?? "",
        SenderId: attributes.SenderId ?? "",
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? "",
      },
      messageAttributes: toRecordAttributes(message.MessageAttributes ?? {}),
      md5OfBody: message.MD5OfBody ?? "",
      ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
      eventSource: "aws:sqs",
      eventSourceARN: this.#options.queueArn,
      awsRegion: this.#options.region,
    };
  }
}

export class QueueDeleteError extends Error {
  constructor(details: string) {
    super(`DeleteMessageBatch left messages on the queue (they will be received again): ${details}`);
    this.name = "QueueDeleteError";
  }
}

/**
 * Lambda's partial batch response rules: no response, or a null or empty batchItemFailures, means all
 * succeeded; an identifier that is not a messageId of the batch fails the whole batch.
 */
function failuresFrom(response: unknown, records: SQSRecord[]): Set<string> {
  const failures = (response as Partial<SQSBatchResponse> | null | undefined)?.batchItemFailures ?? [];
  if (!Array.isArray(failures)) throw new InvalidBatchResponseError(failures);
  const ids = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const identifier = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof identifier !== "string" || !ids.has(identifier))
      throw new InvalidBatchResponseError(identifier);
    failed.add(identifier);
  }
  return failed;
}

function toRecordAttributes(attributes: Record<string, MessageAttributeValue>): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    result[name] = {
      dataType: value.DataType ?? "String",
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }
        : {}),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return result;
}

async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
): Promise<{ timedOut: false; value: T } | { timedOut: true }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ timedOut: true }>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs);
  });
  try {
    return await Promise.race([promise.then((value) => ({ timedOut: false as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Sleeps `ms`, or less if `signal` aborts first (the runner stopping); never rejects. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
