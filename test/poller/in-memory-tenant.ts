// A small in-memory Cortex tenant implementing IncidentSource with the same keyset semantics the real
// client promises: modification_time ascending, `gte` the cursor minus the ids already handled at it,
// each page re-queried against the live data (so an incident modified mid-walk moves to the end).
import type {
  CallOptions,
  IncidentCursor,
  IncidentFilterInput,
  IncidentPage,
  IncidentSource,
  IncidentSummary,
} from "../../functions/shared/cortex/api.ts";

export interface InMemoryTenantOptions {
  pageSize?: number;
  now?: () => number;
}

export class InMemoryTenant implements IncidentSource {
  readonly pageSize: number;
  readonly #now: () => number;
  readonly #incidents = new Map<string, IncidentSummary>();
  /** Runs before each page is queried (page numbers count from 1 per walk): modify data, move a clock. */
  beforePage: ((pageNumber: number) => void | Promise<void>) | undefined;
  /** When set, the next query throws it (an access error, for instance). */
  failure: Error | undefined;
  /** The options of the last walk, to check what the poller passed. */
  lastOptions: (CallOptions & { filters?: readonly IncidentFilterInput[] }) | undefined;
  queries = 0;

  constructor(options: InMemoryTenantOptions = {}) {
    this.pageSize = options.pageSize ?? 100;
    this.#now = options.now ?? Date.now;
  }

  /** Adds or replaces an incident (a new version when its modification_time changed). */
  put(
    incident: Partial<IncidentSummary> & { incident_id: string; modification_time: number },
  ): IncidentSummary {
    const full: IncidentSummary = {
      creation_time: incident.modification_time,
      severity: "medium",
      status: "new",
      incident_name: `Incident ${incident.incident_id}`,
      alert_count: 1,
      ...incident,
    };
    this.#incidents.set(full.incident_id, full);
    return full;
  }

  /** A new version of an existing incident. */
  modify(incidentId: string, modificationTime: number, changes: Partial<IncidentSummary> = {}): void {
    const current = this.#incidents.get(incidentId);
    if (current === undefined) throw new RangeError(`no incident ${incidentId} in the in-memory tenant`);
    this.#incidents.set(incidentId, { ...current, ...changes, modification_time: modificationTime });
  }

  /** Every current version as "id@modification_time". */
  currentVersions(): string[] {
    return [...this.#incidents.values()].map(versionKey);
  }

  async *incidentsModifiedSince(
    cursor: IncidentCursor,
    options: CallOptions & { filters?: readonly IncidentFilterInput[] } = {},
  ): AsyncIterable<IncidentPage> {
    this.lastOptions = options;
    let position: IncidentCursor = {
      modificationTime: cursor.modificationTime,
      idsAtCursor: [...cursor.idsAtCursor],
    };
    for (let pageNumber = 1; ; pageNumber++) {
      if (options.deadline !== undefined && this.#now() >= options.deadline) return;
      await this.beforePage?.(pageNumber);
      this.queries++;
      if (this.failure !== undefined) throw this.failure;
      const handled = new Set(position.idsAtCursor);
      const at = position.modificationTime;
      const page = [...this.#incidents.values()]
        .filter(
          (i) => i.modification_time > at || (i.modification_time === at && !handled.has(i.incident_id)),
        )
        .sort(
          (a, b) => a.modification_time - b.modification_time || a.incident_id.localeCompare(b.incident_id),
        )
        .slice(0, this.pageSize)
        .map((i) => ({ ...i }));
      const last = page.at(-1);
      if (last === undefined) return;
      const idsAtLast = page
        .filter((i) => i.modification_time === last.modification_time)
        .map((i) => i.incident_id);
      position = {
        modificationTime: last.modification_time,
        idsAtCursor: last.modification_time === at ? [...position.idsAtCursor, ...idsAtLast] : idsAtLast,
      };
      yield { incidents: page, cursor: position };
    }
  }
}

export function versionKey(incident: { incident_id: string; modification_time: number }): string {
  return `${incident.incident_id}@${incident.modification_time}`;
}
