// EventBridge fires at most once a minute, and the poll interval sets the idle time to alert; so one
// invocation polls several times: at 0, 20 and 40 s of a one-minute schedule with a 20 s interval, and
// returns before the next tick fires (one run at a time; the cursor's conditional writes guard anyway).
import { setTimeout as sleepFor } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { InvocationContext } from "../shared/invocation-context.ts";
import type { PollerHandler, PollRunSummary } from "./create-handler.ts";

export interface PollLoopOptions {
  /** Time between the starts of two polls in one invocation. */
  intervalMs: number;
  /** The schedule's period: no poll starts in its last half interval, so the invocation ends before the next tick. */
  windowMs: number;
  logger: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PollInvocationSummary extends PollRunSummary {
  /** Poll runs in this invocation. */
  polls: number;
}

/** A poll must have at least this much Lambda time left to start (its own deadline margin is inside). */
const MIN_TIME_FOR_A_POLL_MS = 30_000;

/** Each poll's counts added up; the cursors and stoppedEarly are those of the first and last runs. */
function combine(runs: readonly PollRunSummary[], durationMs: number): PollInvocationSummary {
  const first = runs[0] as PollRunSummary;
  const last = runs.at(-1) as PollRunSummary;
  const sum = (field: "pagesRead" | "incidentsSeen" | "messagesSent" | "lateVersions") =>
    runs.reduce((total, run) => total + run[field], 0);
  return {
    pagesRead: sum("pagesRead"),
    incidentsSeen: sum("incidentsSeen"),
    messagesSent: sum("messagesSent"),
    lateVersions: sum("lateVersions"),
    cursorBefore: first.cursorBefore,
    cursorAfter: last.cursorAfter,
    stoppedEarly: last.stoppedEarly,
    durationMs,
    polls: runs.length,
  };
}

/** The next poll's start, or undefined when this invocation should return instead. */
function nextPollAt(
  options: PollLoopOptions,
  startedAt: number,
  polls: number,
  last: PollRunSummary,
  context: InvocationContext,
  now: number,
): number | undefined {
  // A run that stopped at its time budget had a backlog: the next scheduled invocation carries on.
  if (last.stoppedEarly) return undefined;
  const at = startedAt + polls * options.intervalMs;
  if (at > startedAt + options.windowMs - options.intervalMs / 2) return undefined;
  const remainingAtStart = context.getRemainingTimeInMillis() - Math.max(0, at - now);
  return remainingAtStart >= MIN_TIME_FOR_A_POLL_MS ? at : undefined;
}

export function createPollLoop(pollOnce: PollerHandler, options: PollLoopOptions) {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms));
  if (!(options.intervalMs > 0) || options.intervalMs > options.windowMs) {
    throw new RangeError(
      `The poll interval (${options.intervalMs} ms) must be positive and at most the schedule's period (${options.windowMs} ms).`,
    );
  }
  return async (event: unknown, context: InvocationContext): Promise<PollInvocationSummary> => {
    const startedAt = now();
    const runs: PollRunSummary[] = [];
    for (;;) {
      const run = await pollOnce(event, context);
      runs.push(run);
      const at = nextPollAt(options, startedAt, runs.length, run, context, now());
      if (at === undefined) break;
      await sleep(Math.max(0, at - now()));
    }
    const summary = combine(runs, now() - startedAt);
    options.logger.info("Poll invocation done", {
      polls: summary.polls,
      incidents_seen: summary.incidentsSeen,
      messages_sent: summary.messagesSent,
      stopped_early: summary.stoppedEarly,
      duration_ms: summary.durationMs,
    });
    return summary;
  };
}
