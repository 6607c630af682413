// The Lambda-like SQS event source against the real embedded endpoint (fauxqs): batching, maximum
// concurrency, partial batch responses, visibility timeout and redrive to the DLQ by the queue itself.
import { ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedAwsEndpoint,
  LOCAL_REGION,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";
import {
  type LocalResources,
  provisionLocalResources,
  queueDepth,
} from "../../local/runner/aws-resources.ts";
import {
  FunctionTimeoutError,
  InvalidBatchResponseError,
  type InvocationReport,
  type SqsBatchHandler,
  SqsEventSource,
} from "../../local/runner/event-source.ts";

let endpoint: EmbeddedAwsEndpoint;
let clients: ReturnType<typeof localAwsClients>;
let sources: SqsEventSource[] = [];
let suffix = 0;

beforeAll(async () => {
  endpoint = await startEmbeddedAwsEndpoint();
  clients = localAwsClients(endpoint.url);
});

afterEach(async () => {
  await Promise.all(sources.map((source) => source.stop()));
  sources = [];
});

afterAll(async () => {
  await endpoint.close();
});

/** A fresh queue, DLQ and topic per test, so tests cannot see each other's messages. */
async function freshQueue(options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}) {
  suffix += 1;
  return provisionLocalResources({
    ...clients,
    names: {
      bucket: `event-source-test-${suffix}`,
      queue: `incidents-${suffix}`,
      deadLetterQueue: `incidents-dlq-${suffix}`,
      topic: `alerts-${suffix}`,
      notificationInbox: `inbox-${suffix}`,
    },
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 1,
    maxReceiveCount: options.maxReceiveCount ?? 5,
  });
}

async function sendBodies(sqs: SQSClient, queueUrl: string, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const chunk = bodies.slice(start, start + 10);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
  }
}

function startSource(
  resources: LocalResources,
  handlers: SqsBatchHandler[],
  options: {
    batchSize?: number;
    batchingWindowMs?: number;
    functionTimeoutMs?: number;
    onInvocation?: (report: InvocationReport) => void;
  } = {},
) {
  const source = new SqsEventSource({
    sqs: clients.sqs,
    queueUrl: resources.queueUrl,
    queueArn: resources.queueArn,
    region: LOCAL_REGION,
    functionName: "enricher-test",
    handlers,
    batchSize: options.batchSize ?? 10,
    ...(options.batchingWindowMs === undefined ? {} : { batchingWindowMs: options.batchingWindowMs }),
    functionTimeoutMs: options.functionTimeoutMs ?? 10_000,
    waitTimeSeconds: 1,
    ...(options.onInvocation ? { onInvocation: options.onInvocation } : {}),
  });
  sources.push(source);
  source.start();
  return source;
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 20_000,
): Promise<void> {
  const giveUpAt = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function drainAll(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const reply = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    if (!reply.Messages?.length) return bodies;
    bodies.push(...reply.Messages.map((message) => message.Body ?? ""));
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("SqsEventSource", () => {
  it("invokes the handler with Lambda's SQSEvent shape, at most batchSize records at a time, and deletes what succeeded", async () => {
    const resources = await freshQueue();
    const bodies = Array.from({ length: 7 }, (_, index) => JSON.stringify({ incident_id: String(index) }));
    await sendBodies(clients.sqs, resources.queueUrl, bodies);
    const events: SQSEvent[] = [];
    const handler: SqsBatchHandler = async (event) => {
      events.push(event);
      return { batchItemFailures: [] };
    };
    startSource(resources, [handler, handler], { batchSize: 3 });

    await until(() => events.flatMap((event) => event.Records).length >= 7, "all 7 records");
    await until(async () => (await queueDepth(clients.sqs, resources.queueUrl)).inFlight === 0, "deletes");

    expect(Math.max(...events.map((event) => event.Records.length))).toBeLessThanOrEqual(3);
    const records = events.flatMap((event) => event.Records);
    expect(records.map((record) => record.body).sort()).toEqual([...bodies].sort());
    const first = records[0];
    expect(first).toMatchObject({
      eventSource: "aws:sqs",
      eventSourceARN: resources.queueArn,
      awsRegion: LOCAL_REGION,
      attributes: { ApproximateReceiveCount: "1" },
    });
    expect(first?.messageId).toMatch(/.+/);
    expect(first?.receiptHandle).toMatch(/.+/);
    expect(Number(first?.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(await queueDepth(clients.sqs, resources.queueUrl)).toEqual({
      visible: 0,
      inFlight: 0,
      delayed: 0,
    });
  });

  it("gathers up to 100 records into one invocation within the batching window, and deletes them all", async () => {
    const resources = await freshQueue();
    const bodies = Array.from({ length: 45 }, (_, index) => `b${index}`);
    await sendBodies(clients.sqs, resources.queueUrl, bodies);
    const events: SQSEvent[] = [];
    const handler: SqsBatchHandler = async (event) => {
      events.push(event);
    };
    startSource(resources, [handler], { batchSize: 100, batchingWindowMs: 1_000 });

    await until(() => events.flatMap((event) => event.Records).length >= 45, "all 45 records");
    await until(async () => (await queueDepth(clients.sqs, resources.queueUrl)).inFlight === 0, "deletes");

    expect(events[0]?.Records).toHaveLength(45); // more than one receive's 10, in one invocation
    expect(await queueDepth(clients.sqs, resources.queueUrl)).toEqual({
      visible: 0,
      inFlight: 0,
      delayed: 0,
    });
  });

  it("hands a batch over without waiting out the window once told no more messages are coming (--once)", async () => {
    const resources = await freshQueue();
    const bodies = Array.from({ length: 25 }, (_, index) => `w${index}`);
    await sendBodies(clients.sqs, resources.queueUrl, bodies);
    const events: SQSEvent[] = [];
    const handler: SqsBatchHandler = async (event) => {
      events.push(event);
    };
    // A window far longer than the wait below: only endBatchingWindow() lets the batch go sooner.
    const source = startSource(resources, [handler], { batchSize: 100, batchingWindowMs: 300_000 });
    source.endBatchingWindow();

    await until(() => events.length > 0, "an invocation before the window ends");
    expect(events[0]?.Records.map((record) => record.body).sort()).toEqual([...bodies].sort());
  });

  it("refuses more than 10 records an invocation without a batching window, as Lambda does", () => {
    expect(
      () =>
        new SqsEventSource({
          sqs: clients.sqs,
          queueUrl: "http://127.0.0.1/q",
          queueArn: "arn:aws:sqs:us-east-1:000000000000:q",
          region: LOCAL_REGION,
          functionName: "enricher-test",
          handlers: [async () => undefined],
          batchSize: 11,
          functionTimeoutMs: 1_000,
        }),
    ).toThrow(/batching window/);
  });

  it("never runs more invocations at once than its maximum concurrency", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 30 });
    await sendBodies(
      clients.sqs,
      resources.queueUrl,
      Array.from({ length: 12 }, (_, index) => `m${index}`),
    );
    let running = 0;
    let mostAtOnce = 0;
    let handled = 0;
    const slowHandler: SqsBatchHandler = async (event) => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      await delay(150);
      running -= 1;
      handled += event.Records.length;
    };
    startSource(resources, [slowHandler, slowHandler, slowHandler], { batchSize: 1 });

    await until(() => handled === 12, "12 records handled");
    expect(mostAtOnce).toBe(3);
  });

  it("deletes the records that succeeded and lets the reported failures reappear after the visibility timeout", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 1 });
    await sendBodies(clients.sqs, resources.queueUrl, ["ok-1", "fail-once", "ok-2"]);
    const receipts: { body: string; receiveCount: string }[] = [];
    const failedOnce = new Set<string>();
    const handler: SqsBatchHandler = async (event): Promise<SQSBatchResponse> => {
      const batchItemFailures = [];
      for (const record of event.Records) {
        receipts.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
        if (record.body === "fail-once" && !failedOnce.has(record.body)) {
          failedOnce.add(record.body);
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    };
    startSource(resources, [handler, handler], { batchSize: 10 });

    await until(() => receipts.length === 4, "the failed record to come back");
    await until(async () => (await queueDepth(clients.sqs, resources.queueUrl)).inFlight === 0, "deletes");

    expect(receipts.filter((receipt) => receipt.body === "ok-1")).toHaveLength(1);
    expect(receipts.filter((receipt) => receipt.body === "ok-2")).toHaveLength(1);
    expect(receipts.filter((receipt) => receipt.body === "fail-once").map((r) => r.receiveCount)).toEqual([
      "1",
      "2",
    ]);
    expect(await queueDepth(clients.sqs, resources.queueUrl)).toEqual({
      visible: 0,
      inFlight: 0,
      delayed: 0,
    });
  });

  it("leaves a record that always fails to the queue's redrive policy, which moves it to the DLQ after maxReceiveCount receives", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 1, maxReceiveCount: 2 });
    await sendBodies(clients.sqs, resources.queueUrl, ["poison", "fine"]);
    const poisonReceives: string[] = [];
    const handler: SqsBatchHandler = async (event) => ({
      batchItemFailures: event.Records.filter((record) => record.body === "poison").map((record) => {
        poisonReceives.push(record.attributes.ApproximateReceiveCount);
        return { itemIdentifier: record.messageId };
      }),
    });
    startSource(resources, [handler, handler]);

    await until(
      async () => (await queueDepth(clients.sqs, resources.deadLetterQueueUrl)).visible === 1,
      "the DLQ",
    );
    expect(poisonReceives).toEqual(["1", "2"]);
    expect(await drainAll(clients.sqs, resources.deadLetterQueueUrl)).toEqual(["poison"]);
    expect(await queueDepth(clients.sqs, resources.queueUrl)).toEqual({
      visible: 0,
      inFlight: 0,
      delayed: 0,
    });
  });

  it("treats a thrown error as a failure of the whole batch, like Lambda", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 1 });
    await sendBodies(clients.sqs, resources.queueUrl, ["a", "b"]);
    const reports: InvocationReport[] = [];
    let calls = 0;
    const handler: SqsBatchHandler = async () => {
      calls += 1;
      if (calls === 1) throw new TypeError("boom");
    };
    // Both records in one batch: the rule is about the records the handler did not name as failed.
    startSource(resources, [handler, handler], {
      batchSize: 10,
      onInvocation: (report) => reports.push(report),
    });
    await until(() => reports.some((report) => report.succeeded.length > 0), "the retry to succeed");

    const first = reports[0];
    expect(first?.batchError).toBeInstanceOf(TypeError);
    expect(first?.succeeded).toEqual([]);
    expect(first?.failed).toHaveLength(first?.records.length ?? -1);
  });

  it("fails the whole batch when the response names a record that is not in it", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 1 });
    await sendBodies(clients.sqs, resources.queueUrl, ["x"]);
    const reports: InvocationReport[] = [];
    let calls = 0;
    const handler: SqsBatchHandler = async () => {
      calls += 1;
      return calls === 1 ? { batchItemFailures: [{ itemIdentifier: "not-a-message-id" }] } : undefined;
    };
    startSource(resources, [handler, handler], { onInvocation: (report) => reports.push(report) });
    await until(() => reports.length === 2, "the second delivery");

    expect(reports[0]?.batchError).toBeInstanceOf(InvalidBatchResponseError);
    expect(reports[0]?.failed).toHaveLength(1);
    expect(reports[1]?.records[0]?.attributes.ApproximateReceiveCount).toBe("2");
    expect(reports[1]?.succeeded).toHaveLength(1);
  });

  it("gives the handler its remaining time and fails a batch that runs past the function timeout", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 1 });
    await sendBodies(clients.sqs, resources.queueUrl, ["slow"]);
    const reports: InvocationReport[] = [];
    const remaining: number[] = [];
    let calls = 0;
    const handler: SqsBatchHandler = async (_event, context) => {
      calls += 1;
      remaining.push(context.getRemainingTimeInMillis());
      if (calls === 1) await delay(600);
    };
    startSource(resources, [handler, handler], {
      functionTimeoutMs: 300,
      onInvocation: (report) => reports.push(report),
    });
    await until(() => reports.length === 2, "the retry after the timeout");

    expect(remaining[0]).toBeGreaterThan(0);
    expect(remaining[0]).toBeLessThanOrEqual(300);
    expect(reports[0]?.batchError).toBeInstanceOf(FunctionTimeoutError);
    expect(reports[1]?.succeeded).toHaveLength(1);
  });

  it("on stop() receives nothing new but lets the in-flight invocation finish and settle its records", async () => {
    const resources = await freshQueue({ visibilityTimeoutSeconds: 30 });
    await sendBodies(clients.sqs, resources.queueUrl, ["in-flight"]);
    let started = false;
    let finished = false;
    const handler: SqsBatchHandler = async () => {
      started = true;
      await delay(300);
      finished = true;
    };
    const source = startSource(resources, [handler, handler]);
    await until(() => started, "the invocation to start");
    await source.stop();
    expect(finished).toBe(true);
    await sendBodies(clients.sqs, resources.queueUrl, ["after-stop"]);
    await delay(200);

    expect(source.activeInvocations).toBe(0);
    // The in-flight record was deleted (not left to reappear), and nothing sent after stop was taken.
    expect(await queueDepth(clients.sqs, resources.queueUrl)).toEqual({
      visible: 1,
      inFlight: 0,
      delayed: 0,
    });
  });
});
