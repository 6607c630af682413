// One poll run: walk the tenant from the saved cursor, queue every incident version page by page, and
// save the cursor only after a page's messages are in the queue (the steps are in poll-run.ts, what the run
// reports in run-report.ts). No Lambda wiring here, so the local runner drives the very same code.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { IncidentCursor, IncidentFilterInput, IncidentSource } from "../shared/cortex/api.ts";
import { IncidentCursorStore } from "../shared/cursor.ts";
import type { InvocationContext } from "../shared/invocation-context.ts";
import { settleWalkError, startPollRun, walkNewThenLate } from "./poll-run.ts";
import type { PriorityRouting } from "./priority-hints.ts";
import { describeCursor, reportPollRun, summarizePollRun } from "./run-report.ts";

export interface PollerDependencies {
  s3: S3Client;
  sqs: SQSClient;
  /** Archive bucket; the cursor lives at state/cursor.json in it. */
  bucket: string;
  queueUrl: string;
  incidents: IncidentSource;
  /** Extra get_incidents filters (e.g. statuses), ANDed with the cursor. */
  filters: IncidentFilterInput[];
  /** With no saved cursor, start this far before now. */
  firstRunLookbackMs: number;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** Time kept back from the Lambda deadline to save progress and report; default 10 s. */
  deadlineMarginMs?: number;
  /** Attempts per SQS batch entry before the run fails; default 5. */
  enqueueMaxAttempts?: number;
  /** Waits between SQS retries; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
  /** The priority lane: versions at or above the threshold are also hinted there (none: no hints). */
  priority?: PriorityRouting;
  /** How late after its modification_time a listed version is still found (late-window.ts); 0 = off. */
  lateWindowMs?: number;
}

export interface PollRunSummary {
  pagesRead: number;
  incidentsSeen: number;
  messagesSent: number;
  /** Versions sent only because the walk re-read the late-arrival window. */
  lateVersions: number;
  cursorBefore: IncidentCursor;
  cursorAfter: IncidentCursor;
  /** The run stopped at its time budget with pages left; the next run continues from cursorAfter. */
  stoppedEarly: boolean;
  durationMs: number;
}

export type PollerHandler = (event: unknown, context: InvocationContext) => Promise<PollRunSummary>;

export const DEFAULT_DEADLINE_MARGIN_MS = 10_000;

export function createPollerHandler(deps: PollerDependencies): PollerHandler {
  const now = deps.now ?? Date.now;
  const marginMs = deps.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const { logger, metrics } = deps;
  const store = new IncidentCursorStore({
    s3: deps.s3,
    bucket: deps.bucket,
    now,
    onKeptStored: ({ ours, stored }) =>
      logger.warn("Another run saved a cursor ahead of this run's; keeping the stored one", {
        ours: describeCursor(ours),
        stored: describeCursor(stored),
      }),
  });

  return async (_event, context) => {
    const run = await startPollRun(deps, store, now, context.getRemainingTimeInMillis() - marginMs);
    try {
      await walkNewThenLate(run);
    } catch (error) {
      settleWalkError(run, error);
    } finally {
      reportPollRun(run, metrics, logger);
    }
    return summarizePollRun(run, logger);
  };
}
