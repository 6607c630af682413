// The poller's configuration, read once at cold start from the environment the stack sets.
import { z } from "zod";
import type { CortexProduct, IncidentFilterInput } from "../shared/cortex/api.ts";
import { CortexApiError } from "../shared/cortex/errors.ts";
import { parseIncidentFilters } from "../shared/cortex/request.ts";
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
}

/** The environment is missing a variable or holds a malformed one; the message names it. */
export class PollerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PollerConfigError";
  }
}

const filtersSchema = z.array(
  z.object({ field: z.string().min(1), operator: z.string().min(1), value: z.unknown() }),
);

export function readPollerConfig(env: Record<string, string | undefined>): PollerConfig {
  const parsed = pollerEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new PollerConfigError(`Poller environment is invalid:\n${z.prettifyError(parsed.error)}`);
  }
  let filtersJson: unknown;
  try {
    filtersJson = JSON.parse(parsed.data.INCIDENT_FILTERS);
  } catch {
    throw new PollerConfigError(
      'INCIDENT_FILTERS is not JSON; expected an array such as [{"field":"status","operator":"eq","value":"new"}].',
    );
  }
  const filters = filtersSchema.safeParse(filtersJson);
  if (!filters.success) {
    throw new PollerConfigError(
      `INCIDENT_FILTERS must be an array of {field, operator, value}:\n${z.prettifyError(filters.error)}`,
    );
  }
  const product = parsed.data.CORTEX_PRODUCT;
  try {
    // The client would reject them on every run; say so once, at cold start, naming the variable.
    parseIncidentFilters(filters.data, product);
  } catch (error) {
    if (error instanceof CortexApiError) throw new PollerConfigError(`INCIDENT_FILTERS: ${error.message}`);
    throw error;
  }
  return {
    bucket: parsed.data.ARCHIVE_BUCKET,
    queueUrl: parsed.data.INCIDENT_QUEUE_URL,
    secretArn: parsed.data.CORTEX_SECRET_ARN,
    apiUrl: parsed.data.CORTEX_API_URL,
    product,
    filters: filters.data.map((f) => ({ field: f.field, operator: f.operator, value: f.value })),
    firstRunLookbackMs: parsed.data.FIRST_RUN_LOOKBACK_MINUTES * 60_000,
    priority:
      parsed.data.PRIORITY_QUEUE_URL === undefined
        ? undefined
        : { queueUrl: parsed.data.PRIORITY_QUEUE_URL, minSeverity: parsed.data.NOTIFY_MIN_SEVERITY },
    pollIntervalMs: parsed.data.POLL_INTERVAL_SECONDS * 1000,
    pollWindowMs: parsed.data.POLL_WINDOW_SECONDS * 1000,
  };
}
