// The whole pipeline, as in fault-injection.test.ts, in a second short run for the two hostile-tenant cases that
// the all-faults run cannot assert: its first poll runs fail (get_incidents answers 5xx to every attempt), and
// then a third of all bodies arrive truncated while the enricher's budget is exactly the tenant's limit. Nothing
// else is injected, so the emulator's log must show zero 429s: every retry waited for a budget slot of its own.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEVERITY_RANK, severityRank } from "../../functions/shared/cortex/vocabulary.ts";
import type { EmulatedIncident, IncidentVersion } from "../../local/emulator/index.ts";
import {
  type ArchivedObject,
  FIRST_RUN_LOOKBACK_MS,
  PipelineHarness,
  type ReceivedNotification,
} from "../../local/pipeline-harness.ts";
import type { LocalLambdaContext } from "../../local/runner/event-source.ts";
import type { PollRunReport } from "../../local/runner/pipeline.ts";
import type { RunSummary } from "../../local/runner/summary.ts";

const BACKLOG = 30;
const FAILING_RUNS = 2;
/**
 * The edge incident sits this far inside the first run's look-back window. The runner waits 2 s after each failed
 * poll, so the first successful run starts at least 4 s after the first run: a start computed again then
 * ("now minus look-back") lies past it, while the start pinned by the first run does not.
 */
const EDGE_MS = 1_500;
const TRUNCATED_SHARE = 0.3;

let harness: PipelineHarness;
let summary: RunSummary;
let edge: EmulatedIncident;
let versions: IncidentVersion[];
let archive: ArchivedObject[];
let notifications: ReceivedNotification[];
let deadLetters: number;

beforeAll(async () => {
  harness = await PipelineHarness.start({
    seed: 1515,
    incidents: BACKLOG,
    // Time-compressed and tight: the enricher's budget is set to exactly the emulator's limit. At 120x a
    // slot's 2% guard is 2 ms, less than this host's jitter under a full test run; 25 ms is what the real
    // budget's 240 ms guard stands for here (the jitter is not compressed).
    extraDataLimit: { requests: 10, windowMs: 500 },
    pacingMinGuardMs: 25,
    maxConcurrency: 2,
    batchSize: 5,
    functionTimeoutMs: 2_500,
    visibilityTimeoutSeconds: 2,
    enricherDeadlineMarginMs: 800,
    throttleBackoffSeconds: 1,
    pollerTimeoutMs: 10_000,
    client: { requestTimeoutMs: 1_000, maxAttempts: 5, retryBaseDelayMs: 20, retryMaxDelayMs: 100 },
  });
  const { control } = harness.emulator;
  control.setFaults({
    serverErrorRate: { rate: 1, endpoint: "get_incidents" },
    truncatedBodyRate: TRUNCATED_SHARE,
  });
  const poll = harness.createPoller();
  let runs = 0;
  const scheduledPoll = async (context: LocalLambdaContext): Promise<PollRunReport> => {
    runs += 1;
    if (runs === 1) {
      // Critical, so losing it would also lose a notification.
      const time = Date.now() - FIRST_RUN_LOOKBACK_MS + EDGE_MS;
      [edge] = control.addIncidents([
        { creation_time: time, modification_time: time, severity: "critical" },
      ]) as [EmulatedIncident];
    }
    if (runs === FAILING_RUNS + 1) control.setFaults({ serverErrorRate: 0 });
    return poll(context);
  };
  summary = await harness.runOnce({
    poll: scheduledPoll,
    enricherHandlers: [harness.createEnricher(), harness.createEnricher()],
  });
  control.clearFaults();
  versions = control.versions();
  archive = await harness.archive();
  notifications = await harness.notifications();
  deadLetters = await harness.deadLetterCount();
}, 60_000);

afterAll(async () => {
  await harness?.close();
});

const archivedVersions = () => new Set(archive.map((o) => `${o.incidentId}/${o.contentModificationTime}`));

describe("the pipeline when its first poll runs fail and bodies arrive truncated under a tight budget", () => {
  it("actually met both faults: failing first runs and retried truncated bodies", () => {
    const failed = harness.polls.slice(0, FAILING_RUNS);
    expect(failed.map((p) => p.error !== undefined)).toEqual([true, true]);
    const firstSuccess = harness.polls.find((p) => p.error === undefined);
    // A start computed again at the first successful run would lie after the edge incident: the case has teeth.
    expect(firstSuccess?.startedAt ?? 0).toBeGreaterThan(edge.modification_time + FIRST_RUN_LOOKBACK_MS);
    const truncated = harness.emulator.control
      .requests()
      .filter((r) => r.fault === "truncatedBody" && r.endpoint === "get_incident_extra_data");
    expect(truncated.length).toBeGreaterThanOrEqual(5);
    const retries = harness.attempts.filter(
      (a) => a.path.includes("get_incident_extra_data") && a.attempt > 1,
    );
    expect(retries.length).toBeGreaterThanOrEqual(5);
  });

  it("counts every request sent against the API budget, retries included: zero 429s", () => {
    const throttled = harness.emulator.control.requests().filter((r) => r.status === 429);
    expect(throttled).toEqual([]);
    expect(summary.throttled).toBe(0);
  });

  it("reads the oldest part of the first look-back window although the first runs failed", () => {
    expect(archivedVersions().has(`${edge.incident_id}/${edge.modification_time}`)).toBe(true);
    expect(notifications.filter((n) => n.incidentId === edge.incident_id)).toHaveLength(1);
  });

  it("drains completely and archives every version the tenant has", () => {
    expect(summary).toMatchObject({ problem: null, exit_code: 0, left_in_queue: 0 });
    expect(deadLetters).toBe(0);
    const archived = archivedVersions();
    const missing = versions.filter((v) => !archived.has(`${v.incident_id}/${v.modification_time}`));
    expect(missing).toEqual([]);
    expect(versions.length).toBe(BACKLOG + 1);
  });

  it("sends every due notification exactly once, and no other", () => {
    const due = versions.filter((v) => severityRank(v.severity, "high") >= SEVERITY_RANK.high);
    expect(due.length).toBeGreaterThan(1);
    const sent = notifications.map((n) => n.incidentId).sort();
    expect(sent).toEqual(due.map((v) => v.incident_id).sort());
  });
});
