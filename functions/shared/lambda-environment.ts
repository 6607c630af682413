// Environment variables the stack sets and the handlers read at cold start: one schema per function,
// so a missing or malformed value fails the cold start naming the variable. No secret ever goes here.
import { z } from "zod";
import { DEFAULT_LATE_WINDOW_MINUTES } from "../poller/late-window.ts";
import { CORTEX_PRODUCTS, DEFAULT_NOTIFY_MIN_SEVERITY, NOTIFY_SEVERITIES } from "./cortex/vocabulary.ts";

const product = z.enum(CORTEX_PRODUCTS);

/**
 * How the enricher fetches extra data. auto: get_multiple_incidents_extra_data for up to 100 incidents a
 * call, single calls where the tenant lacks it (404) and for incidents whose alerts it cut; batch: the
 * same without the fallback; single: get_incident_extra_data for every version (the first version's way).
 */
export const ENRICHER_MODES = ["auto", "batch", "single"] as const;
export type EnricherMode = (typeof ENRICHER_MODES)[number];
const severity = z.enum(NOTIFY_SEVERITIES);

export const pollerEnvironmentSchema = z.object({
  ARCHIVE_BUCKET: z.string().min(3),
  INCIDENT_QUEUE_URL: z.url(),
  CORTEX_SECRET_ARN: z.string().min(1),
  CORTEX_API_URL: z.url(),
  CORTEX_PRODUCT: product,
  /** JSON array of extra get_incidents filters ANDed with the cursor filter, e.g. a status filter. */
  INCIDENT_FILTERS: z.string().default("[]"),
  FIRST_RUN_LOOKBACK_MINUTES: z.coerce.number().int().positive().default(1440),
  /** The priority lane: versions at or above NOTIFY_MIN_SEVERITY are also hinted here (unset: no hints). */
  PRIORITY_QUEUE_URL: z.url().optional(),
  NOTIFY_MIN_SEVERITY: severity.default("high"),
  /** Polls start this often inside one scheduled invocation... */
  POLL_INTERVAL_SECONDS: z.coerce.number().int().positive().default(60),
  /** ...within the schedule's period, so the invocation ends before the next tick. */
  POLL_WINDOW_SECONDS: z.coerce.number().int().positive().default(60),
  /** How late after its modification_time a listed version is still found (0 = off). */
  LATE_ARRIVAL_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(DEFAULT_LATE_WINDOW_MINUTES * 60),
});
export type PollerEnvironment = z.infer<typeof pollerEnvironmentSchema>;

export const enricherEnvironmentSchema = z.object({
  ARCHIVE_BUCKET: z.string().min(3),
  INCIDENT_QUEUE_URL: z.url(),
  INCIDENT_TOPIC_ARN: z.string().min(1),
  CORTEX_SECRET_ARN: z.string().min(1),
  CORTEX_API_URL: z.url(),
  CORTEX_PRODUCT: product,
  ALERTS_LIMIT: z.coerce.number().int().min(1).max(1000).default(1000),
  API_BUDGET_PER_MINUTE: z.coerce.number().positive().default(10),
  BATCH_API_BUDGET_PER_MINUTE: z.coerce.number().positive().default(10),
  ENRICHER_MODE: z.enum(ENRICHER_MODES).default("auto"),
  MAX_CONCURRENCY: z.coerce.number().int().min(2).default(2),
  NOTIFY_MIN_SEVERITY: severity.default(DEFAULT_NOTIFY_MIN_SEVERITY),
  /** Drained before each API call (unset: no priority lane). */
  PRIORITY_QUEUE_URL: z.url().optional(),
  /** Where each archived version's change event goes ("default": the account's default bus; unset: no events). */
  EVENT_BUS_NAME: z.string().min(1).optional(),
});
export type EnricherEnvironment = z.infer<typeof enricherEnvironmentSchema>;
