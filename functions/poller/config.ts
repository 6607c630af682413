// The poller's configuration, read once at cold start from the environment the stack sets.
import { z } from "zod";
import type { CortexProduct, IncidentFilterInput } from "../shared/cortex/api.ts";
import { IncidentFilterConfigError, parseIncidentFiltersJson } from "../shared/cortex/filter-config.ts";
import { pollerEnvironmentSchema } from "../shared/lambda-environment.ts";
import type { PriorityRouting } from "./priority-hints.ts";

export interface PollerConfig {
  bucket: string;
  queueUrl: string;
  secretArn: string;
  apiUrl: string;
  product: CortexProduct;
  filters: IncidentFilterInput[];
  firstRunLookbackMs: number;
  priority: PriorityRouting | undefined;
  pollIntervalMs: number;
  pollWindowMs: number;
  lateWindowMs: number;
}

/** The environment is missing a variable or holds a malformed one; the message names it. */
export class PollerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PollerConfigError";
  }
}

export function readPollerConfig(env: Record<string, string | undefined>): PollerConfig {
  const parsed = pollerEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new PollerConfigError(`Poller environment is invalid:\n${z.prettifyError(parsed.error)}`);
  }
  const product = parsed.data.CORTEX_PRODUCT;
  let filters: IncidentFilterInput[];
  try {
    // The client would reject them on every run; say so once, at cold start, naming the variable.
    filters = parseIncidentFiltersJson(parsed.data.INCIDENT_FILTERS, product, "INCIDENT_FILTERS");
  } catch (error) {
    if (error instanceof IncidentFilterConfigError) throw new PollerConfigError(error.message);
    throw error;
  }
  return {
    bucket: parsed.data.ARCHIVE_BUCKET,
    queueUrl: parsed.data.INCIDENT_QUEUE_URL,
    secretArn: parsed.data.CORTEX_SECRET_ARN,
    apiUrl: parsed.data.CORTEX_API_URL,
    product,
    filters,
    firstRunLookbackMs: parsed.data.FIRST_RUN_LOOKBACK_MINUTES * 60_000,
    priority:
      parsed.data.PRIORITY_QUEUE_URL === undefined
        ? undefined
        : { queueUrl: parsed.data.PRIORITY_QUEUE_URL, minSeverity: parsed.data.NOTIFY_MIN_SEVERITY },
    pollIntervalMs: parsed.data.POLL_INTERVAL_SECONDS * 1000,
    pollWindowMs: parsed.data.POLL_WINDOW_SECONDS * 1000,
    lateWindowMs: parsed.data.LATE_ARRIVAL_WINDOW_SECONDS * 1000,
  };
}
