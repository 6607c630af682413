// One poll run's steps: start from the saved cursor (or the first run's look-back), walk the tenant page by
// page queueing each page's versions and only then saving the cursor, and settle an error the walk ended
// with. The run's counts and findings live on the PollRun; run-report.ts turns them into metrics and logs.
import type { IncidentCursor, IncidentPage } from "../shared/cortex/api.ts";
import { isCortexError } from "../shared/cortex/errors.ts";
import {
  compareIncidentCursors,
  furthestIncidentCursor,
  type IncidentCursorStore,
} from "../shared/cursor.ts";
import type { PollerDependencies } from "./create-handler.ts";
import { enqueueIncidentVersions } from "./enqueue.ts";
import { DEFAULT_LATE_WINDOW_MS, LateArrivalWindow, noFindings, versionsToSend } from "./late-window.ts";
import { sendPriorityHints } from "./priority-hints.ts";
import { quarantineMalformedIncidents } from "./quarantine.ts";
import { describeCursor } from "./run-report.ts";

type StoredCursor = Awaited<ReturnType<IncidentCursorStore["load"]>>;

export class PollRun {
  pagesRead = 0;
  incidentsSeen = 0;
  messagesSent = 0;
  readonly findings = noFindings();
  /** The time budget ended the walk ahead of the cursor with pages left. */
  stoppedEarly = false;
  /** The time budget ended the re-read of the late-arrival window before it reached the cursor. */
  windowCut = false;
  /** The walk reached the tenant's newest incident: the archive is then behind only by this run. */
  caughtUp = false;
  /** The walk ahead of the cursor is done; the re-read of the late-arrival window is under way. */
  inLateWindow = false;
  readonly cursorBefore: IncidentCursor;
  cursorAfter: IncidentCursor;
  readonly window: LateArrivalWindow;
  readonly walkStart: IncidentCursor;
  #slowestPageMs = 0;
  #pageStartedAt: number;

  readonly deps: PollerDependencies;
  readonly store: IncidentCursorStore;
  readonly now: () => number;
  readonly startedAt: number;
  readonly deadline: number;
  /** What the last run saved; undefined on the first run. */
  readonly stored: StoredCursor;

  constructor(start: Pick<PollRun, "deps" | "store" | "now" | "startedAt" | "deadline" | "stored">) {
    const { deps, stored } = start;
    this.deps = deps;
    this.store = start.store;
    this.now = start.now;
    this.startedAt = start.startedAt;
    this.deadline = start.deadline;
    this.stored = stored;
    this.cursorBefore = stored?.cursor ?? {
      modificationTime: start.startedAt - deps.firstRunLookbackMs,
      idsAtCursor: [],
    };
    this.cursorAfter = this.cursorBefore;
    this.window = new LateArrivalWindow(
      deps.lateWindowMs ?? DEFAULT_LATE_WINDOW_MS,
      this.cursorBefore,
      stored?.record ?? { completeFrom: this.cursorBefore.modificationTime, sent: {} },
    );
    this.walkStart = this.window.walkStart();
    this.#pageStartedAt = this.now();
  }

  /** Walks from `start` (up to the page reaching `until`), queueing each page; false when the time budget cut it. */
  async walk(start: IncidentCursor, until = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.now() >= this.deadline) return false;
    const pages = this.deps.incidents.incidentsModifiedSince(start, {
      filters: this.deps.filters,
      deadline: this.deadline,
      onRestrictedIncidents: (ids) => {
        for (const id of ids) this.findings.restrictedIds.add(id);
      },
      onMalformedIncidents: (items) => quarantineMalformedIncidents(items, this.deps),
    });
    for await (const page of pages) {
      await this.#queuePage(page);
      const pageEndedAt = this.now();
      // The slowest page so far: stop when another one would likely not finish before the deadline.
      this.#slowestPageMs = Math.max(this.#slowestPageMs, pageEndedAt - this.#pageStartedAt);
      this.#pageStartedAt = pageEndedAt;
      if (page.cursor.modificationTime >= until) return true;
      if (pageEndedAt + this.#slowestPageMs >= this.deadline) return false;
    }
    // The client also ends its walk quietly when the deadline is near.
    return this.now() < this.deadline;
  }

  async #queuePage(page: IncidentPage): Promise<void> {
    const { deps, window } = this;
    this.pagesRead++;
    this.incidentsSeen += page.incidents.length;
    const polledAt = this.now();
    const toSend = versionsToSend(page.incidents, window, polledAt, this.findings, deps.logger);
    this.messagesSent += await enqueueIncidentVersions(toSend, {
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
    const next = furthestIncidentCursor(page.cursor, this.cursorAfter);
    // A re-read page with nothing to send changes neither cursor nor record: no S3 round trip.
    if (toSend.length > 0 || compareIncidentCursors(next, this.cursorAfter) !== 0) {
      this.cursorAfter = (await this.store.save(next, window.recordFor(next))).cursor;
    }
    deps.logger.info("Page queued", {
      page: this.pagesRead,
      incidents: page.incidents.length,
      messages_sent: this.messagesSent,
      cursor: describeCursor(this.cursorAfter),
    });
  }
}

/** Loads the saved cursor (logging why nothing was polled if it cannot) and announces the run. */
export async function startPollRun(
  deps: PollerDependencies,
  store: IncidentCursorStore,
  now: () => number,
  budgetMs: number,
): Promise<PollRun> {
  const startedAt = now();
  let stored: StoredCursor;
  try {
    stored = await store.load();
  } catch (error) {
    deps.logger.error("Could not read the cursor; nothing was polled", {
      cursor_object: store.location,
      error: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
  const run = new PollRun({ deps, store, now, startedAt, deadline: startedAt + budgetMs, stored });
  deps.logger.info("Poll run starting", {
    cursor: describeCursor(run.cursorBefore),
    first_run: stored === undefined,
    cursor_object: store.location,
    time_budget_ms: budgetMs,
    walk_start: run.walkStart.modificationTime,
  });
  return run;
}

/**
 * New versions first, from the cursor as without a window, so the re-read delays nothing; then the window
 * behind the cursor, up to where this run started, for versions the index listed late.
 */
export async function walkNewThenLate(run: PollRun): Promise<void> {
  // First run: pin the look-back start before anything can fail, so failing runs do not slide it forward.
  if (run.stored === undefined) {
    run.cursorAfter = (await run.store.save(run.cursorBefore, run.window.recordFor(run.cursorBefore))).cursor;
  }
  run.stoppedEarly = !(await run.walk(run.cursorBefore));
  run.caughtUp = !run.stoppedEarly;
  run.inLateWindow = true;
  if (!run.stoppedEarly && run.walkStart.modificationTime < run.cursorBefore.modificationTime) {
    run.windowCut = !(await run.walk(run.walkStart, run.cursorBefore.modificationTime));
  }
}

/**
 * A retryable Cortex error at the deadline is the budget cutting a request short (its timeout is capped by
 * the deadline): progress is saved and the next run continues. Anything else fails the run.
 */
export function settleWalkError(run: PollRun, error: unknown): void {
  const { logger } = run.deps;
  if (isCortexError(error) && error.retryable && run.now() >= run.deadline) {
    if (run.inLateWindow) run.windowCut = true;
    else run.stoppedEarly = true;
    logger.warn("The time budget ran out during a Cortex request; the next run continues", {
      error_kind: error.kind,
      cursor: describeCursor(run.cursorAfter),
    });
    return;
  }
  logger.error("Poll run failed; the cursor stays where the last queued page left it", {
    error: error instanceof Error ? error.message : String(error),
    ...(isCortexError(error) ? { error_kind: error.kind, http_status: error.status } : {}),
    access_problem: isCortexError(error) && error.isAccessProblem,
    pages_read: run.pagesRead,
    messages_sent: run.messagesSent,
    cursor: describeCursor(run.cursorAfter),
  });
  throw error;
}
