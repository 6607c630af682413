// Counts every Cortex API attempt the client reports, for the status view and the summary.
import type { CortexErrorKind } from "../../functions/shared/cortex/errors.ts";
import {
  CORTEX_API_PATHS,
  type CortexEndpoint,
  type ExtraDataEndpoint,
} from "../../functions/shared/cortex/paths.ts";

/** What the Cortex client's observer reports after each HTTP attempt. */
export interface ApiAttempt {
  path: string;
  attempt: number;
  status?: number;
  errorKind?: string;
  durationMs: number;
}

const ACCESS_KINDS: ReadonlySet<string> = new Set<CortexErrorKind>(["bad_key", "license", "permission"]);
const WINDOW_MS = 60_000;

/** The endpoint an attempt went to, by its path (with or without the trailing slash). */
export function endpointOf(path: string): CortexEndpoint | undefined {
  const bare = path.replace(/\/+$/, "");
  return (Object.keys(CORTEX_API_PATHS) as CortexEndpoint[]).find(
    (endpoint) => CORTEX_API_PATHS[endpoint].replace(/\/+$/, "") === bare,
  );
}

export class ApiActivity {
  calls = 0;
  throttled = 0;
  /** Attempts per endpoint, retries included: what the status view and the summary show. */
  readonly callsByEndpoint: Record<CortexEndpoint, number> = {
    get_incidents: 0,
    get_incident_extra_data: 0,
    get_multiple_incidents_extra_data: 0,
  };
  /** The first attempt answered with a credential, license or permission error. */
  accessDenied: ApiAttempt | undefined;
  readonly #recent: Record<ExtraDataEndpoint, number[]> = {
    get_incident_extra_data: [],
    get_multiple_incidents_extra_data: [],
  };
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Extra-data attempts of either endpoint. */
  get extraDataCalls(): number {
    return (
      this.callsByEndpoint.get_incident_extra_data + this.callsByEndpoint.get_multiple_incidents_extra_data
    );
  }

  /** Pass as the CortexClient's `observer`. */
  readonly observe = (attempt: ApiAttempt): void => {
    this.calls += 1;
    if (attempt.status === 429 || attempt.errorKind === "throttled") this.throttled += 1;
    const endpoint = endpointOf(attempt.path);
    if (endpoint !== undefined) this.callsByEndpoint[endpoint] += 1;
    if (endpoint !== undefined && endpoint !== "get_incidents") this.#recent[endpoint].push(this.#now());
    if (
      this.accessDenied === undefined &&
      attempt.errorKind !== undefined &&
      ACCESS_KINDS.has(attempt.errorKind)
    ) {
      this.accessDenied = attempt;
    }
  };

  /** Calls of an extra-data endpoint in the last minute: the budget that paces the enricher. */
  callsLastMinute(endpoint: ExtraDataEndpoint): number {
    const since = this.#now() - WINDOW_MS;
    const times = this.#recent[endpoint];
    while (times.length > 0 && (times[0] as number) <= since) times.shift();
    return times.length;
  }
}
