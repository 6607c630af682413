// The poller run against an in-memory tenant (same keyset semantics as the client) and the real
// embedded AWS endpoint (fauxqs) for the cursor object and the queue.
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import {
  createPollerHandler,
  type PollerDependencies,
  type PollRunSummary,
} from "../../functions/poller/create-handler.ts";
import { EnqueueError } from "../../functions/poller/enqueue.ts";
import { CortexApiError, type CortexErrorKind } from "../../functions/shared/cortex/errors.ts";
import { CURSOR_KEY, IncidentCursorStore } from "../../functions/shared/cursor.ts";
import type { IncidentVersionMessage } from "../../functions/shared/queue-message.ts";
import { countVersions, drainQueue } from "../support/aws.ts";
import { type FakeClock, fakeClock } from "../support/clock.ts";
import { lambdaContext } from "../support/lambda-context.ts";
import { recordingMetrics, silentLogger } from "../support/powertools.ts";
import { crashOnCursorWrite, InjectedCrash, rejectBatchEntries } from "./faults.ts";
import { awsHarnessPerFile, HOUR, pollerDependencies, runPoller } from "./fixtures.ts";
import { InMemoryTenant, versionKey } from "./in-memory-tenant.ts";

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

const aws = awsHarnessPerFile();

/** A test clock: time moves only when a test moves it. */
interface Setup {
  tenant: InMemoryTenant;
  clock: FakeClock;
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrl: string;
  published: Record<string, unknown>[];
  /** Runs the poller once with `budgetMs` of Lambda time left (default: plenty). */
  run(budgetMs?: number, overrides?: Partial<PollerDependencies>): Promise<PollRunSummary>;
  /** Everything queued since the last call. */
  drain(): Promise<IncidentVersionMessage[]>;
  storedCursor(): Promise<{ modificationTime: number; idsAtCursor: string[] } | undefined>;
}

async function setup(options: { pageSize?: number; msPerPage?: number } = {}): Promise<Setup> {
  const clock = fakeClock(T0 + HOUR);
  const tenant = new InMemoryTenant({ pageSize: options.pageSize ?? 100, now: clock.now });
  // Each page costs msPerPage of the run's time budget.
  tenant.beforePage = () => clock.advance(options.msPerPage ?? 1_000);
  const pipeline = await aws.createPipeline();
  const { metrics, published } = recordingMetrics();
  const base = pollerDependencies(pipeline, {
    incidents: tenant,
    firstRunLookbackMs: 2 * HOUR,
    metrics,
    now: clock.now,
  });
  return {
    tenant,
    clock,
    ...pipeline,
    published,
    run: (budgetMs = 15 * 60_000, overrides = {}) => runPoller({ ...base, ...overrides }, budgetMs),
    drain: () => drainQueue(pipeline.sqs, pipeline.queueUrl),
    storedCursor: async () =>
      (await new IncidentCursorStore({ s3: pipeline.s3, bucket: pipeline.bucket }).load())?.cursor,
  };
}

/** Runs until a run finishes without stopping early; returns every run's summary. */
async function runUntilDrained(s: Setup, budgetMs?: number): Promise<PollRunSummary[]> {
  const runs: PollRunSummary[] = [];
  for (let i = 0; i < 50; i++) {
    const summary = await s.run(budgetMs);
    runs.push(summary);
    if (!summary.stoppedEarly) return runs;
  }
  throw new RangeError("the backlog did not drain in 50 runs");
}

function addBacklog(tenant: InMemoryTenant, count: number, firstTime: number, idPrefix = ""): void {
  for (let i = 0; i < count; i++) {
    tenant.put({ incident_id: `${idPrefix}${1000 + i}`, modification_time: firstTime + i * 7 });
  }
}

describe("poller", () => {
  it("queues each of 1,000 backlog incident versions exactly once over successive runs", async () => {
    const s = await setup();
    addBacklog(s.tenant, 1_000, T0);

    // 4.5 s of budget and 1 s per page: a few pages per run, so the backlog takes several runs.
    const runs = await runUntilDrained(s, 4_500);
    const counts = countVersions(await s.drain());

    expect(runs.length).toBeGreaterThan(1);
    expect([...counts.keys()].sort()).toEqual(s.tenant.currentVersions().sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(runs.reduce((sum, r) => sum + r.messagesSent, 0)).toBe(1_000);
  });

  it("does not lose incidents that share a millisecond across a page boundary", async () => {
    const s = await setup();
    addBacklog(s.tenant, 30, T0);
    for (let i = 0; i < 250; i++)
      s.tenant.put({ incident_id: `same-${i}`, modification_time: T0 + HOUR / 2 });
    addBacklog(s.tenant, 30, T0 + HOUR / 2 + 1, "after-");
    // Small budgets: runs also end inside the shared millisecond, so the saved id set carries over.
    await runUntilDrained(s, 2_500);

    const counts = countVersions(await s.drain());
    expect(counts.size).toBe(310);
    expect([...counts.keys()].sort()).toEqual(s.tenant.currentVersions().sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("queues every version that existed at a run's end, in that run or the next, when incidents change while it pages", async () => {
    const s = await setup();
    addBacklog(s.tenant, 300, T0);
    let modifiedAt = T0 + HOUR / 2;
    s.tenant.beforePage = (page) => {
      s.clock.advance(1_000);
      if (page === 2) {
        // Already queued (page 1) and not yet reached: both move to the end of the order.
        for (const id of ["1000", "1050", "1150", "1250"])
          s.tenant.modify(id, modifiedAt++, { status: "under_investigation" });
      }
      if (page === 3) s.tenant.put({ incident_id: "new-during-walk", modification_time: modifiedAt++ });
    };

    await s.run();
    const existingAtEndOfRun1 = s.tenant.currentVersions();
    s.tenant.beforePage = () => s.clock.advance(1_000);
    s.tenant.modify("1299", modifiedAt++);
    await s.run();

    const queued = countVersions(await s.drain());
    for (const version of existingAtEndOfRun1) expect(queued.has(version), version).toBe(true);
    expect(queued.has(versionKey({ incident_id: "1299", modification_time: modifiedAt - 1 }))).toBe(true);
  });

  it("loses nothing when it crashes after queueing a page and before saving its cursor", async () => {
    const s = await setup();
    addBacklog(s.tenant, 450, T0);
    // Write 1 pins the first run's start; writes 2 and 3 save pages 1 and 2.
    crashOnCursorWrite(s.s3, 4);

    await expect(s.run()).rejects.toBeInstanceOf(InjectedCrash);
    const cursorAfterCrash = await s.storedCursor();
    await s.run();

    const counts = countVersions(await s.drain());
    expect([...counts.keys()].sort()).toEqual(s.tenant.currentVersions().sort());
    // Only the page whose cursor save crashed is queued twice.
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    expect(duplicates).toBe(100);
    // The crashed run saved pages 1 and 2 before dying on page 3's save.
    expect(cursorAfterCrash?.modificationTime).toBe(T0 + 199 * 7);
  });

  it("saves its progress at a tiny time budget and the next run continues where it stopped", async () => {
    const s = await setup();
    addBacklog(s.tenant, 250, T0);

    // 2.5 s budget, 1 s margin, 1 s per page: one page, then it stops.
    const first = await s.run(2_500);
    expect(first).toMatchObject({ pagesRead: 1, messagesSent: 100, stoppedEarly: true });
    expect(await s.storedCursor()).toEqual(first.cursorAfter);

    const second = await s.run(2_500);
    expect(second.cursorBefore).toEqual(first.cursorAfter);
    expect(second.messagesSent).toBe(100);

    const counts = countVersions(await s.drain());
    expect(counts.size).toBe(200);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it("reads nothing when less than the margin is left", async () => {
    const s = await setup();
    addBacklog(s.tenant, 10, T0);
    const summary = await s.run(500);
    expect(summary).toMatchObject({ pagesRead: 0, messagesSent: 0, stoppedEarly: true });
    expect(s.tenant.queries).toBe(0);
  });

  it.each<[CortexErrorKind, number, string]>([
    ["bad_key", 401, "Cortex API rejected the key (401): check the API key and key id in the secret."],
    ["license", 402, "Cortex API says the tenant lacks a license for this API (402)."],
    ["permission", 403, "Cortex API key lacks the RBAC permission to read incidents (403)."],
  ])(
    "fails with the client's message and leaves the cursor untouched on %s (%i)",
    async (kind, status, message) => {
      const s = await setup();
      addBacklog(s.tenant, 150, T0);
      await s.run();
      const before = await s.storedCursor();
      s.tenant.put({ incident_id: "later", modification_time: T0 + HOUR / 2 });
      s.tenant.failure = new CortexApiError(kind, message, { status });

      const failure = s.run();
      await expect(failure).rejects.toBeInstanceOf(CortexApiError);
      await expect(failure).rejects.toThrow(message);
      expect(await s.storedCursor()).toEqual(before);
      expect((await s.drain()).map(versionKey)).not.toContain(`later@${T0 + HOUR / 2}`);
    },
  );

  it("stops early, keeping its progress, when the deadline cuts a Cortex request short", async () => {
    const s = await setup();
    addBacklog(s.tenant, 250, T0);
    s.tenant.beforePage = (page) => {
      s.clock.advance(1_000);
      if (page === 2) {
        s.clock.advance(60_000);
        s.tenant.failure = new CortexApiError("timeout", "get_incidents did not answer before the deadline.");
      }
    };

    const summary = await s.run(30_000);
    expect(summary).toMatchObject({ pagesRead: 1, stoppedEarly: true });
    expect(await s.storedCursor()).toEqual(summary.cursorAfter);
  });

  it("fails the run when a transient Cortex error outlasts the client's retries before the deadline", async () => {
    const s = await setup();
    addBacklog(s.tenant, 50, T0);
    s.tenant.failure = new CortexApiError("server_error", "Cortex API answered 500 five times.", {
      status: 500,
    });
    const startedAt = s.clock.now();
    await expect(s.run()).rejects.toThrow("Cortex API answered 500 five times.");
    // Nothing was queued, so the cursor is only the first run's pinned look-back start.
    expect(await s.storedCursor()).toEqual({ modificationTime: startedAt - 2 * HOUR, idsAtCursor: [] });
  });

  it("retries batch entries the queue rejects and drops none", async () => {
    const s = await setup();
    addBacklog(s.tenant, 95, T0);
    const attempts = new Map<string, number>();
    const order = new Map<string, number>();
    // Every third message is rejected on its first two attempts.
    rejectBatchEntries(s.sqs, (entry) => {
      const body = entry.MessageBody ?? "";
      const n = (attempts.get(body) ?? 0) + 1;
      attempts.set(body, n);
      if (!order.has(body)) order.set(body, order.size);
      return (order.get(body) ?? 0) % 3 === 2 && n <= 2;
    });

    const summary = await s.run();
    const counts = countVersions(await s.drain());
    expect(summary.messagesSent).toBe(95);
    expect(counts.size).toBe(95);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect([...attempts.values()].filter((n) => n === 3)).toHaveLength(31);
  });

  it("fails the run without moving the cursor past a version the queue keeps rejecting", async () => {
    const s = await setup();
    addBacklog(s.tenant, 250, T0);
    let rejecting = true;
    rejectBatchEntries(
      s.sqs,
      (entry) => rejecting && (entry.MessageBody ?? "").includes('"incident_id":"1150"'),
    );

    const failure = s.run();
    await expect(failure).rejects.toBeInstanceOf(EnqueueError);
    await expect(failure).rejects.toThrow(/incident 1150@/);
    // Page 1 (1000..1099) is saved; page 2 holds 1150 and is not.
    expect((await s.storedCursor())?.modificationTime).toBe(T0 + 99 * 7);

    rejecting = false;
    await s.run();
    const counts = countVersions(await s.drain());
    expect([...counts.keys()].sort()).toEqual(s.tenant.currentVersions().sort());
  });

  it("starts a first run at now minus the look-back and pins that start even when nothing is found", async () => {
    const s = await setup();
    const now = s.clock.now();
    const empty = await s.run();
    expect(empty.cursorBefore).toEqual({ modificationTime: now - 2 * HOUR, idsAtCursor: [] });
    expect(await s.storedCursor()).toEqual(empty.cursorBefore);

    s.tenant.put({ incident_id: "too-old", modification_time: now - 3 * HOUR });
    s.tenant.put({ incident_id: "recent", modification_time: now - HOUR });
    s.clock.advance(3 * HOUR);
    await s.run();
    expect((await s.drain()).map((m) => m.incident_id)).toEqual(["recent"]);
  });

  it("keeps the first run's look-back start while the first runs fail, so the oldest part is still read", async () => {
    const s = await setup();
    const firstStart = s.clock.now() - 2 * HOUR;
    s.tenant.put({ incident_id: "early", modification_time: firstStart + 10 * 60_000 });
    s.tenant.failure = new CortexApiError("server_error", "Cortex API answered 503");
    await expect(s.run()).rejects.toThrow("503");
    s.clock.advance(HOUR);
    await expect(s.run()).rejects.toThrow("503");

    s.tenant.failure = undefined;
    s.clock.advance(HOUR);
    const summary = await s.run();
    expect(summary.cursorBefore.modificationTime).toBe(firstStart);
    expect((await s.drain()).map((m) => m.incident_id)).toEqual(["early"]);
  });

  it("fails the run, naming the cursor object, when the stored cursor is unreadable", async () => {
    const s = await setup();
    addBacklog(s.tenant, 10, T0);
    await s.s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: CURSOR_KEY, Body: "not json" }));

    await expect(s.run()).rejects.toThrow(`s3://${s.bucket}/state/cursor.json is not JSON`);
    expect(s.tenant.queries).toBe(0);
  });

  it("keeps the cursor of an overlapping run that got further, never moving it backwards", async () => {
    const s = await setup();
    addBacklog(s.tenant, 300, T0);
    const slowRun = createPollerHandler({
      s3: s.s3,
      sqs: s.sqs,
      bucket: s.bucket,
      queueUrl: s.queueUrl,
      incidents: {
        // While the slow run reads its first (and only) page, a second run drains everything.
        async *incidentsModifiedSince(cursor, options) {
          for await (const page of s.tenant.incidentsModifiedSince(cursor, options)) {
            await s.run();
            yield page;
            return;
          }
        },
      },
      filters: [],
      firstRunLookbackMs: 2 * HOUR,
      logger: silentLogger(),
      metrics: recordingMetrics().metrics,
      now: s.clock.now,
    });

    const slow = await slowRun({}, lambdaContext(s.clock.now, 15 * 60_000));
    const end = { modificationTime: T0 + 299 * 7, idsAtCursor: ["1299"] };
    expect(slow.cursorAfter).toEqual(end);
    expect(await s.storedCursor()).toEqual(end);
  });

  it("passes the configured filters and the run's deadline to the incident source", async () => {
    const s = await setup();
    const filters = [{ field: "status", operator: "in", value: ["new", "under_investigation"] }];
    const start = s.clock.now();
    await s.run(60_000, { filters });
    expect(s.tenant.lastOptions).toMatchObject({
      filters,
      deadline: start + 60_000 - 1_000,
      onMalformedIncidents: expect.any(Function),
      onRestrictedIncidents: expect.any(Function),
    });
  });

  it("builds each message from the incident summary and the time it was polled", async () => {
    const s = await setup();
    const summary = {
      incident_id: "77",
      modification_time: T0,
      creation_time: T0 - 5_000,
      severity: "critical",
      manual_severity: "high",
      status: "new",
      incident_name: null,
      alert_count: 12,
    };
    s.tenant.put({ ...summary, hosts: ["host-1:agent-1"] });
    const polledAt = s.clock.now() + 1_000; // the page arrives after its 1 s
    await s.run();
    const [message, ...rest] = await s.drain();
    expect(rest).toEqual([]);
    // Exactly the summary's fields and when it was polled: nothing else (the hosts stay out).
    expect(message).toEqual({ ...summary, polled_at: polledAt });
  });

  it("publishes pages, incidents, messages, cursor lag, duration and backlog once per run", async () => {
    const s = await setup();
    addBacklog(s.tenant, 150, T0);
    await s.run(2_500);

    expect(s.published).toHaveLength(1);
    const emf = s.published[0] as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] };
    };
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe("CortexIncidentExport");
    expect(emf).toMatchObject({
      PagesRead: 1,
      IncidentsSeen: 100,
      MessagesSent: 100,
      CursorLagSeconds: (s.clock.now() - (T0 + 99 * 7)) / 1000,
      RunDurationMs: 1_000,
      BacklogRemaining: 1,
    });
  });

  it("reports no lag for a quiet tenant whose last change is long past", async () => {
    const s = await setup();
    addBacklog(s.tenant, 3, T0);
    await s.run(60_000);
    s.clock.advance(6 * 3_600_000); // six quiet hours: nothing new in the tenant
    await s.run(60_000);

    const lastRun = s.published.at(-1) as Record<string, unknown>;
    expect(lastRun.MessagesSent).toBe(0);
    expect(lastRun.BacklogRemaining).toBe(0);
    // Behind only by the run itself, not by the six hours since the tenant's last change.
    expect(lastRun.CursorLagSeconds).toBe(Number(lastRun.RunDurationMs) / 1000);
    expect(lastRun.CursorLagSeconds).toBeLessThan(60);
  });
});
