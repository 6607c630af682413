// `ops backfill` against the Cortex emulator and the embedded AWS endpoint: it queues a past range with
// the poller's own walk, resumes after an interruption, skips what is archived, never touches the live
// cursor, and runs next to a live poller without either queueing a version the other queued.
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { CURSOR_KEY } from "../../functions/shared/cursor.ts";
import { countVersions, drainQueue } from "../support/aws.ts";
import { type OpsHarness, startOpsHarness } from "./ops-harness.ts";

const HOUR = 3_600_000;
let h: OpsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const duplicates = (counts: Map<string, number>) => [...counts].filter(([, n]) => n > 1);

async function cursorObject(harness: OpsHarness) {
  const key = { Bucket: harness.resources.bucket, Key: CURSOR_KEY };
  const head = await harness.clients.s3.send(new HeadObjectCommand(key));
  const body = await (await harness.clients.s3.send(new GetObjectCommand(key))).Body?.transformToString();
  return { etag: head.ETag, body };
}

describe("ops backfill", () => {
  it("queues the range before the live cursor once, skips archived versions and leaves the cursor alone", async () => {
    h = await startOpsHarness({ incidents: 60, lookbackMs: 2 * HOUR });
    const pollerStart = new Date(Date.now() - 2 * HOUR - 1).toISOString();
    await h.poll();
    const live = await drainQueue(h.clients.sqs, h.resources.queueUrl);
    const cursorBefore = await cursorObject(h);
    const from = new Date(Date.now() - 7 * HOUR).toISOString();
    const half = new Date(Date.now() - 4 * HOUR).toISOString();

    const first = await h.ops(["backfill", "--from", from, "--to", half, "--calls-per-second", "50"]);
    expect(first.code).toBe(0);
    // The real enricher archives what the first job queued.
    const firstArchived = await h.enrichQueue();
    expect(firstArchived).toBeGreaterThan(0);

    // Up to where the poller's first run began: the two never walk the same range.
    const second = await h.ops(["backfill", "--from", from, "--to", pollerStart, "--calls-per-second", "50"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`${firstArchived} already archived`);
    const secondQueued = await drainQueue(h.clients.sqs, h.resources.queueUrl);
    expect(duplicates(countVersions([...live, ...secondQueued]))).toEqual([]);
    // Every incident's current version is queued by exactly one of the poller and the two backfills.
    expect(live.length + firstArchived + secondQueued.length).toBe(h.emulator.control.incidents().length);
    expect(await cursorObject(h)).toEqual(cursorBefore);
  });

  it("resumes an interrupted backfill from its checkpoint, queueing each version once", async () => {
    h = await startOpsHarness({ incidents: 250, lookbackMs: HOUR / 60 });
    await h.poll();
    await drainQueue(h.clients.sqs, h.resources.queueUrl);
    const from = new Date(Date.now() - 7 * HOUR).toISOString();
    const stop = new AbortController();
    const interrupted = await h.ops(["backfill", "--from", from, "--calls-per-second", "50"], {
      stopSignal: stop.signal,
      // Ctrl-C as soon as the first page is reported.
      onStdout: (text) => {
        if (text.includes("backfill: ")) stop.abort();
      },
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toContain("interrupted; run the same command again to resume");
    const before = await drainQueue(h.clients.sqs, h.resources.queueUrl);
    expect(before).toHaveLength(100);

    const resumed = await h.ops(["backfill", "--from", from, "--calls-per-second", "50"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(", resuming at ");
    const after = await drainQueue(h.clients.sqs, h.resources.queueUrl);
    const counts = countVersions([...before, ...after]);
    expect(duplicates(counts)).toEqual([]);
    const inRange = h.emulator.control
      .incidents()
      .filter((i) => i.modification_time < Date.now() - HOUR / 60);
    expect(counts.size).toBeGreaterThanOrEqual(inRange.length - 1);

    const again = await h.ops(["backfill", "--from", from]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("was completed at");
    expect(await drainQueue(h.clients.sqs, h.resources.queueUrl)).toEqual([]);
  });

  it("runs while the live poller polls a changing tenant: no version queued twice", async () => {
    h = await startOpsHarness({ incidents: 250, lookbackMs: HOUR, live: { intervalMs: 20 } });
    const harness = h;
    const pollerStart = new Date(Date.now() - HOUR - 1).toISOString();
    await harness.poll();
    let polling = true;
    let lastPoll: Awaited<ReturnType<OpsHarness["poll"]>> | undefined;
    const poller = (async () => {
      while (polling) lastPoll = await harness.poll();
    })();
    const run = await harness.ops([
      "backfill",
      "--from",
      new Date(Date.now() - 7 * HOUR).toISOString(),
      "--to",
      pollerStart,
      "--calls-per-second",
      "20",
    ]);
    polling = false;
    await poller;
    expect(run.code).toBe(0);
    const messages = await drainQueue(harness.clients.sqs, harness.resources.queueUrl);
    expect(messages.length).toBeGreaterThan(200);
    expect(duplicates(countVersions(messages))).toEqual([]);
    // The cursor is exactly what the poller last saved: the backfill never wrote it.
    const stored = JSON.parse((await cursorObject(harness)).body ?? "{}");
    expect(stored.modificationTime).toBe(lastPoll?.cursorAfter.modificationTime);
  });
});
