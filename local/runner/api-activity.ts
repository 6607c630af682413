// Counts every Cortex API attempt the client reports, for the status view and the summary.
import type { CortexErrorKind } from "../../functions/shared/cortex/errors.ts";

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

export class ApiActivity {
  calls = 0;
  throttled = 0;
  extraDataCalls = 0;
  /** The first attempt answered with a credential, license or permission error. */
  accessDenied: ApiAttempt | undefined;
  readonly #extraDataTimes: number[] = [];
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Pass as the CortexClient's `observer`. */
  readonly observe = (attempt: ApiAttempt): void => {
    this.calls += 1;
    if (attempt.status === 429 || attempt.errorKind === "throttled") this.throttled += 1;
    if (attempt.path.includes("extra_data")) {
      this.extraDataCalls += 1;
      this.#extraDataTimes.push(this.#now());
    }
    if (
      this.accessDenied === undefined &&
      attempt.errorKind !== undefined &&
      ACCESS_KINDS.has(attempt.errorKind)
    ) {
      this.accessDenied = attempt;
    }
  };

  /** Extra-data calls in the last minute: the budget that paces the enricher. */
  extraDataCallsLastMinute(): number {
    const since = this.#now() - WINDOW_MS;
    while (this.#extraDataTimes.length > 0 && (this.#extraDataTimes[0] as number) <= since)
      this.#extraDataTimes.shift();
    return this.#extraDataTimes.length;
  }
}
