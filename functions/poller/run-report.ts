// What a poll run reports, all in one place: its metrics (published once per run, whether it succeeded or
// failed), the WARNs for what its walk could not do in full, and the summary returned to the caller.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { IncidentCursor } from "../shared/cortex/api.ts";
import { PollerMetric } from "../shared/metric-names.ts";
import type { PollRunSummary } from "./create-handler.ts";
import { MAX_SENT_RECORD_ENTRIES, type WindowFindings } from "./late-window.ts";
import type { PollRun } from "./poll-run.ts";

/** Adds the run's metrics, warns about a shortened late-arrival window, and publishes. */
export function reportPollRun(run: PollRun, metrics: Metrics, logger: Logger): void {
  const endedAt = run.now();
  metrics.addMetric(PollerMetric.PagesRead, MetricUnit.Count, run.pagesRead);
  metrics.addMetric(PollerMetric.IncidentsSeen, MetricUnit.Count, run.incidentsSeen);
  metrics.addMetric(PollerMetric.MessagesSent, MetricUnit.Count, run.messagesSent);
  reportFindings(run.findings, metrics, logger);
  if (run.windowCut) {
    metrics.addMetric(PollerMetric.LateWindowShortened, MetricUnit.Count, 1);
    logger.warn(
      "The time budget ended this run's re-read of the late-arrival window; the next run reads it again",
      {
        walk_start: run.walkStart.modificationTime,
        cursor: describeCursor(run.cursorAfter),
      },
    );
  }
  if (run.window.truncated) {
    metrics.addMetric(PollerMetric.LateWindowShortened, MetricUnit.Count, 1);
    logger.warn(
      "The record of sent versions reached its cap; the next run reads less of the late-arrival window",
      {
        cap: MAX_SENT_RECORD_ENTRIES,
        cursor: describeCursor(run.cursorAfter),
      },
    );
  }
  // A quiet tenant leaves the cursor at its last change: that is not lag. Lag is the time since the
  // archive was last known complete: this run's start if it caught up, else the cursor's position.
  const completeThrough = run.caughtUp ? run.startedAt : run.cursorAfter.modificationTime;
  metrics.addMetric(
    PollerMetric.CursorLagSeconds,
    MetricUnit.Seconds,
    Math.max(0, (endedAt - completeThrough) / 1000),
  );
  metrics.addMetric(PollerMetric.RunDurationMs, MetricUnit.Milliseconds, endedAt - run.startedAt);
  metrics.addMetric(PollerMetric.BacklogRemaining, MetricUnit.Count, run.stoppedEarly ? 1 : 0);
  metrics.publishStoredMetrics();
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
        restricted_incidents: findings.restrictedIds.size,
        some_ids: [...findings.restrictedIds].slice(0, 10),
      },
    );
  }
}

/** The run's summary for its caller (the poll loop, the local runner), logged as it is returned. */
export function summarizePollRun(run: PollRun, logger: Logger): PollRunSummary {
  const summary: PollRunSummary = {
    pagesRead: run.pagesRead,
    incidentsSeen: run.incidentsSeen,
    messagesSent: run.messagesSent,
    lateVersions: run.findings.late,
    cursorBefore: run.cursorBefore,
    cursorAfter: run.cursorAfter,
    stoppedEarly: run.stoppedEarly,
    durationMs: run.now() - run.startedAt,
  };
  logger.info(
    run.stoppedEarly ? "Poll run stopped at its time budget; the next run continues" : "Poll run done",
    {
      pages_read: summary.pagesRead,
      incidents_seen: summary.incidentsSeen,
      messages_sent: summary.messagesSent,
      stopped_early: summary.stoppedEarly,
      cursor: describeCursor(summary.cursorAfter),
      duration_ms: summary.durationMs,
    },
  );
  return summary;
}

/** A cursor for a log line: the id list can be long, so its size and a few ids. */
export function describeCursor(cursor: IncidentCursor) {
  return {
    modification_time: cursor.modificationTime,
    modification_time_iso: new Date(cursor.modificationTime).toISOString(),
    ids_at_cursor: cursor.idsAtCursor.length,
    some_ids: cursor.idsAtCursor.slice(-5),
  };
}
