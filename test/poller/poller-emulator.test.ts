// The poller end to end over real protocols: the real Cortex client against the Cortex tenant emulator
// (HTTP on 127.0.0.1), and the real embedded AWS endpoint (fauxqs) for the cursor and the queue.
// One injected clock drives emulator, client and poller; every API request costs msPerRequest of it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createPollerHandler,
  type PollerDependencies,
  type PollRunSummary,
} from "../../functions/poller/create-handler.ts";
import type { CortexCredentials } from "../../functions/shared/cortex/api.ts";
import { CortexClient } from "../../functions/shared/cortex/client.ts";
import { CortexApiError } from "../../functions/shared/cortex/errors.ts";
import { IncidentCursorStore } from "../../functions/shared/cursor.ts";
import type { IncidentVersionMessage } from "../../functions/shared/queue-message.ts";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { type AwsHarness, countVersions, drainQueue, startAwsHarness } from "../support/aws.ts";
import { lambdaContext } from "../support/lambda-context.ts";
import { recordingMetrics, silentLogger } from "../support/powertools.ts";
import { crashOnCursorWrite, InjectedCrash, rejectBatchEntries } from "./faults.ts";

const START = Date.UTC(2026, 10, 20, 12, 0, 0);
const HOUR = 3_600_000;

let aws: AwsHarness;
beforeAll(async () => {
  aws = await startAwsHarness();
});
afterAll(async () => {
  await aws?.close();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

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
}

async function setup(options: { backlog?: number; msPerRequest?: number } = {}): Promise<Setup> {
  let t = START;
  const clock = {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
  const emulator = await startCortexEmulator({
    incidents: options.backlog ?? 0,
    now: clock.now,
    // The emulator's rate limits are not under test here; the injected clock makes requests look instant.
    rateLimits: { tenant: { requests: 1_000_000, windowMs: 1_000 } },
  });
  const clients: CortexClient[] = [];
  const clientWith = (credentials: CortexCredentials) => {
    const client = new CortexClient({
      baseUrl: emulator.url,
      product: "xdr",
      credentials,
      now: clock.now,
      sleep: async () => {},
      observer: () => clock.advance(options.msPerRequest ?? 1_000),
    });
    clients.push(client);
    return client;
  };
  const client = clientWith({
    apiKey: emulator.keys.standard.key,
    apiKeyId: emulator.keys.standard.id,
    authType: "standard",
  });
  cleanups.push(async () => {
    for (const c of clients) await c.close();
    await emulator.close();
  });
  const pipeline = await aws.createPipeline();
  const base: PollerDependencies = {
    ...pipeline,
    incidents: client,
    filters: [],
    firstRunLookbackMs: 24 * HOUR,
    logger: silentLogger(),
    metrics: recordingMetrics().metrics,
    now: clock.now,
    deadlineMarginMs: 1_000,
    sleep: async () => {},
  };
  const run = (budgetMs = 15 * 60_000, overrides: Partial<PollerDependencies> = {}) =>
    createPollerHandler({ ...base, ...overrides })({}, lambdaContext(clock.now, budgetMs));
  return {
    emulator,
    clock,
    s3: pipeline.s3,
    sqs: pipeline.sqs,
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
