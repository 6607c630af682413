// Benchmark 1: how much of the extra-data budget the pipeline actually uses. The emulator enforces a
// time-compressed limit, the enricher is configured with exactly that budget, and a backlog of versions
// is drained by the whole pipeline (poller, queue, two enricher instances); the emulator's request log
// gives the sustained call rate. The same run supplies the per-version figures of the cost model.

import { paceInterval } from "../functions/shared/pacing.ts";
import { enricherSizing } from "../lib/config.ts";
import type { RequestLogEntry } from "../local/emulator/index.ts";
import { PipelineHarness } from "../local/pipeline-harness.ts";
import type { SqsBatchHandler } from "../local/runner/event-source.ts";
import { type BenchTable, median } from "./report.ts";

const BACKLOG = 200;
const INSTANCES = 2;
/** 10 calls per 2 s: the real 10 per minute, 30 times faster. */
const LIMIT = { requests: 10, windowMs: 2_000 };

export interface ApiBudgetResult {
  table: BenchTable;
  versions: number;
  /** Enricher wall time (what Lambda bills) per archived version, stretched back to the real budget. */
  enricherMsPerVersion: number;
  enricherInvocationsPerVersion: number;
  sqsRequestsPerVersion: number;
  s3PutsPerVersion: number;
  s3GetsPerVersion: number;
  archiveBytesPerVersion: number;
  notifiedFraction: number;
}

/** The SQS and S3 requests of a run that AWS bills per request: the cost model's inputs. */
export function billedRequests(harness: PipelineHarness): {
  sqsRequests: number;
  s3Puts: number;
  s3Gets: number;
} {
  const { poller, enricher, runner } = harness.calls;
  return {
    sqsRequests:
      poller.sqs.count("SendMessageBatchCommand") +
      runner.sqs.receivesWithMessages +
      runner.sqs.count("DeleteMessageBatchCommand") +
      enricher.sqs.total(),
    s3Puts: poller.s3.count("PutObjectCommand") + enricher.s3.count("PutObjectCommand"),
    s3Gets: poller.s3.count("GetObjectCommand") + enricher.s3.count("GetObjectCommand"),
  };
}

/** Sums the wall time of every invocation (what Lambda bills) of a handler. */
export function timed(
  handler: SqsBatchHandler,
  totals: { ms: number; invocations: number },
): SqsBatchHandler {
  return async (event, context) => {
    const started = performance.now();
    try {
      return await handler(event, context);
    } finally {
      totals.ms += performance.now() - started;
      totals.invocations += 1;
    }
  };
}

/**
 * For each call the enricher made, how long until the emulator logged its request: time the call spent in
 * this process (event-loop stalls included) before reaching the server, which the pacer cannot see.
 */
function sendLags(
  calls: readonly { incidentId: string; at: number }[],
  requests: readonly RequestLogEntry[],
): number[] {
  return calls.flatMap((call) => {
    const arrival = requests.find(
      (r) =>
        r.time >= call.at &&
        String((r.requestData as { incident_id?: unknown }).incident_id) === call.incidentId,
    );
    return arrival === undefined ? [] : [arrival.time - call.at];
  });
}

interface BudgetScenario {
  backlog: number;
  limit: { requests: number; windowMs: number };
}

/** 10 calls per 2 s: the real 10 per minute, 30x faster; and a gentler 6x run to show what compression does to jitter. */
const SCENARIOS: readonly BudgetScenario[] = [
  { backlog: BACKLOG, limit: LIMIT },
  { backlog: 50, limit: { requests: 10, windowMs: 10_000 } },
];

interface ScenarioRun {
  row: (string | number)[];
  fraction: number;
  throttled: number;
  summaryLine: string;
  figures: Omit<ApiBudgetResult, "table">;
}

async function runScenario({ backlog, limit }: BudgetScenario): Promise<ScenarioRun> {
  const budgetPerMinute = (limit.requests * 60_000) / limit.windowMs;
  const sizing = enricherSizing({
    batchSize: 5,
    maxConcurrency: INSTANCES,
    budgetPerMinute,
    marginSeconds: 2,
  });
  const slotMs = paceInterval(budgetPerMinute, INSTANCES);
  const harness = await PipelineHarness.start({
    seed: 1,
    incidents: backlog,
    extraDataLimit: limit,
    maxConcurrency: INSTANCES,
    batchSize: 5,
    // Sized by the stack's formula (lib/config.ts), with a margin as compressed as the budget.
    functionTimeoutMs: sizing.timeoutSeconds * 1000,
    visibilityTimeoutSeconds: 300,
    enricherDeadlineMarginMs: 1_000,
    pollerTimeoutMs: 60_000,
  });
  try {
    const totals = { ms: 0, invocations: 0 };
    const summary = await harness.runOnce({
      poll: harness.createPoller(),
      enricherHandlers: Array.from({ length: INSTANCES }, () => timed(harness.createEnricher(), totals)),
    });
    const archive = await harness.archive();
    const notifications = await harness.notifications();
    const extraData = harness.emulator.control
      .requests()
      .filter((r) => r.endpoint === "get_incident_extra_data");
    const accepted = extraData.filter((r) => r.status === 200);
    const throttled = extraData.filter((r) => r.status === 429).length;
    const first = accepted[0]?.time ?? 0;
    const last = accepted.at(-1)?.time ?? 0;
    const elapsedMs = last - first;
    // Each instance paces its own evenly spaced calls: with c instances, N calls span (N - c) intervals.
    const spans = accepted.length - INSTANCES;
    const ratePerSecond = spans > 0 ? (spans * 1000) / elapsedMs : 0;
    const budgetPerSecond = (limit.requests * 1000) / limit.windowMs;
    const fraction = ratePerSecond / budgetPerSecond;
    const versions = archive.length;
    const lags = sendLags(harness.extraDataCalls, extraData);

    const { sqsRequests, s3Puts, s3Gets } = billedRequests(harness);
    const archiveBytes = archive.reduce((sum, object) => sum + object.bytes, 0);
    const compression = 60_000 / limit.windowMs;
    return {
      fraction,
      throttled,
      summaryLine: `${compression}x: ${summary.enqueued} queued, ${summary.enriched} enriched, ${summary.dead_lettered} dead-lettered, ${notifications.length} notifications`,
      row: [
        `${limit.requests} per ${limit.windowMs / 1000} s (${compression}x)`,
        `${(slotMs * 0.02).toFixed(0)} ms`,
        `${median(lags).toFixed(0)} / ${Math.max(0, ...lags).toFixed(0)} ms`,
        versions,
        accepted.length,
        throttled,
        `${(elapsedMs / 1000).toFixed(1)} s`,
        `${ratePerSecond.toFixed(3)}/s`,
        `${budgetPerSecond.toFixed(3)}/s`,
        fraction.toFixed(3),
      ],
      figures: {
        versions,
        // Wall time stretched back to the real budget: pacing waits scale with it, the work itself is small.
        enricherMsPerVersion: (totals.ms / versions) * compression,
        enricherInvocationsPerVersion: totals.invocations / versions,
        sqsRequestsPerVersion: sqsRequests / versions,
        s3PutsPerVersion: s3Puts / versions,
        s3GetsPerVersion: s3Gets / versions,
        archiveBytesPerVersion: archiveBytes / versions,
        notifiedFraction: notifications.length / versions,
      },
    };
  } finally {
    await harness.close();
  }
}

export async function benchApiBudget(): Promise<ApiBudgetResult> {
  const runs: ScenarioRun[] = [];
  for (const scenario of SCENARIOS) runs.push(await runScenario(scenario));
  const main = runs[0] as ScenarioRun;
  const verdict = (run: ScenarioRun) =>
    run.fraction >= 0.95 && run.throttled === 0 ? "met" : `not met (${run.throttled} throttled)`;
  return {
    ...main.figures,
    table: {
      title: "1. API budget use",
      method:
        "The emulator limits get_incident_extra_data to a time-compressed budget and the enricher is configured with exactly that budget. " +
        "The whole pipeline (poller, queue, 2 enricher instances, batch size 5) drains a backlog of incident versions; rate = (calls - 2) / (last call - first call) from the emulator's request log (each of the 2 instances paces its own evenly spaced calls). " +
        "The pacer makes each instance's slot 2% longer than the budget needs, against arrival jitter; that guard shrinks with the compression while this machine's jitter does not. " +
        "Call to arrival: from the enricher's call (after its pacer let it go) to the emulator logging the request; the emulator, the AWS endpoint and the pipeline share one process here, so a stall of the event loop delays some calls.",
      columns: [
        "budget",
        "guard per slot",
        "call to arrival, median / max",
        "versions",
        "extra-data calls",
        "429s",
        "elapsed",
        "rate",
        "budget rate",
        "fraction of budget",
      ],
      rows: runs.map((run) => run.row),
      notes: [
        `Target: at least 0.95 with zero 429s. 30x: ${verdict(main)}; ${runs
          .slice(1)
          .map((run) => `${run.row[0]}: ${verdict(run)}`)
          .join("; ")}.`,
        "At the real budget (10 per minute) the guard is 240 ms per slot; 0.98 of the budget is the ceiling by design.",
        "Five intervals of one instance are five guards longer than the window, so a call that reaches the emulator more than five guards late (40 ms at 30x, 200 ms at 6x, 1.2 s at the real budget) can let six of its calls fall in one window: without faults, that is how this pipeline meets a 429. Compare the max call-to-arrival column.",
        "A 429 is not a loss: the client retries it and the enricher backs the rest of its batch off.",
        `Runs: ${runs.map((run) => run.summaryLine).join("; ")}.`,
      ],
    },
  };
}
