// What the tenant received: a request log (never the key) and per-endpoint counts, for tests and benchmarks.
import type { EmulatorEndpoint, EmulatorStats, EndpointStats, RequestLogEntry } from "./types.ts";

const ENDPOINTS = [
  "get_incidents",
  "get_incident_extra_data",
  "get_multiple_incidents_extra_data",
  "unknown",
] as const;
/** A long `npm start` must not grow without bound; counts in stats() stay exact beyond it. */
export const REQUEST_LOG_LIMIT = 100_000;

export class RequestJournal {
  private readonly entries: RequestLogEntry[] = [];
  private counts = ENDPOINTS.map((): EndpointStats => ({ calls: 0, throttled: 0, statuses: {} }));

  record(entry: RequestLogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > REQUEST_LOG_LIMIT) this.entries.shift();
    const stats = this.counts[ENDPOINTS.indexOf(entry.endpoint)];
    if (stats === undefined) return;
    stats.calls += 1;
    if (entry.status === 429) stats.throttled += 1;
    stats.statuses[entry.status] = (stats.statuses[entry.status] ?? 0) + 1;
  }

  requests(): RequestLogEntry[] {
    return structuredClone(this.entries);
  }

  stats(): EmulatorStats {
    const endpoints = Object.fromEntries(
      ENDPOINTS.map((name, i) => [name, structuredClone(this.counts[i] as EndpointStats)]),
    ) as Record<EmulatorEndpoint | "unknown", EndpointStats>;
    const all = Object.values(endpoints);
    return {
      requests: all.reduce((sum, stats) => sum + stats.calls, 0),
      throttled: all.reduce((sum, stats) => sum + stats.throttled, 0),
      endpoints,
    };
  }
}
