// The late-arrival window over real protocols: the real Cortex client against the emulator listing chosen
// versions late (HTTP on 127.0.0.1), the cursor and queue on the embedded AWS endpoint (fauxqs). One
// injected clock drives emulator, client and poller, so ten minutes of polling take no real time.
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { PollerDependencies } from "../../functions/poller/create-handler.ts";
import { CURSOR_KEY } from "../../functions/shared/cursor.ts";
import { PollerMetric } from "../../functions/shared/metric-names.ts";
import type { IncidentVersionMessage } from "../../functions/shared/queue-message.ts";
import { startClockedTenant } from "../../local/emulator/client.ts";
import { drainQueue } from "../support/aws.ts";
import { fakeClock } from "../support/clock.ts";
import { recordingMetrics } from "../support/powertools.ts";
import { crashOnCursorWrite, InjectedCrash } from "./faults.ts";
import { awsHarnessPerFile, pollerDependencies, runPoller } from "./fixtures.ts";

const START = Date.UTC(2026, 11, 1, 9, 0, 0);
const SECOND = 1_000;
const MINUTE = 60_000;
const WINDOW = 5 * MINUTE;
/** Polls start this often (the stack's default interval). */
const POLL_EVERY = 20 * SECOND;

const aws = awsHarnessPerFile();

interface Warning {
  message: string;
  details: Record<string, unknown>;
}

/** `msPerRequest`: how much of the injected clock each API request takes. */
async function setup(backlog: number, msPerRequest = 100) {
  const tenant = await startClockedTenant({
    clock: fakeClock(START),
    seed: "late-window",
    incidents: backlog,
    msPerRequest,
  });
  aws.afterThisTest(() => tenant.close());
  const { clock, emulator, client } = tenant;
  const pipeline = await aws.createPipeline();
  const recorded = recordingMetrics();
  const warnings: Warning[] = [];
  const logger = {
    info: () => {},
    error: () => {},
    warn: (message: string, details: Record<string, unknown> = {}) => warnings.push({ message, details }),
  } as unknown as PollerDependencies["logger"];
  const deps = pollerDependencies(pipeline, {
    incidents: client,
    logger,
    metrics: recorded.metrics,
    now: clock.now,
    lateWindowMs: WINDOW,
  });
  const messages: IncidentVersionMessage[] = [];
  const poll = async (budgetMs = 60 * SECOND, overrides: Partial<PollerDependencies> = {}) =>
    runPoller({ ...deps, ...overrides }, budgetMs);
  /** Polls on the schedule until `at`, every `every` ms; `beforePoll` changes the tenant first. */
  const pollUntil = async (at: number, beforePoll: (tick: number) => void = () => {}, every = POLL_EVERY) => {
    for (let tick = 0; clock.now() < at; tick++) {
      const next = clock.now() + every;
      beforePoll(tick);
      await poll();
      messages.push(...(await drainQueue(pipeline.sqs, pipeline.queueUrl)));
      clock.advance(Math.max(0, next - clock.now()));
    }
  };
  const metricValues = (name: string): number[] =>
    recorded.published.flatMap((doc: Record<string, unknown>) => {
      const value = doc[name];
      return value === undefined ? [] : Array.isArray(value) ? (value as number[]) : [value as number];
    });
  const cursorObjectBytes = async () => {
    const object = await pipeline.s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: CURSOR_KEY }));
    return (await object.Body?.transformToString())?.length ?? 0;
  };
  return { clock, emulator, pipeline, poll, pollUntil, messages, warnings, metricValues, cursorObjectBytes };
}

type Setup = Awaited<ReturnType<typeof setup>>;

const key = (v: { incident_id: string; modification_time: number }) =>
  `${v.incident_id}@${v.modification_time}`;

function countsOf(messages: readonly IncidentVersionMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) counts.set(key(m), (counts.get(key(m)) ?? 0) + 1);
  return counts;
}

/** One change to each of `perTick` incidents of the stream (never the ones a test lists late). */
function streamChanges(s: Setup, streamIds: readonly string[], perTick: number) {
  let next = 0;
  return () => {
    for (let i = 0; i < perTick; i++) {
      s.clock.advance(50);
      s.emulator.control.modifyIncident(streamIds[next++ % streamIds.length] ?? "", { listingDelayMs: 0 });
    }
  };
}

describe("poller: the late-arrival window", () => {
  it("queues versions listed 30 s, 2 min and 4 min late exactly once each, while newer versions keep arriving, and delays none listed at once", async () => {
    const s = await setup(40);
    const ids = s.emulator.control.incidents().map((i) => i.incident_id);
    const [a, b, c] = ids;
    const stream = streamChanges(s, ids.slice(3), 3);
    await s.poll();
    s.messages.push(...(await drainQueue(s.pipeline.sqs, s.pipeline.queueUrl)));

    const late = new Map<string, number>();
    const delays: [string | undefined, number][] = [
      [a, 30 * SECOND],
      [b, 2 * MINUTE],
      [c, 4 * MINUTE],
    ];
    await s.pollUntil(START + 12 * MINUTE, (tick) => {
      stream();
      if (tick === 3) {
        for (const [id, delay] of delays) {
          const changed = s.emulator.control.modifyIncident(id ?? "", {
            addAlerts: 1,
            listingDelayMs: delay,
          });
          late.set(key(changed), delay);
        }
      }
    });

    const counts = countsOf(s.messages);
    // Every version the tenant had, each exactly once: the late ones and every stream version.
    expect([...counts.keys()].sort()).toEqual(s.emulator.control.versions().map(key).sort());
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    for (const version of late.keys()) expect(counts.get(version)).toBe(1);

    expect(s.metricValues(PollerMetric.LateVersions).reduce((sum, n) => sum + n, 0)).toBe(3);
    const lateness = s.metricValues(PollerMetric.LateVersionLatenessSeconds).sort((x, y) => x - y);
    expect(lateness).toHaveLength(3);
    for (const [i, delay] of [30, 120, 240].entries()) {
      expect(lateness[i]).toBeGreaterThanOrEqual(delay);
      expect(lateness[i]).toBeLessThanOrEqual(delay + POLL_EVERY / SECOND + 5);
    }
    // A version listed at once went out at the next poll: the window delays nothing.
    const onTime = s.messages.filter((m) => !late.has(key(m)) && m.modification_time > START);
    expect(onTime.length).toBeGreaterThan(100);
    for (const m of onTime)
      expect(m.polled_at - m.modification_time).toBeLessThanOrEqual(POLL_EVERY + 5 * SECOND);
    expect(s.warnings).toEqual([]);
  });

  it("reports a version later than the window, still queues it from the band behind it, and an incident's next change archives its newest state", async () => {
    const s = await setup(40);
    const ids = s.emulator.control.incidents().map((i) => i.incident_id);
    const [beyond, lost] = ids;
    const stream = streamChanges(s, ids.slice(2), 2);
    await s.poll();
    let beyondVersion = "";
    let lostVersion = "";
    let lostAlerts = 0;
    await s.pollUntil(START + 14 * MINUTE, (tick) => {
      stream();
      if (tick === 1) {
        beyondVersion = key(
          s.emulator.control.modifyIncident(beyond ?? "", { addAlerts: 1, listingDelayMs: 5.5 * MINUTE }),
        );
        // Later than the window and its band: the walk never reads it.
        const lostChange = s.emulator.control.modifyIncident(lost ?? "", {
          addAlerts: 1,
          listingDelayMs: 10 * MINUTE,
        });
        lostVersion = key(lostChange);
        lostAlerts = lostChange.alert_count;
      }
    });
    const counts = countsOf(s.messages);
    expect(counts.get(beyondVersion)).toBe(1);
    expect(s.metricValues(PollerMetric.LateBeyondWindow).reduce((sum, n) => sum + n, 0)).toBe(1);
    expect(s.warnings.map((w) => w.message)).toEqual([
      "A version was listed later than the late-arrival window; queued now, but widen the window",
    ]);
    expect(s.warnings[0]?.details).toMatchObject({ incident_id: beyond });
    expect(counts.has(lostVersion)).toBe(false);

    // The lost version's incident changes again: that version is queued, and the enricher fetches the
    // incident as it is then, so the archive holds its newest state (the lost change included).
    const next = s.emulator.control.modifyIncident(lost ?? "", { addAlerts: 1, listingDelayMs: 0 });
    await s.pollUntil(s.clock.now() + 1);
    expect(countsOf(s.messages).get(key(next))).toBe(1);
    expect(next.alert_count).toBe(lostAlerts + 1);
  });

  it("keeps the cursor object bounded under a steady 10,000 versions an hour", async () => {
    const s = await setup(1_500);
    const ids = s.emulator.control.incidents().map((i) => i.incident_id);
    // 10,000 an hour is 167 a poll at one poll a minute (fewer polls keep the test short; the record
    // depends on the versions in the window, not on how often it is read).
    const stream = streamChanges(s, ids, 167);
    await s.poll();
    await s.pollUntil(START + 12 * MINUTE, stream, MINUTE);
    const atTwelve = await s.cursorObjectBytes();
    await s.pollUntil(START + 30 * MINUTE, stream, MINUTE);
    const atThirty = await s.cursorObjectBytes();
    // Only the 6 minutes the walk reads back: about 1,000 incidents, some 30 bytes each.
    expect(atThirty).toBeLessThan(48 * 1024);
    expect(atThirty).toBeLessThan(atTwelve * 1.25);
    const counts = countsOf(s.messages);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);

  it("loses no late version when runs stop early at their time budget or crash between send and save", async () => {
    // A second a request, so a budget of a few requests is seconds long: the client caps each request's
    // real timeout at the time left, and a loaded machine must not turn that into a timeout.
    const s = await setup(300, 1_000);
    const ids = s.emulator.control.incidents().map((i) => i.incident_id);
    const stream = streamChanges(s, ids.slice(10), 30);
    await s.poll(10 * MINUTE);
    const late: string[] = [];
    let crashed = 0;
    let stoppedEarly = 0;
    for (let tick = 0; s.clock.now() < START + 12 * MINUTE; tick++) {
      const next = s.clock.now() + POLL_EVERY;
      stream();
      if (tick < 10) {
        late.push(
          key(
            s.emulator.control.modifyIncident(ids[tick] ?? "", { listingDelayMs: (tick + 1) * 20 * SECOND }),
          ),
        );
      }
      if (tick % 4 === 2) {
        // A crash after a page was queued, before its cursor and record were saved: the page of new
        // versions, or (every other time) the second save, in the window's re-read when it sent anything.
        crashOnCursorWrite(s.pipeline.s3, tick % 8 === 2 ? 1 : 2);
        await s.poll().catch((error: unknown) => {
          if (!(error instanceof InjectedCrash)) throw error;
          crashed++;
        });
        s.pipeline.s3.middlewareStack.remove("crashOnCursorWrite");
      } else if (tick % 4 === 0) {
        // A budget of about three requests: the run stops early, in the new versions or in the window.
        const run = await s.poll(4_500);
        stoppedEarly += run.stoppedEarly ? 1 : 0;
      } else {
        await s.poll();
      }
      s.messages.push(...(await drainQueue(s.pipeline.sqs, s.pipeline.queueUrl)));
      s.clock.advance(Math.max(0, next - s.clock.now()));
    }
    await s.pollUntil(s.clock.now() + 2 * MINUTE);
    expect(crashed).toBeGreaterThan(0);
    expect(stoppedEarly + s.metricValues(PollerMetric.LateWindowShortened).length).toBeGreaterThan(0);
    const counts = countsOf(s.messages);
    expect([...counts.keys()].sort()).toEqual(s.emulator.control.versions().map(key).sort());
    for (const version of late) expect(counts.get(version)).toBeGreaterThanOrEqual(1);
    // A crash sends at most the page it died on again; a stop at the budget sends nothing twice.
    expect([...counts.values()].every((n) => n <= 2)).toBe(true);
  }, 120_000);
});
