// Benchmark 7: single vs batch mode on the same kind of backlog (3% of incidents with more alerts than the
// batch endpoint returns), both extra-data endpoints at 10 calls a minute, time-compressed. The whole
// pipeline runs (poller, queue, two enricher instances); the emulator's request log gives the calls and
// the sustained rate, and the run's own counts feed benchmark 5's cost formulas.
import type { EnricherMode } from "../functions/shared/lambda-environment.ts";
import { enricherSizing } from "../lib/config.ts";
import { PipelineHarness } from "../local/pipeline-harness.ts";
import { billedRequests, timed } from "./api-budget.ts";
import { costPerMillionVersions, PRICES } from "./cost.ts";
import type { BenchTable } from "./report.ts";

const INSTANCES = 2;
/**
 * Time compression per mode. Single mode is rate-bound by its one call per version: 60x (10 calls a second)
 * keeps the run short. Batch mode does far more local work (S3, SQS) per API call, which compression does
 * not shrink: 10x keeps that work small next to the paced calls, as it is on AWS.
 */
const COMPRESSION: Record<"batch" | "single", number> = { batch: 10, single: 60 };
const limitFor = (mode: "batch" | "single") => ({ requests: 10, windowMs: 60_000 / COMPRESSION[mode] });
const LARGE_SHARE = 0.03;
const LARGE_ALERTS = 120;
/** The batch run drains the 2,000 versions; single mode is rate-bound (one call per version), so a
 * slice of the same mix shows its per-version figures without a 200 s run. */
const BACKLOG: Record<Exclude<EnricherMode, "auto">, number> = { batch: 2_000, single: 300 };

interface ModeRun {
  mode: "batch" | "single";
  versions: number;
  batchCalls: number;
  singleCalls: number;
  throttled: number;
  /** Archived versions per real minute, from the first to the last extra-data call. */
  versionsPerMinute: number;
  physicalLimit: number;
  costWithoutDeliveries: number;
  deliveriesPerMillion: number;
  /** Benchmark 5's rows for this run without deliveries: where the dollars go. */
  costRows: (string | number)[][];
  s3PutsPerVersion: number;
  s3GetsPerVersion: number;
  notifiedFraction: number;
}

/** min(100 x batch budget, single budget / share of large incidents) in batch mode; the single budget otherwise. */
function physicalLimit(mode: "batch" | "single"): number {
  const perMinute = 10;
  return mode === "batch" ? Math.min(100 * perMinute, perMinute / LARGE_SHARE) : perMinute;
}

async function runMode(mode: "batch" | "single"): Promise<ModeRun> {
  const backlog = BACKLOG[mode];
  const batching = mode === "batch";
  const batchSize = batching ? 100 : 5;
  const compression = COMPRESSION[mode];
  const limit = limitFor(mode);
  const sizing = enricherSizing({
    mode,
    batchSize,
    maxConcurrency: INSTANCES,
    budgetPerMinute: 10 * compression,
    batchBudgetPerMinute: 10 * compression,
    marginSeconds: 2,
  });
  const harness = await PipelineHarness.start({
    seed: 11,
    incidents: 0,
    extraDataLimit: limit,
    batchExtraDataLimit: limit,
    mode,
    maxConcurrency: INSTANCES,
    batchSize,
    batchingWindowMs: batching ? 10_000 / compression : 0,
    functionTimeoutMs: sizing.timeoutSeconds * 1000,
    visibilityTimeoutSeconds: 300,
    enricherDeadlineMarginMs: 1_000,
    pollerTimeoutMs: 120_000,
    alertsLimit: 1000,
  });
  try {
    const every = Math.round(1 / LARGE_SHARE);
    harness.emulator.control.addIncidents(
      Array.from({ length: backlog }, (_, index) => ({
        alert_count: index % every === 0 ? LARGE_ALERTS : 3,
      })),
    );
    const totals = { ms: 0, invocations: 0 };
    const summary = await harness.runOnce({
      poll: harness.createPoller(),
      enricherHandlers: Array.from({ length: INSTANCES }, () => timed(harness.createEnricher(), totals)),
    });
    const requests = harness.emulator.control.requests();
    const extraData = requests.filter((r) => r.endpoint !== "get_incidents");
    const accepted = extraData.filter((r) => r.status === 200);
    const count = (endpoint: string) => accepted.filter((r) => r.endpoint === endpoint).length;
    const archive = await harness.archive();
    const notifications = await harness.notifications();
    const versions = archive.length;
    const elapsedMs = (accepted.at(-1)?.time ?? 0) - (accepted[0]?.time ?? 0);
    const versionsPerMinute = versions / ((elapsedMs * compression) / 60_000);
    const { sqsRequests, s3Puts, s3Gets } = billedRequests(harness);
    const costInputs = {
      enricherMsPerVersion: (totals.ms / versions) * compression,
      enricherMemoryMb: 256,
      enricherInvocationsPerVersion: totals.invocations / versions,
      pollerMsPerVersion: 0,
      pollerMemoryMb: 256,
      pollerInvocationsPerVersion: summary.poll_runs / versions,
      sqsRequestsPerVersion: sqsRequests / versions,
      s3PutsPerVersion: s3Puts / versions,
      s3GetsPerVersion: s3Gets / versions,
      archiveBytesPerVersion: archive.reduce((sum, object) => sum + object.bytes, 0) / versions,
      notifiedFraction: notifications.length / versions,
    };
    const dollars = (subscribers: number) =>
      Number(
        String(
          costPerMillionVersions({ ...costInputs, emailSubscribers: subscribers }).rows.at(-1)?.[2],
        ).slice(1),
      );
    const withoutDeliveries = dollars(0);
    return {
      mode,
      versions,
      batchCalls: count("get_multiple_incidents_extra_data"),
      singleCalls: count("get_incident_extra_data"),
      throttled: extraData.filter((r) => r.status === 429).length,
      versionsPerMinute,
      physicalLimit: physicalLimit(mode),
      costWithoutDeliveries: withoutDeliveries,
      deliveriesPerMillion: dollars(1) - withoutDeliveries,
      costRows: costPerMillionVersions({ ...costInputs, emailSubscribers: 0 }).rows,
      s3PutsPerVersion: costInputs.s3PutsPerVersion,
      s3GetsPerVersion: costInputs.s3GetsPerVersion,
      notifiedFraction: costInputs.notifiedFraction,
    };
  } finally {
    await harness.close();
  }
}

/**
 * Where batch mode's dollars go, and the floor the contracts set: every version is one archive object
 * (a PUT) and one conditional write of its incident's state record (a GET to read it, a PUT), and every
 * notified version one more PUT to complete its claim; S3 bills requests whatever their size.
 */
function costNote(run: ModeRun): string {
  const items = run.costRows
    .filter((row) => row[0] !== "total" && row[0] !== "SNS email deliveries")
    .map((row) => `${row[0]} ${row[2]}`)
    .join(", ");
  const floorPuts = 2 + run.notifiedFraction;
  const floor = (1e6 / 1000) * (floorPuts * PRICES.s3PutPerThousand + 1 * PRICES.s3GetPerThousand);
  return (
    `Batch mode's cost without deliveries: ${items}. S3 requests dominate: ${run.s3PutsPerVersion.toFixed(2)} PUTs and ${run.s3GetsPerVersion.toFixed(2)} GETs per version. ` +
    `The archive and state contracts (one object per version, state records in the bucket, DESIGN.md) set a floor of ${floorPuts.toFixed(2)} PUTs and 1 GET per version at this run's ${(run.notifiedFraction * 100).toFixed(0)}% notified: $${floor.toFixed(2)} of S3 requests alone, above the $8 goal; ` +
    "the rest of the run's PUTs are the partial objects of large incidents and their state writes."
  );
}

export async function benchBatchMode(): Promise<BenchTable> {
  const modes = (process.env.BENCH_BATCH_MODES ?? "single,batch").split(",") as ("batch" | "single")[];
  const runs: ModeRun[] = [];
  for (const mode of modes) runs.push(await runMode(mode));
  const row = (run: ModeRun) => {
    const callsPerVersion = (run.batchCalls + run.singleCalls) / run.versions;
    return [
      run.mode,
      run.versions,
      run.batchCalls,
      run.singleCalls,
      callsPerVersion.toFixed(3),
      run.versionsPerMinute.toFixed(1),
      run.physicalLimit.toFixed(0),
      (run.versionsPerMinute / run.physicalLimit).toFixed(2),
      run.throttled,
      `$${run.costWithoutDeliveries.toFixed(2)}`,
      `$${run.deliveriesPerMillion.toFixed(2)}`,
    ];
  };
  const batch = runs.find((run) => run.mode === "batch") ?? (runs[0] as ModeRun);
  const batchCallsPerVersion = (batch.batchCalls + batch.singleCalls) / batch.versions;
  return {
    title: "7. Single vs batch mode",
    method:
      `The whole pipeline (poller, queue, ${INSTANCES} enricher instances) drains a backlog in which ${LARGE_SHARE * 100}% of incidents have ${LARGE_ALERTS} alerts (more than the batch endpoint's 50), ` +
      `with both extra-data endpoints limited to 10 calls a minute, time-compressed (single mode ${COMPRESSION.single}x, batch mode ${COMPRESSION.batch}x: batch mode's local S3 and SQS work per call is not compressed, so a higher factor would measure this machine, not the API), and the enricher paced to exactly that. ` +
      "Rate = archived versions over the span from the first to the last extra-data call, stretched back to real minutes. " +
      `Physical limit = min(100 x batch budget, single budget / share of large incidents) in batch mode, the single budget in single mode. ` +
      `Single mode drains ${BACKLOG.single} versions (it is rate-bound, one call per version, so its per-version figures do not depend on the backlog); batch mode ${BACKLOG.batch}. ` +
      "Cost per million versions by benchmark 5's formulas on this run's counts (enricher wall time x compression), SNS email deliveries (one subscriber) apart.",
    columns: [
      "mode",
      "versions",
      "batch calls",
      "single calls",
      "API calls per version",
      "versions per minute",
      "physical limit",
      "fraction of limit",
      "429s",
      "cost per 1M versions",
      "+ email deliveries",
    ],
    rows: runs.map(row),
    notes: [
      `Goals: at most 0.05 calls per version (batch: ${batchCallsPerVersion.toFixed(3)}), at least 0.9 of the physical limit (batch: ${(batch.versionsPerMinute / batch.physicalLimit).toFixed(2)}), zero 429s (batch: ${batch.throttled}), at most $8 per million without deliveries (batch: $${batch.costWithoutDeliveries.toFixed(2)}).`,
      "With 3% large incidents the single endpoint, not the batch one, bounds batch mode: each large incident still needs its own call at 10 a minute.",
      costNote(batch),
    ],
  };
}
