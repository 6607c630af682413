// Benchmark 4: one poller run enqueueing a 10,000-incident backlog: wall time, get_incidents pages, and
// SQS calls per incident against the floor of one SendMessageBatch per 10 messages.

import { PipelineHarness } from "../local/pipeline-harness.ts";
import type { BenchTable } from "./report.ts";

const BACKLOG = 10_000;

export interface PollerBacklogResult {
  table: BenchTable;
  /** Poller wall time per enqueued version, in a run with a backlog. */
  pollerMsPerVersion: number;
  /** Wall time of a run that finds nothing new. */
  idleRunMs: number;
  sqsCallsPerVersion: number;
}

export async function benchPollerBacklog(): Promise<PollerBacklogResult> {
  const harness = await PipelineHarness.start({
    seed: 4,
    incidents: BACKLOG,
    extraDataLimit: { requests: 10, windowMs: 60_000 },
    // Raised so the tenant-wide limit does not pace the walk: this measures the poller, not the limit.
    tenantLimit: { requests: 100_000, windowMs: 1_000 },
    functionTimeoutMs: 60_000,
    visibilityTimeoutSeconds: 360,
    enricherDeadlineMarginMs: 1_000,
  });
  try {
    const poll = harness.createPoller();
    const timeoutMs = 15 * 60_000;
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    const report = await poll({
      functionName: "poller",
      awsRequestId: "bench-poller-backlog",
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
    const elapsedMs = performance.now() - started;
    const pages = harness.emulator.control.stats().endpoints.get_incidents.calls;
    // A run that finds nothing new: the fixed cost of every scheduled run (cursor read, one page).
    const idleStarted = performance.now();
    const idle = await poll({
      functionName: "poller",
      awsRequestId: "bench-poller-idle",
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
    const idleRunMs = performance.now() - idleStarted;
    const sqs = harness.calls.poller.sqs;
    const sends = sqs.count("SendMessageBatchCommand");
    const allSqs = sqs.total();
    const perIncident = sends / report.messagesSent;
    return {
      pollerMsPerVersion: elapsedMs / report.messagesSent,
      idleRunMs,
      sqsCallsPerVersion: allSqs / report.messagesSent,
      table: {
        title: "4. Poller: enqueueing a 10,000-incident backlog",
        method: `One poller run (the real handler, the project's Cortex client, SQS on the embedded endpoint) against an emulator holding ${BACKLOG.toLocaleString("en-US")} incidents, tenant rate limit raised. SQS calls are counted by an SDK middleware on the poller's client.`,
        columns: [
          "incidents enqueued",
          "time",
          "per 1,000",
          "get_incidents calls",
          "SendMessageBatch calls",
          "all SQS calls",
          "SQS calls per incident",
          "floor",
        ],
        rows: [
          [
            report.messagesSent,
            `${(elapsedMs / 1000).toFixed(2)} s`,
            `${((elapsedMs / report.messagesSent) * 1000).toFixed(0)} ms`,
            pages,
            sends,
            allSqs,
            perIncident.toFixed(4),
            "0.1000",
          ],
        ],
        notes: [
          `Ratio to the floor (one SendMessageBatch per 10 messages): ${(perIncident / 0.1).toFixed(2)}.`,
          "Everything runs on loopback: against a real tenant each get_incidents page also costs its network round trip.",
          `A following run that found nothing new took ${idleRunMs.toFixed(0)} ms and sent ${idle.messagesSent} messages.`,
          `The run read ${report.pagesRead} pages and ${report.incidentsSeen.toLocaleString("en-US")} incident versions; it ${report.stoppedEarly ? "stopped early at its time budget" : "finished within one run"}.`,
        ],
      },
    };
  } finally {
    await harness.close();
  }
}
