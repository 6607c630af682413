// The poller end to end over real protocols: the real Cortex client against the Cortex tenant emulator
// (HTTP on 127.0.0.1), and the real embedded AWS endpoint (fauxqs) for the cursor and the queue.
// One injected clock drives emulator, client and poller; every API request costs msPerRequest of it.
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { PollerDependencies, PollRunSummary } from "../../functions/poller/create-handler.ts";
import type { CortexCredentials } from "../../functions/shared/cortex/api.ts";
import type { CortexClient } from "../../functions/shared/cortex/client.ts";
import { CortexApiError } from "../../functions/shared/cortex/errors.ts";
import { IncidentCursorStore } from "../../functions/shared/cursor.ts";
import { PollerMetric } from "../../functions/shared/metric-names.ts";
import type { IncidentVersionMessage } from "../../functions/shared/queue-message.ts";
import { startClockedTenant } from "../../local/emulator/client.ts";
import type { CortexEmulator } from "../../local/emulator/index.ts";
import { countVersions, drainQueue } from "../support/aws.ts";
import { fakeClock } from "../support/clock.ts";
import { recordingMetrics, silentLogger } from "../support/powertools.ts";
import { crashOnCursorWrite, InjectedCrash, rejectBatchEntries } from "./faults.ts";
import { awsHarnessPerFile, pollerDependencies, runPoller } from "./fixtures.ts";

const START = Date.UTC(2026, 10, 20, 12, 0, 0);

const aws = awsHarnessPerFile();

interface Setup {
  emulator: CortexEmulator;
  clock: { now: () => number; advance: (ms: number) => void };
  run(budgetMs?: number, overrides?: Partial<PollerDependencies>): Promise<PollRunSummary>;
  runUntilDrained(budgetMs?: number): Promise<PollRunSummary[]>;
  drain(): Promise<IncidentVersionMessage[]>;
  storedCursor(): Promise<{ modificationTime: number; idsAtCursor: string[] } | undefined>;
  /** Every incident's current version in the emulator, as "id@modification_time". */
  currentVersions(): string[];
  clientWith(credentials: CortexCredentials): CortexClient;
  sqs: PollerDependencies["sqs"];
  s3: PollerDependencies["s3"];
  bucket: string;
}

async function setup(options: { backlog?: number; msPerRequest?: number } = {}): Promise<Setup> {
  const tenant = await startClockedTenant({
    clock: fakeClock(START),
    incidents: options.backlog ?? 0,
    msPerRequest: options.msPerRequest ?? 1_000,
  });
  aws.afterThisTest(() => tenant.close());
  const { clock, emulator, clientWith } = tenant;
  const pipeline = await aws.createPipeline();
  const base = pollerDependencies(pipeline, {
    incidents: tenant.client,
    metrics: recordingMetrics().metrics,
    now: clock.now,
  });
  const run = (budgetMs = 15 * 60_000, overrides: Partial<PollerDependencies> = {}) =>
    runPoller({ ...base, ...overrides }, budgetMs);
  return {
    emulator,
    clock,
    s3: pipeline.s3,
    sqs: pipeline.sqs,
    bucket: pipeline.bucket,
    run,
    async runUntilDrained(budgetMs) {
      const runs: PollRunSummary[] = [];
      for (let i = 0; i < 50; i++) {
        const summary = await run(budgetMs);
        runs.push(summary);
        if (!summary.stoppedEarly) return runs;
      }
      throw new RangeError("the backlog did not drain in 50 runs");
    },
    drain: () => drainQueue(pipeline.sqs, pipeline.queueUrl),
    storedCursor: async () =>
      (await new IncidentCursorStore({ s3: pipeline.s3, bucket: pipeline.bucket }).load())?.cursor,
    currentVersions: () => emulator.control.incidents().map((i) => `${i.incident_id}@${i.modification_time}`),
    clientWith,
  };
}

function expectEachExactlyOnce(counts: Map<string, number>, versions: string[]): void {
  expect([...counts.keys()].sort()).toEqual([...versions].sort());
  expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
}

describe("poller against the Cortex emulator and the embedded AWS endpoint", () => {
  it("queues each version of a 1,000-incident backlog exactly once over successive runs", async () => {
    const s = await setup({ backlog: 1_000 });
    s.clock.advance(60_000);

    // 4.5 s of budget at 1 s per request: a few pages per run.
    const runs = await s.runUntilDrained(4_500);

    expect(runs.length).toBeGreaterThan(1);
    expect(s.currentVersions()).toHaveLength(1_000);
    expectEachExactlyOnce(countVersions(await s.drain()), s.currentVersions());
  });

  it("does not lose any of 250 incidents that share one millisecond across page boundaries", async () => {
    const s = await setup({ backlog: 120 });
    s.emulator.control.addBurst({ count: 250, modificationTime: START - 30 * 60_000 });
    s.clock.advance(60_000);
    s.emulator.control.addIncidents(30);

    await s.runUntilDrained(10_000);

    const counts = countVersions(await s.drain());
    expect(counts.size).toBe(400);
    expectEachExactlyOnce(counts, s.currentVersions());
  });

  it("queues every version that existed at a run's end, in that run or the next, while incidents change under it", async () => {
    const s = await setup({ backlog: 600 });
    s.clock.advance(60_000);
    // The tenant modifies 5 incidents after each page it serves, so some move behind the walk.
    s.emulator.control.setFaults({ modifyBetweenPages: 5 });
    await s.run();
    const existingAtEndOfRun1 = s.currentVersions();
    s.emulator.control.clearFaults();
    await s.run();

    const queued = countVersions(await s.drain());
    expect(existingAtEndOfRun1.filter((version) => !queued.has(version))).toEqual([]);
    expect(existingAtEndOfRun1.length).toBe(600);
  });

  it("loses nothing when a run crashes after queueing a page and before saving its cursor", async () => {
    const s = await setup({ backlog: 450 });
    s.clock.advance(60_000);
    crashOnCursorWrite(s.s3, 2);

    await expect(s.run()).rejects.toBeInstanceOf(InjectedCrash);
    const afterCrash = await s.storedCursor();
    await s.run();

    const counts = countVersions(await s.drain());
    expect([...counts.keys()].sort()).toEqual(s.currentVersions().sort());
    // Only the page whose cursor save died (at most 100 versions) is queued a second time.
    const twice = [...counts.values()].filter((n) => n === 2).length;
    expect(twice).toBeGreaterThan(0);
    expect(twice).toBeLessThanOrEqual(100);
    expect([...counts.values()].every((n) => n <= 2)).toBe(true);
    expect(afterCrash).toBeDefined();
  });

  it("quarantines a listed item without a numeric modification_time and queues every other one, without retrying", async () => {
    const s = await setup({ backlog: 150 });
    s.clock.advance(60_000);
    const ids = s.emulator.control.incidents().map((incident) => incident.incident_id);
    const bad = ids[40] ?? "";
    s.emulator.control.setFaults({ malformedListing: { incidentIds: [bad], modificationTime: "missing" } });
    const { metrics, published } = recordingMetrics();
    const errors: string[] = [];
    const logger = silentLogger();
    logger.error = ((message: string) => {
      errors.push(message);
    }) as typeof logger.error;

    const summary = await s.run(undefined, { metrics, logger });

    expect(summary.stoppedEarly).toBe(false);
    const queued = (await s.drain()).map((message) => message.incident_id);
    expect(queued.sort()).toEqual(ids.filter((id) => id !== bad).sort());
    // One request per page, and one re-read of the page with the broken item: then it is set aside.
    const listings = s.emulator.control.requests().filter((r) => r.endpoint === "get_incidents");
    expect(listings.every((r) => r.status === 200)).toBe(true);
    expect(listings.length).toBeLessThanOrEqual(3);
    const kept = await s.s3.send(
      new ListObjectsV2Command({ Bucket: s.bucket, Prefix: `state/quarantine/listing/${bad}/` }),
    );
    expect(kept.Contents).toHaveLength(1);
    const object = await s.s3.send(new GetObjectCommand({ Bucket: s.bucket, Key: kept.Contents?.[0]?.Key }));
    const raw = JSON.parse((await object.Body?.transformToString()) ?? "{}");
    expect(raw.incident_id).toBe(bad);
    expect("modification_time" in raw).toBe(false);
    expect(errors).toEqual([
      "A get_incidents item fails the schema; kept it raw in quarantine and carried on with the rest",
    ]);
    expect(published[0]?.[PollerMetric.QuarantinedIncidents]).toBe(1);
    // The cursor comes from the good items only.
    expect(Number.isFinite(summary.cursorAfter.modificationTime)).toBe(true);
  });

  it("saves its progress at a tiny time budget and the next run continues where it stopped", async () => {
    const s = await setup({ backlog: 300 });
    s.clock.advance(60_000);

    const first = await s.run(2_500);
    expect(first).toMatchObject({ pagesRead: 1, messagesSent: 100, stoppedEarly: true });
    expect(await s.storedCursor()).toEqual(first.cursorAfter);

    const second = await s.run(2_500);
    expect(second.cursorBefore).toEqual(first.cursorAfter);
    // The page repeats the cursor millisecond, whose handled ids the client skips.
    expect(second.messagesSent).toBeGreaterThan(90);

    await s.runUntilDrained(2_500);
    expectEachExactlyOnce(countVersions(await s.drain()), s.currentVersions());
  });

  it.each([
    {
      status: 401,
      kind: "bad_key",
      cause: /rejected the key \(401 from .*\)\. Check the API key and key id/,
    },
    { status: 402, kind: "license", cause: /lacks the license this API needs \(402/ },
    { status: 403, kind: "permission", cause: /lacks the RBAC permission .* \(403\)/ },
  ])(
    "fails on $status with a message naming the cause and leaves the cursor unchanged",
    async ({ status, kind, cause }) => {
      const s = await setup({ backlog: 150 });
      s.clock.advance(60_000);
      await s.run();
      const before = await s.storedCursor();
      await s.drain();
      s.emulator.control.addIncidents(20);

      const key = s.emulator.keys.standard;
      let incidents = s.clientWith({ apiKey: key.key, apiKeyId: key.id, authType: "standard" });
      if (status === 401)
        incidents = s.clientWith({ apiKey: "not-the-key", apiKeyId: key.id, authType: "standard" });
      if (status === 402) s.emulator.control.setKeyEntitlements(key.id, { license: false });
      if (status === 403) s.emulator.control.setKeyEntitlements(key.id, { permission: false });

      const failure = s.run(undefined, { incidents });
      await expect(failure).rejects.toBeInstanceOf(CortexApiError);
      await expect(failure).rejects.toMatchObject({ kind, status });
      await expect(failure).rejects.toThrow(cause);
      await expect(failure).rejects.not.toThrow("not-the-key");
      expect(await s.storedCursor()).toEqual(before);
      expect(await s.drain()).toEqual([]);
    },
  );

  it("retries batch entries the queue rejects, dropping none", async () => {
    const s = await setup({ backlog: 250 });
    s.clock.advance(60_000);
    const attempts = new Map<string, number>();
    // Every message is rejected on its first attempt, every fourth also on its second.
    rejectBatchEntries(s.sqs, (entry) => {
      const body = entry.MessageBody ?? "";
      const n = (attempts.get(body) ?? 0) + 1;
      attempts.set(body, n);
      const { incident_id: id } = JSON.parse(body) as { incident_id: string };
      return n === 1 || (n === 2 && Number(id) % 4 === 0);
    });

    const summary = await s.run();

    expect(summary.messagesSent).toBe(250);
    expectEachExactlyOnce(countVersions(await s.drain()), s.currentVersions());
    expect([...attempts.values()].every((n) => n >= 2)).toBe(true);
  });
});
