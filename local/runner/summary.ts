// The end-of-run summary: counts a user (or a test, or CI) can check, printed and optionally written as JSON.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

export interface RunSummary {
  /** Incident versions the poller read from the API. */
  polled: number;
  /** Messages the poller put on the queue. */
  enqueued: number;
  /** Queue messages the enricher completed (deleted from the queue, the requeued ones left out). */
  enriched: number;
  /** Messages a batch-mode invocation could not start before its deadline and sent back as new ones (its Requeued metric). */
  requeued: number;
  /** Archive objects written to the bucket during this run (and mirrored under archive_dir). */
  archived: number;
  /** Notifications the local subscriber received from the topic. */
  notified: number;
  /** Messages in the dead-letter queue at the end. */
  dead_lettered: number;
  /** Records the enricher itself reported failed: each comes back after the visibility timeout until the DLQ takes it. */
  failed_attempts: number;
  /**
   * Records the enricher returned without having tried them (after a throttle, an access problem, or at the
   * deadline; its NotStarted metric): they come back untried and are not counted as failed.
   */
  not_started: number;
  /** Invocations that failed as a whole (a function timeout, a thrown error): Lambda returns all their records. */
  failed_invocations: number;
  /**
   * The records of those invocations, returned to the queue without a verdict: never started, cut off, or done
   * before the failure (then skipped as archived when they come back). None of them is counted as failed.
   */
  returned_unfinished: number;
  /** Every HTTP attempt to the Cortex API, retries included. */
  api_calls: number;
  /** The same per endpoint (get_incidents, get_incident_extra_data, get_multiple_incidents_extra_data). */
  api_calls_by_endpoint: Record<string, number>;
  /** Attempts answered with HTTP 429. */
  throttled: number;
  poll_runs: number;
  duration_ms: number;
  archive_dir: string;
  /** Messages still on the queue when the run stopped (after Ctrl-C; 0 after a completed --once). */
  left_in_queue: number;
  /** Queued versions not archived because the API said, and get_incidents confirmed, the incident does not exist. */
  not_found: number;
  /** Notifications' time to alert (poll that first read the version -> publish); null without notifications. */
  time_to_alert: TimeToAlertStats | null;
  /** Why the run could not finish, in words a person can act on; null when nothing went wrong. */
  problem: string | null;
  exit_code: ExitCode;
}

export interface TimeToAlertStats {
  count: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

/** The nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export function timeToAlertStats(values: readonly number[]): TimeToAlertStats | null {
  if (values.length === 0) return null;
  return {
    count: values.length,
    p50_ms: Math.round(percentile(values, 50)),
    p95_ms: Math.round(percentile(values, 95)),
    max_ms: Math.round(Math.max(...values)),
  };
}

/**
 * 0: everything archived; 1: something ended in the DLQ or the run failed; 2: a credential was rejected;
 * 3: nothing failed, but not everything was archived (--once stopped with versions still queued, or the
 * API said an incident does not exist).
 */
export type ExitCode = 0 | 1 | 2 | 3;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_ACCESS_DENIED = 2;
export const EXIT_INCOMPLETE = 3;

export interface SummaryInput {
  counts: Omit<RunSummary, "problem" | "exit_code" | "archive_dir" | "duration_ms" | "time_to_alert">;
  /** Each notification's time to alert, in ms. */
  timesToAlertMs?: readonly number[];
  archiveDir: string;
  durationMs: number;
  /** A rejected credential (or missing license or permission): retrying cannot help. */
  accessProblem: string | undefined;
  /** Any other reason the run could not finish. */
  failure: string | undefined;
  /** --once: the run promised to drain everything, so versions left in the queue make it incomplete. */
  once: boolean;
}

export function buildSummary(input: SummaryInput): RunSummary {
  const { counts } = input;
  let exitCode: ExitCode = EXIT_OK;
  let problem: string | null = null;
  if (input.accessProblem) {
    exitCode = EXIT_ACCESS_DENIED;
    problem = input.accessProblem;
  } else if (input.failure) {
    exitCode = EXIT_FAILED;
    problem = input.failure;
  } else if (counts.dead_lettered > 0) {
    exitCode = EXIT_FAILED;
    problem =
      `${counts.dead_lettered} message(s) ended in the dead-letter queue after every retry failed. ` +
      "Run with --log-level INFO to see why each attempt failed.";
  } else {
    problem = incompleteness(counts, input.once);
    if (problem !== null) exitCode = EXIT_INCOMPLETE;
  }
  return {
    ...counts,
    duration_ms: Math.round(input.durationMs),
    archive_dir: input.archiveDir,
    time_to_alert: timeToAlertStats(input.timesToAlertMs ?? []),
    problem,
    exit_code: exitCode,
  };
}

/** What was neither archived nor failed: the words for exit code 3, or null. */
function incompleteness(counts: SummaryInput["counts"], once: boolean): string | null {
  const parts: string[] = [];
  if (once && counts.left_in_queue > 0) {
    parts.push(
      `--once stopped with ${counts.left_in_queue} incident version(s) still queued, not archived yet; run again to finish them.`,
    );
  }
  if (counts.not_found > 0) {
    parts.push(
      `${counts.not_found} queued version(s) were not archived: the Cortex API says the incident does not exist, ` +
        "and get_incidents no longer lists it (deleted in the tenant, or outside the key's scope).",
    );
  }
  return parts.length === 0 ? null : parts.join(" ");
}

export function formatSummary(summary: RunSummary): string {
  const seconds = (summary.duration_ms / 1000).toFixed(1);
  const lines = [
    `Summary (${seconds} s)`,
    `  polled ${summary.polled}, enqueued ${summary.enqueued}, enriched ${summary.enriched}, archived ${summary.archived}, notified ${summary.notified}`,
    `  dead-lettered ${summary.dead_lettered}, failed attempts ${summary.failed_attempts}, ` +
      `${summary.not_started === 0 ? "" : `not started ${summary.not_started}, `}${wholeBatchFailures(summary)}` +
      `left in queue ${summary.left_in_queue}, not found ${summary.not_found}` +
      (summary.requeued === 0 ? "" : `, requeued ${summary.requeued} (handed back untried as new messages)`),
    `  Cortex API calls ${summary.api_calls} (throttled ${summary.throttled}), poll runs ${summary.poll_runs}`,
    `  calls per endpoint: ${Object.entries(summary.api_calls_by_endpoint)
      .map(([endpoint, calls]) => `${endpoint} ${calls}`)
      .join(", ")}`,
    ...(summary.time_to_alert === null
      ? []
      : [
          `  time to alert (poll to publish, ${summary.time_to_alert.count} notifications): ` +
            `p50 ${seconds1(summary.time_to_alert.p50_ms)}, p95 ${seconds1(summary.time_to_alert.p95_ms)}, ` +
            `max ${seconds1(summary.time_to_alert.max_ms)}`,
        ]),
    `  archive copy: ${summary.archive_dir}`,
  ];
  if (summary.problem) lines.push("", `Problem: ${summary.problem}`);
  return `${lines.join("\n")}\n`;
}

const seconds1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Only when some invocation failed as a whole: its records were returned, not failed one by one. */
function wholeBatchFailures(summary: RunSummary): string {
  if (summary.failed_invocations === 0) return "";
  return (
    `invocations failed as a whole ${summary.failed_invocations} ` +
    `(${summary.returned_unfinished} record(s) returned unfinished), `
  );
}

export async function writeSummaryJson(file: string, summary: RunSummary): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
}
