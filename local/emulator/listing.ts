// What get_incidents lists: the tenant's search index, which can show a change later than its
// modification_time (API-FACTS "Late listing"). Until a delayed version is indexed, the index keeps
// listing the incident's previous version (a brand-new incident is not listed at all); once a version is
// indexed, every older version still waiting is dropped, so the listing never goes back in time.
import type { EmulatedIncident } from "./types.ts";

interface PendingVersion {
  visibleAt: number;
  snapshot: EmulatedIncident;
}

export class IncidentListing {
  /** What the index shows now: the live record itself while nothing is pending, else a frozen copy. */
  private readonly shown = new Map<string, EmulatedIncident>();
  private readonly pending = new Map<string, PendingVersion[]>();

  /** Call before the record is changed in place, so a delayed change does not show through. */
  beforeChange(live: EmulatedIncident, delayMs: number): void {
    if (delayMs > 0 && this.shown.get(live.incident_id) === live) {
      this.shown.set(live.incident_id, structuredClone(live));
    }
  }

  /** Call after the record took its new version; with a delay, the index lists it only from modification_time + delay. */
  afterChange(live: EmulatedIncident, delayMs: number): void {
    const id = live.incident_id;
    if (delayMs <= 0) {
      this.pending.delete(id);
      this.shown.set(id, live);
      return;
    }
    const queue = this.pending.get(id) ?? [];
    queue.push({ visibleAt: live.modification_time + delayMs, snapshot: structuredClone(live) });
    this.pending.set(id, queue);
  }

  /** Every incident as the index lists it at `now`. */
  listed(now: number): EmulatedIncident[] {
    for (const [id, queue] of this.pending) this.index(id, queue, now);
    return [...this.shown.values()];
  }

  /** The version the index shows for one incident at `now` (undefined: not listed yet). */
  shownVersion(incidentId: string, now: number): EmulatedIncident | undefined {
    const queue = this.pending.get(incidentId);
    if (queue !== undefined) this.index(incidentId, queue, now);
    return this.shown.get(incidentId);
  }

  /** Moves the newest version due by `now` into the index and drops every older one still waiting. */
  private index(id: string, queue: PendingVersion[], now: number): void {
    let newest: PendingVersion | undefined;
    for (const entry of queue) {
      if (
        entry.visibleAt <= now &&
        entry.snapshot.modification_time > (newest?.snapshot.modification_time ?? -1)
      )
        newest = entry;
    }
    if (newest === undefined) return;
    const cutoff = newest.snapshot.modification_time;
    const left = queue.filter((entry) => entry.snapshot.modification_time > cutoff);
    this.shown.set(id, newest.snapshot);
    if (left.length === 0) this.pending.delete(id);
    else this.pending.set(id, left);
  }
}
