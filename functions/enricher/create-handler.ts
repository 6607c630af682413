// The enricher's SQS batch handler, built from its collaborators so Lambda, the local runner and the
// tests run the same code. One handler is one Lambda container: what outlives an invocation (the pacers'
// slots, the priority lane, whether the tenant offers the batch endpoint) lives here; each invocation is
// run by invocation.ts.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { ChangeEventPublisher } from "../shared/change-event-publisher.ts";
import type { BatchExtraDataSource, ExtraDataSource, IncidentLookup } from "../shared/cortex/api.ts";
import type { NotifySeverity } from "../shared/cortex/vocabulary.ts";
import type { InvocationContext } from "../shared/invocation-context.ts";
import type { EnricherMode } from "../shared/lambda-environment.ts";
import { type ApiBudgetPacer, createApiBudgetPacer } from "../shared/pacing.ts";
import { runInvocation } from "./invocation.ts";
import { createPriorityLane, type PriorityLane } from "./priority-lane.ts";
import { throttleBackoffSeconds } from "./redelivery.ts";

export type { InvocationContext } from "../shared/invocation-context.ts";
export { throttleBackoffSeconds } from "./redelivery.ts";

export interface EnricherDependencies {
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  bucket: string;
  queueUrl: string;
  topicArn: string;
  extraData: ExtraDataSource;
  /** get_multiple_incidents_extra_data; without it the mode is single. */
  batchExtraData?: BatchExtraDataSource;
  /** Default auto (single without batchExtraData). */
  mode?: EnricherMode;
  /** The batch endpoint's own calls per minute, tenant-wide (undocumented; default 10 like the single one). */
  batchBudgetPerMinute?: number;
  /** Confirms a "not found" answer before it is recorded (get_incidents by id); without it one answer is taken as proof. */
  incidentLookup?: IncidentLookup;
  alertsLimit: number;
  budgetPerMinute: number;
  maxConcurrency: number;
  notifyMinSeverity: NotifySeverity;
  consoleBaseUrl?: string;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** The least guard per API slot in ms (default: 2% of the slot alone; a time-compressed test sets a floor). */
  pacingMinGuardMs?: number;
  /** Visibility timeout (s) for a throttled message by its receive count; default throttleBackoffSeconds. */
  throttleBackoff?: (receiveCount: number) => number;
  /** Time kept free before the Lambda timeout: no API call starts later (default 35 s: one 30 s request plus the writes). */
  deadlineMarginMs?: number;
  /** The priority queue, drained before each API call (none: no priority lane). */
  priorityQueueUrl?: string | undefined;
  /** Sends each archived version's change event to EventBridge, after each record and each batch call. */
  changeEvents?: ChangeEventPublisher | undefined;
}

export type EnricherHandler = (event: SQSEvent, context: InvocationContext) => Promise<SQSBatchResponse>;

const DEFAULT_DEADLINE_MARGIN_MS = 35_000;
/** After a 404 from the batch endpoint (mode auto), how long this container uses single calls before asking again. */
export const BATCH_RETRY_AFTER_MS = 3_600_000;
export const DEFAULT_BATCH_BUDGET_PER_MINUTE = 10;

/** What outlives one invocation: one per Lambda container. */
export interface EnricherContainer {
  deps: EnricherDependencies;
  now: () => number;
  /** Slots of the single-incident endpoint's budget. */
  pacer: ApiBudgetPacer;
  /** Slots of the batch endpoint's own budget. */
  batchPacer: ApiBudgetPacer;
  mode: EnricherMode;
  /**
   * Batch and auto mode hold the single endpoint's slot from each invocation's start instead of to its
   * end: the wait then overlaps the batch phase, and an invocation without single calls waits for none.
   * Fixed per container (by the configured mode, not by a fallback), so every invocation keeps one rule.
   */
  singleSlotAtStart: boolean;
  lane: PriorityLane | undefined;
  deadlineMarginMs: number;
  throttleBackoff: (receiveCount: number) => number;
  batchRetryAfterMs: number;
  /** Mode auto on a tenant without the batch endpoint: single calls until then (epoch ms). */
  batchUnavailableUntil: number;
}

export function createEnricherContainer(deps: EnricherDependencies): EnricherContainer {
  const now = deps.now ?? Date.now;
  const pacing = {
    maxConcurrency: deps.maxConcurrency,
    now,
    ...(deps.sleep && { sleep: deps.sleep }),
    ...(deps.pacingMinGuardMs !== undefined && { minGuardMs: deps.pacingMinGuardMs }),
  };
  const { sqs, priorityQueueUrl, logger, metrics } = deps;
  const mode = deps.batchExtraData === undefined ? "single" : (deps.mode ?? "auto");
  return {
    deps,
    now,
    pacer: createApiBudgetPacer({ ...pacing, budgetPerMinute: deps.budgetPerMinute }),
    batchPacer: createApiBudgetPacer({
      ...pacing,
      budgetPerMinute: deps.batchBudgetPerMinute ?? DEFAULT_BATCH_BUDGET_PER_MINUTE,
    }),
    mode,
    singleSlotAtStart: mode !== "single",
    lane:
      priorityQueueUrl === undefined
        ? undefined
        : createPriorityLane({ sqs, queueUrl: priorityQueueUrl, logger, metrics }),
    deadlineMarginMs: deps.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS,
    throttleBackoff: deps.throttleBackoff ?? throttleBackoffSeconds,
    batchRetryAfterMs: BATCH_RETRY_AFTER_MS,
    batchUnavailableUntil: 0,
  };
}

export function createEnricherHandler(deps: EnricherDependencies): EnricherHandler {
  const container = createEnricherContainer(deps);
  return (event, invocation) => runInvocation(container, event, invocation);
}
