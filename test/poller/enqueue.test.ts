// Queueing incident versions on the real embedded SQS (fauxqs); partial batch failures are injected
// through the SDK middleware stack, the accepted entries still reach fauxqs.
import type { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnqueueError, enqueueIncidentVersions } from "../../functions/poller/enqueue.ts";
import type { IncidentSummary } from "../../functions/shared/cortex/api.ts";
import { type AwsHarness, countVersions, drainQueue, startAwsHarness } from "../support/aws.ts";
import { rejectBatchEntries } from "./faults.ts";

const incidents = (count: number): IncidentSummary[] =>
  Array.from({ length: count }, (_, i) => ({
    incident_id: String(500 + i),
    modification_time: 1_700_000_000_000 + i,
    creation_time: 1_700_000_000_000,
    severity: "high",
    status: "new",
  }));

let aws: AwsHarness;
beforeAll(async () => {
  aws = await startAwsHarness();
});
afterAll(async () => {
  await aws?.close();
});

describe("enqueueIncidentVersions", () => {
  it("sends one message per version, at most 10 to a batch call, each entry id unique in its batch", async () => {
    const { sqs, queueUrl } = await aws.createPipeline();
    const batches: string[][] = [];
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "SendMessageBatchCommand") {
          const input = args.input as SendMessageBatchCommand["input"];
          batches.push((input.Entries ?? []).map((e) => e.Id ?? ""));
        }
        return next(args);
      },
      { step: "initialize", name: "recordBatches" },
    );

    const sent = await enqueueIncidentVersions(incidents(23), { sqs, queueUrl, polledAt: 1_700_000_100_000 });

    expect(sent).toBe(23);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 3]);
    for (const ids of batches) expect(new Set(ids).size).toBe(ids.length);
    const messages = await drainQueue(sqs, queueUrl);
    expect(countVersions(messages).size).toBe(23);
    expect(messages.every((m) => m.polled_at === 1_700_000_100_000)).toBe(true);
  });

  it("resends only the entries a batch reports as failed, with growing waits", async () => {
    const { sqs, queueUrl } = await aws.createPipeline();
    const seen = new Map<string, number>();
    rejectBatchEntries(sqs, (entry) => {
      const n = (seen.get(entry.MessageBody ?? "") ?? 0) + 1;
      seen.set(entry.MessageBody ?? "", n);
      return entry.Id === "v3" && n <= 3;
    });
    const waits: number[] = [];

    const sent = await enqueueIncidentVersions(incidents(10), {
      sqs,
      queueUrl,
      polledAt: 1,
      baseDelayMs: 50,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

    expect(sent).toBe(10);
    expect(waits).toEqual([50, 100, 200]);
    const counts = countVersions(await drainQueue(sqs, queueUrl));
    expect(counts.size).toBe(10);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("throws naming the versions still rejected after the last attempt", async () => {
    const { sqs, queueUrl } = await aws.createPipeline();
    rejectBatchEntries(sqs, (entry) => (entry.MessageBody ?? "").includes('"incident_id":"512"'));

    const attempt = enqueueIncidentVersions(incidents(15), {
      sqs,
      queueUrl,
      polledAt: 1,
      maxAttempts: 3,
      sleep: async () => {},
    });
    await expect(attempt).rejects.toBeInstanceOf(EnqueueError);
    await expect(attempt).rejects.toThrow(/incident 512@1700000000012: InternalError/);
    await expect(attempt).rejects.toThrow(/still failing after 3 attempts/);
  });

  it("does not retry an entry SQS rejects as the sender's fault", async () => {
    const { sqs, queueUrl } = await aws.createPipeline();
    let calls = 0;
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "SendMessageBatchCommand") return next(args);
        calls++;
        const input = args.input as SendMessageBatchCommand["input"];
        const [first, ...rest] = input.Entries ?? [];
        const result = await next({ ...args, input: { ...input, Entries: rest } });
        const output = result.output as { Failed?: unknown[] };
        output.Failed = [
          { Id: first?.Id, Code: "InvalidMessageContents", SenderFault: true, Message: "bad" },
        ];
        return result;
      },
      { step: "initialize", name: "rejectAsSenderFault" },
    );

    await expect(
      enqueueIncidentVersions(incidents(5), { sqs, queueUrl, polledAt: 1, sleep: async () => {} }),
    ).rejects.toThrow(/sender fault/);
    expect(calls).toBe(1);
  });
});
