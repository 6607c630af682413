// The late-arrival window: the search index can list a change after its modification_time (API-FACTS
// "Late listing"), behind a cursor that has already passed it. So each walk starts `windowMs` (plus an
// overrun band of a fifth of it) before the cursor, and the record of what was sent there, saved with the
// cursor, lets each version through once. Versions ahead of the cursor go out as before: no delay.
import type { IncidentCursor, IncidentSummary } from "../shared/cortex/api.ts";
import type { SentVersionRecord } from "../shared/cursor.ts";

/**
 * Five minutes: five times the one-minute `xdr_delay` the vendor's own integration needed after missed
 * updates were reported (API-FACTS "Late listing"); a longer window (another integration waits 15 min)
 * costs a re-read of every version in it on every poll, so it is a setting, sized from LateVersions.
 */
export const DEFAULT_LATE_WINDOW_MINUTES = 5;
export const DEFAULT_LATE_WINDOW_MS = DEFAULT_LATE_WINDOW_MINUTES * 60_000;
/** An hour: every poll re-reads the whole window, so a wider one costs more get_incidents calls than it saves. */
export const MAX_LATE_WINDOW_MINUTES = 60;
/** Beyond the window the walk reads this share of it more, to notice (and still send) versions later than it. */
export const OVERRUN_BAND_SHARE = 0.2;
/** The record holds at most this many incidents; past it the oldest go and the window is shortened. */
export const MAX_SENT_RECORD_ENTRIES = 20_000;

/**
 * What a listed version is to this walk:
 * - `new`: ahead of the cursor (sent at once, as without a window);
 * - `late`: behind the cursor, never sent, inside the window (sent);
 * - `beyond_window`: the same in the overrun band: later than the window (sent, and reported);
 * - `sent`: already sent (skipped);
 * - `older_than_sent`: older than a version already sent for the incident: the index went back (skipped, reported).
 */
export type ListedVersionKind = "new" | "late" | "beyond_window" | "sent" | "older_than_sent";

export class LateArrivalWindow {
  readonly #windowMs: number;
  readonly #cursorBefore: IncidentCursor;
  readonly #idsAtCursor: ReadonlySet<string>;
  readonly #completeFrom: number;
  readonly #sent: Map<string, number>;
  /** What this walk listed per incident, to notice one listed twice at different times. */
  readonly #listed = new Map<string, number>();
  #truncated = false;

  constructor(windowMs: number, cursorBefore: IncidentCursor, record: SentVersionRecord) {
    this.#windowMs = windowMs;
    this.#cursorBefore = cursorBefore;
    this.#idsAtCursor = new Set(cursorBefore.idsAtCursor);
    this.#completeFrom = record.completeFrom;
    this.#sent = new Map(Object.entries(record.sent));
  }

  /** Where the walk starts: the window and its band before the cursor, but not before what the record covers. */
  walkStart(): IncidentCursor {
    if (this.#windowMs <= 0) return this.#cursorBefore;
    const start = Math.max(
      this.#cursorBefore.modificationTime - readBackMs(this.#windowMs),
      this.#completeFrom,
    );
    if (start >= this.#cursorBefore.modificationTime) return this.#cursorBefore;
    return { modificationTime: start, idsAtCursor: [] };
  }

  /** True once a record was cut at its cap this run: the next walk reads less than the whole window. */
  get truncated(): boolean {
    return this.#truncated;
  }

  classify(incident: IncidentSummary): ListedVersionKind {
    const time = incident.modification_time;
    const sent = this.#sent.get(incident.incident_id);
    if (sent === time) return "sent";
    if (sent !== undefined && sent > time) return "older_than_sent";
    const cursor = this.#cursorBefore.modificationTime;
    if (time > cursor || (time === cursor && !this.#idsAtCursor.has(incident.incident_id))) return "new";
    if (time === cursor) return "sent";
    return time < cursor - this.#windowMs ? "beyond_window" : "late";
  }

  /** The time this walk listed the incident at before, when it differs from this listing's. */
  listedBefore(incident: IncidentSummary): number | undefined {
    const before = this.#listed.get(incident.incident_id);
    this.#listed.set(incident.incident_id, incident.modification_time);
    return before !== undefined && before !== incident.modification_time ? before : undefined;
  }

  markSent(incidents: readonly IncidentSummary[]): void {
    for (const { incident_id: id, modification_time: time } of incidents) {
      this.#sent.set(id, Math.max(time, this.#sent.get(id) ?? -1));
    }
  }

  /**
   * The record to save with `cursorAfter`: only what the next walk can read again, at most
   * MAX_SENT_RECORD_ENTRIES incidents (the oldest go first, and the record then starts after them).
   */
  recordFor(cursorAfter: IncidentCursor): SentVersionRecord {
    const horizon = cursorAfter.modificationTime - readBackMs(this.#windowMs);
    const kept = [...this.#sent].filter(([, time]) => time >= horizon).sort((a, b) => b[1] - a[1]);
    let completeFrom = Math.max(this.#completeFrom, horizon);
    if (kept.length > MAX_SENT_RECORD_ENTRIES) {
      const newestDropped = kept[MAX_SENT_RECORD_ENTRIES]?.[1] ?? horizon;
      kept.length = MAX_SENT_RECORD_ENTRIES;
      this.#truncated = true;
      completeFrom = Math.max(completeFrom, newestDropped + 1);
    }
    return { completeFrom, sent: Object.fromEntries(kept) };
  }
}

/** How far before the cursor a walk reads: the window and its overrun band. */
export function readBackMs(windowMs: number): number {
  return windowMs <= 0 ? 0 : Math.round(windowMs * (1 + OVERRUN_BAND_SHARE));
}

/** What a walk found besides new versions, counted for the run's metrics. */
export interface WindowFindings {
  late: number;
  beyondWindow: number;
  olderThanSent: number;
  listedTwice: number;
  /** Per late version: seconds from its modification_time to the poll that found it. */
  latenessSeconds: number[];
  restrictedIds: Set<string>;
}

export function noFindings(): WindowFindings {
  return {
    late: 0,
    beyondWindow: 0,
    olderThanSent: 0,
    listedTwice: 0,
    latenessSeconds: [],
    restrictedIds: new Set(),
  };
}

interface WarnLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

/** The page's versions to queue (new, late, beyond the window), reporting each anomaly at WARN. */
export function versionsToSend(
  incidents: readonly IncidentSummary[],
  window: LateArrivalWindow,
  polledAt: number,
  findings: WindowFindings,
  logger: WarnLogger,
): IncidentSummary[] {
  const send: IncidentSummary[] = [];
  for (const incident of incidents) {
    const version = { incident_id: incident.incident_id, modification_time: incident.modification_time };
    const before = window.listedBefore(incident);
    if (before !== undefined) {
      findings.listedTwice++;
      logger.warn("get_incidents listed an incident twice in one walk at different modification times", {
        ...version,
        listed_before: before,
      });
    }
    const kind = window.classify(incident);
    if (kind === "sent") continue;
    if (kind === "older_than_sent") {
      findings.olderThanSent++;
      logger.warn(
        "get_incidents listed a version older than one already sent for this incident; not queued",
        {
          ...version,
        },
      );
      continue;
    }
    if (kind !== "new") {
      findings.late++;
      findings.latenessSeconds.push(Math.max(0, (polledAt - incident.modification_time) / 1000));
    }
    if (kind === "beyond_window") {
      findings.beyondWindow++;
      logger.warn(
        "A version was listed later than the late-arrival window; queued now, but widen the window",
        {
          ...version,
          lateness_seconds: Math.round((polledAt - incident.modification_time) / 1000),
        },
      );
    }
    send.push(incident);
  }
  return send;
}
