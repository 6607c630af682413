// One poll run: walk the tenant from the saved cursor, queue every incident version page by page, and
// save the cursor only after a page's messages are in the queue. No Lambda wiring here, so the local
// runner drives the very same code with its own clients.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { IncidentCursor, IncidentFilterInput, IncidentSource } from "../shared/cortex/api.ts";
import { isCortexError } from "../shared/cortex/errors.ts";
import { compareIncidentCursors, furthestIncidentCursor, IncidentCursorStore } from "../shared/cursor.ts";
import { PollerMetric } from "../shared/metric-names.ts";
import { enqueueIncidentVersions } from "./enqueue.ts";
import {
  DEFAULT_LATE_WINDOW_MS,
  LateArrivalWindow,
  MAX_SENT_RECORD_ENTRIES,
  noFindings,
  versionsToSend,
  type WindowFindings,
} from "./late-window.ts";
import { type PriorityRouting, sendPriorityHints } from "./priority-hints.ts";
import { quarantineMalformedIncidents } from "./quarantine.ts";

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

/** The part of the Lambda context the poller uses. */
export interface PollerContext {
  getRemainingTimeInMillis(): number;
}

export type PollerHandler = (event: unknown, context: PollerContext) => Promise<PollRunSummary>;

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
    const startedAt = now();
    const deadline = startedAt + context.getRemainingTimeInMillis() - marginMs;
    let pagesRead = 0;
    let incidentsSeen = 0;
    let messagesSent = 0;
    const findings = noFindings();
    let stoppedEarly = false;
    // The time budget ended the re-read of the late-arrival window before it reached the cursor.
    let windowCut = false;
    // True once the walk reached the tenant's newest incident: the archive is then behind only by this run.
    let caughtUp = false;

    let stored: Awaited<ReturnType<IncidentCursorStore["load"]>>;
    try {
      stored = await store.load();
    } catch (error) {
      logger.error("Could not read the cursor; nothing was polled", {
        cursorObject: store.location,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    const cursorBefore: IncidentCursor = stored?.cursor ?? {
      modificationTime: startedAt - deps.firstRunLookbackMs,
      idsAtCursor: [],
    };
    let cursorAfter = cursorBefore;
    const window = new LateArrivalWindow(
      deps.lateWindowMs ?? DEFAULT_LATE_WINDOW_MS,
      cursorBefore,
      stored?.record ?? { completeFrom: cursorBefore.modificationTime, sent: {} },
    );
    const walkStart = window.walkStart();
    logger.info("Poll run starting", {
      cursor: describeCursor(cursorBefore),
      firstRun: stored === undefined,
      cursorObject: store.location,
      timeBudgetMs: deadline - startedAt,
      walkStart: walkStart.modificationTime,
    });
    // The slowest page so far: stop when another one would likely not finish before the deadline.
    let slowestPageMs = 0;
    let pageStartedAt = now();
    /** Walks from `start` (up to the page reaching `until`), queueing each page; false when the time budget cut it. */
    const walk = async (start: IncidentCursor, until = Number.POSITIVE_INFINITY): Promise<boolean> => {
      if (now() >= deadline) return false;
      for await (const page of deps.incidents.incidentsModifiedSince(start, {
        filters: deps.filters,
        deadline,
        onRestrictedIncidents: (ids) => {
          for (const id of ids) findings.restrictedIds.add(id);
        },
        onMalformedIncidents: (items) => quarantineMalformedIncidents(items, deps),
      })) {
        pagesRead++;
        incidentsSeen += page.incidents.length;
        const polledAt = now();
        const toSend = versionsToSend(page.incidents, window, polledAt, findings, logger);
        messagesSent += await enqueueIncidentVersions(toSend, {
          sqs: deps.sqs,
          queueUrl: deps.queueUrl,
          polledAt,
          ...(deps.enqueueMaxAttempts === undefined ? {} : { maxAttempts: deps.enqueueMaxAttempts }),
          ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
        });
        if (deps.priority !== undefined) {
          await sendPriorityHints(toSend, { ...deps, routing: deps.priority, polledAt });
        }
        // Only now are this page's versions safely queued: the cursor may move past them. A page of the
        // re-read window lies behind the cursor, which then stays; the record of what was sent grows.
        window.markSent(toSend);
        const next = furthestIncidentCursor(page.cursor, cursorAfter);
        // A re-read page with nothing to send changes neither cursor nor record: no S3 round trip.
        if (toSend.length > 0 || compareIncidentCursors(next, cursorAfter) !== 0) {
          cursorAfter = (await store.save(next, window.recordFor(next))).cursor;
        }
        logger.info("Page queued", {
          page: pagesRead,
          incidents: page.incidents.length,
          messagesSent,
          cursor: describeCursor(cursorAfter),
        });
        const pageEndedAt = now();
        slowestPageMs = Math.max(slowestPageMs, pageEndedAt - pageStartedAt);
        pageStartedAt = pageEndedAt;
        if (page.cursor.modificationTime >= until) return true;
        if (pageEndedAt + slowestPageMs >= deadline) return false;
      }
      // The client also ends its walk quietly when the deadline is near.
      return now() < deadline;
    };

    let inWindow = false;
    try {
      // First run: pin the look-back start before anything can fail, so failing runs do not slide it forward.
      if (stored === undefined)
        cursorAfter = (await store.save(cursorBefore, window.recordFor(cursorBefore))).cursor;
      // New versions first, from the cursor as without a window, so the re-read delays nothing; then the
      // window behind the cursor, up to where this run started, for versions the index listed late.
      stoppedEarly = !(await walk(cursorBefore));
      caughtUp = !stoppedEarly;
      inWindow = true;
      if (!stoppedEarly && walkStart.modificationTime < cursorBefore.modificationTime) {
        windowCut = !(await walk(walkStart, cursorBefore.modificationTime));
      }
    } catch (error) {
      if (isCortexError(error) && error.retryable && now() >= deadline) {
        // The deadline cut a request short (its timeout is capped by the deadline): progress is saved.
        if (inWindow) windowCut = true;
        else stoppedEarly = true;
        logger.warn("The time budget ran out during a Cortex request; the next run continues", {
          errorKind: error.kind,
          cursor: describeCursor(cursorAfter),
        });
      } else {
        logger.error("Poll run failed; the cursor stays where the last queued page left it", {
          error: error instanceof Error ? error.message : String(error),
          ...(isCortexError(error) ? { errorKind: error.kind, httpStatus: error.status } : {}),
          accessProblem: isCortexError(error) && error.isAccessProblem,
          pagesRead,
          messagesSent,
          cursor: describeCursor(cursorAfter),
        });
        throw error;
      }
    } finally {
      const endedAt = now();
      metrics.addMetric(PollerMetric.PagesRead, MetricUnit.Count, pagesRead);
      metrics.addMetric(PollerMetric.IncidentsSeen, MetricUnit.Count, incidentsSeen);
      metrics.addMetric(PollerMetric.MessagesSent, MetricUnit.Count, messagesSent);
      reportFindings(findings, metrics, logger);
      if (windowCut) {
        metrics.addMetric(PollerMetric.LateWindowShortened, MetricUnit.Count, 1);
        logger.warn(
          "The time budget ended this run's re-read of the late-arrival window; the next run reads it again",
          {
            walkStart: walkStart.modificationTime,
            cursor: describeCursor(cursorAfter),
          },
        );
      }
      if (window.truncated) {
        metrics.addMetric(PollerMetric.LateWindowShortened, MetricUnit.Count, 1);
        logger.warn(
          "The record of sent versions reached its cap; the next run reads less of the late-arrival window",
          {
            cap: MAX_SENT_RECORD_ENTRIES,
            cursor: describeCursor(cursorAfter),
          },
        );
      }
      // A quiet tenant leaves the cursor at its last change: that is not lag. Lag is the time since the
      // archive was last known complete: this run's start if it caught up, else the cursor's position.
      const completeThrough = caughtUp ? startedAt : cursorAfter.modificationTime;
      metrics.addMetric(
        PollerMetric.CursorLagSeconds,
        MetricUnit.Seconds,
        Math.max(0, (endedAt - completeThrough) / 1000),
      );
      metrics.addMetric(PollerMetric.RunDurationMs, MetricUnit.Milliseconds, endedAt - startedAt);
      metrics.addMetric(PollerMetric.BacklogRemaining, MetricUnit.Count, stoppedEarly ? 1 : 0);
      metrics.publishStoredMetrics();
    }

    const summary: PollRunSummary = {
      pagesRead,
      incidentsSeen,
      messagesSent,
      lateVersions: findings.late,
      cursorBefore,
      cursorAfter,
      stoppedEarly,
      durationMs: now() - startedAt,
    };
    logger.info(
      stoppedEarly ? "Poll run stopped at its time budget; the next run continues" : "Poll run done",
      {
        pagesRead,
        incidentsSeen,
        messagesSent,
        stoppedEarly,
        cursor: describeCursor(cursorAfter),
        durationMs: summary.durationMs,
      },
    );
    return summary;
  };
}

/** The run's late-window and listing findings as metrics; restricted ids also at WARN (per version ones were logged as found). */
function reportFindings(findings: WindowFindings, metrics: Metrics, logger: Logger): void {
  metrics.addMetric(PollerMetric.LateVersions, MetricUnit.Count, findings.late);
  for (const seconds of findings.latenessSeconds) {
    metrics.addMetric(PollerMetric.LateVersionLatenessSeconds, MetricUnit.Seconds, seconds);
  }
  metrics.addMetric(PollerMetric.LateBeyondWindow, MetricUnit.Count, findings.beyondWindow);
  metrics.addMetric(PollerMetric.VersionOlderThanSent, MetricUnit.Count, findings.olderThanSent);
  metrics.addMetric(PollerMetric.ListedTwiceInWalk, MetricUnit.Count, findings.listedTwice);
  metrics.addMetric(PollerMetric.RestrictedIncidents, MetricUnit.Count, findings.restrictedIds.size);
  if (findings.restrictedIds.size > 0) {
    logger.warn(
      "get_incidents named incidents this API key may not see (restricted_incident_ids); they are not archived",
      {
        restrictedIncidents: findings.restrictedIds.size,
        someIds: [...findings.restrictedIds].slice(0, 10),
      },
    );
  }
}

/** A cursor for a log line: the id list can be long, so its size and a few ids. */
function describeCursor(cursor: IncidentCursor) {
  return {
    modificationTime: cursor.modificationTime,
    modificationTimeIso: new Date(cursor.modificationTime).toISOString(),
    idsAtCursor: cursor.idsAtCursor.length,
    someIds: cursor.idsAtCursor.slice(-5),
  };
}
