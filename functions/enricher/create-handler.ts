// The enricher's SQS batch handler, built from its collaborators so Lambda, the local runner and the
// tests run the same code. One handler instance is one Lambda container: its pacer state lives here.
// Records are processed one after another; after a throttle, an access problem or near the deadline,
// the rest of the batch is returned unstarted (partial batch response) and comes back later.
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import type { ChangeEventPublisher } from "../shared/change-event-publisher.ts";
import type { BatchExtraDataSource, ExtraDataSource, IncidentLookup } from "../shared/cortex/api.ts";
import { isCortexError } from "../shared/cortex/errors.ts";
import type { NotifySeverity } from "../shared/cortex/vocabulary.ts";
import type { EnricherMode } from "../shared/lambda-environment.ts";
import { type ApiBudgetPacer, createApiBudgetPacer } from "../shared/pacing.ts";
import { type IncidentVersionMessage, incidentVersionMessageSchema } from "../shared/queue-message.ts";
import { type ParsedRecord, runBatchPhase } from "./batch-phase.ts";
import type { BatchEnrichmentContext } from "./enrich-batch.ts";
import { type EnrichmentContext, enrichIncidentVersion } from "./enrich-incident.ts";
import { InvalidQueueMessageError, MessageNotStartedError, type NotStartedReason } from "./errors.ts";
import { createPriorityLane, type PriorityLane, priorityFirst, type ServeHint } from "./priority-lane.ts";
import { requeueUnstarted } from "./requeue.ts";

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
  /** Visibility timeout (s) for a throttled message by its receive count; default throttleBackoffSeconds. */
  throttleBackoff?: (receiveCount: number) => number;
  /** Time kept free before the Lambda timeout: no API call starts later (default 35 s: one 30 s request plus the writes). */
  deadlineMarginMs?: number;
  /** The priority queue, drained before each API call (none: no priority lane). */
  priorityQueueUrl?: string | undefined;
  /** Sends each archived version's change event to EventBridge, after each record and each batch call. */
  changeEvents?: ChangeEventPublisher | undefined;
}

export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export type EnricherHandler = (event: SQSEvent, context: InvocationContext) => Promise<SQSBatchResponse>;

const DEFAULT_DEADLINE_MARGIN_MS = 35_000;
/** Waiting out the last slot may use the margin, but never the last second of the invocation. */
const FINAL_MARGIN_MS = 1_000;
const THROTTLE_BACKOFF_BASE_SECONDS = 60;
const THROTTLE_BACKOFF_MAX_SECONDS = 900;
/** After a 404 from the batch endpoint (mode auto), how long this container uses single calls before asking again. */
export const BATCH_RETRY_AFTER_MS = 3_600_000;
export const DEFAULT_BATCH_BUDGET_PER_MINUTE = 10;

/** A minute (one budget window) on the first throttle, doubling per receive, at most 15 minutes. */
export function throttleBackoffSeconds(receiveCount: number): number {
  const exponent = Math.max(0, Math.min(receiveCount, 16) - 1);
  return Math.min(THROTTLE_BACKOFF_BASE_SECONDS * 2 ** exponent, THROTTLE_BACKOFF_MAX_SECONDS);
}

function receiveCount(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) && count >= 1 ? count : 1;
}

const sleepFor = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function parseMessage(record: SQSRecord): IncidentVersionMessage {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    throw new InvalidQueueMessageError(record.messageId, `body is not JSON: ${(error as Error).message}`);
  }
  const parsed = incidentVersionMessageSchema.safeParse(body);
  if (!parsed.success) {
    throw new InvalidQueueMessageError(record.messageId, z.prettifyError(parsed.error).replace(/\n/g, "; "));
  }
  return parsed.data;
}

/**
 * Serves a priority hint like any message, with the slot the pacer already holds, then deletes it. A
 * throttle or an access problem stops the batch as it would for the message itself; any other failure
 * leaves the hint to come back (its ordinary copy is queued anyway).
 */
function serveHint(
  lane: PriorityLane,
  logger: Logger,
  enrichment: (log: Logger, slots: ApiBudgetPacer) => EnrichmentContext,
  count: (outcome: string) => void,
): ServeHint {
  return async (hint, slot) => {
    const log = logger.createChild();
    log.appendKeys({ incident_id: hint.message.incident_id, message_id: hint.messageId, lane: "priority" });
    try {
      const outcome = await enrichIncidentVersion(enrichment(log, slot), hint.message);
      count(`priority_${outcome.kind}`);
      await lane.done([hint]);
    } catch (error) {
      if (isCortexError(error) && (error.kind === "throttled" || error.isAccessProblem)) throw error;
      count("priority_failed");
      log.error("Could not serve a priority hint; it comes back, and its ordinary copy is queued", { error });
    }
  };
}

export function createEnricherHandler(deps: EnricherDependencies): EnricherHandler {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? sleepFor;
  const margin = deps.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const backoff = deps.throttleBackoff ?? throttleBackoffSeconds;
  const pacer = createApiBudgetPacer({
    budgetPerMinute: deps.budgetPerMinute,
    maxConcurrency: deps.maxConcurrency,
    now,
    sleep,
  });
  const mode: EnricherMode = deps.batchExtraData === undefined ? "single" : (deps.mode ?? "auto");
  const batchPacer = createApiBudgetPacer({
    budgetPerMinute: deps.batchBudgetPerMinute ?? DEFAULT_BATCH_BUDGET_PER_MINUTE,
    maxConcurrency: deps.maxConcurrency,
    now,
    sleep,
  });
  /** Mode auto on a tenant without the batch endpoint: single calls until then. */
  let batchUnavailableUntil = 0;
  const { logger } = deps;
  const lane =
    deps.priorityQueueUrl === undefined
      ? undefined
      : createPriorityLane({ sqs: deps.sqs, queueUrl: deps.priorityQueueUrl, logger, metrics: deps.metrics });

  /** Sets when failed messages come back: throttled ones later each time, others as `visibility` says. */
  async function delayRedelivery(
    records: readonly SQSRecord[],
    visibility: (record: SQSRecord) => number = (record) => backoff(receiveCount(record)),
  ): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      const entries = chunk.map((record, index) => ({
        Id: String(index),
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: visibility(record),
      }));
      try {
        const response = await deps.sqs.send(
          new ChangeMessageVisibilityBatchCommand({ QueueUrl: deps.queueUrl, Entries: entries }),
        );
        for (const failed of response.Failed ?? []) {
          logger.warn(
            "Could not set when a failed message comes back; it does after the queue's visibility timeout",
            {
              message_id: chunk[Number(failed.Id)]?.messageId,
              code: failed.Code,
              reason: failed.Message,
            },
          );
        }
      } catch (error) {
        // The messages are failed either way; without the backoff they return after the queue's visibility timeout.
        logger.warn(
          "Could not set when failed messages come back; they do after the queue's visibility timeout",
          {
            message_ids: chunk.map((record) => record.messageId),
            error,
          },
        );
      }
    }
  }

  return async (event, invocation) => {
    const invokedAt = now();
    const endsAt = invokedAt + invocation.getRemainingTimeInMillis();
    const deadline = endsAt - margin;
    let stopped: NotStartedReason | undefined;
    const throttled: SQSRecord[] = [];
    const deferred: SQSRecord[] = [];
    const outcomes: Record<string, number> = {};
    const count = (outcome: string) => {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    };
    const batching = mode !== "single" && invokedAt >= batchUnavailableUntil;
    const enrichment = (log: Logger, slots: ApiBudgetPacer): EnrichmentContext => ({
      s3: deps.s3,
      sns: deps.sns,
      bucket: deps.bucket,
      topicArn: deps.topicArn,
      extraData: deps.extraData,
      incidentLookup: deps.incidentLookup,
      alertsLimit: deps.alertsLimit,
      notifyMinSeverity: deps.notifyMinSeverity,
      consoleBaseUrl: deps.consoleBaseUrl,
      logger: log,
      metrics: deps.metrics,
      pacer: slots,
      now,
      deadline,
      invocationEndsAt: endsAt,
      servedByPriorityLane: prioritized?.servedIncidents,
      changeEvents: deps.changeEvents,
    });
    // Before each single call the lane's waiting hints go first (in batch mode they also ride first in
    // each batch call, batch-phase.ts): an invocation busy with single calls still serves them.
    const prioritized =
      lane === undefined ? undefined : priorityFirst(pacer, lane, serveHint(lane, logger, enrichment, count));
    const invocationPacer = prioritized ?? pacer;

    const processRecord = async (record: SQSRecord): Promise<void> => {
      if (stopped === undefined && now() >= deadline) stopped = "deadline";
      if (stopped !== undefined) {
        if (stopped === "throttled") throttled.push(record);
        if (stopped === "deadline") deferred.push(record);
        count(`not_started_${stopped}`);
        throw new MessageNotStartedError(record.messageId, stopped);
      }
      let message: IncidentVersionMessage;
      try {
        message = parseMessage(record);
      } catch (error) {
        count("invalid");
        logger.error("Rejected an invalid queue message", { message_id: record.messageId, error });
        throw error;
      }
      // A child logger per record: every line carries the incident id, even when the local runner
      // shares one logger between concurrent handler instances.
      const log = logger.createChild();
      log.appendKeys({ incident_id: message.incident_id, message_id: record.messageId });
      try {
        const outcome = await enrichIncidentVersion(enrichment(log, invocationPacer), message);
        await deps.changeEvents?.flush();
        if (outcome.kind === "deferred") {
          stopped = "deadline";
          deferred.push(record);
          count("not_started_deadline");
          log.info("No API slot left before the deadline; returning the rest of the batch");
          throw new MessageNotStartedError(record.messageId, "deadline");
        }
        count(outcome.kind);
      } catch (error) {
        if (error instanceof MessageNotStartedError) throw error;
        if (isCortexError(error, "throttled")) {
          stopped = "throttled";
          throttled.push(record);
          log.warn("Throttled by the Cortex API; stopping the batch and backing off the rest", { error });
        } else if (isCortexError(error) && (error.isAccessProblem || error.kind === "not_found")) {
          stopped = "access_problem";
          log.error(error.message, { error });
        } else {
          log.error("Could not enrich this incident version; it will be retried", { error });
        }
        count("failed");
        throw error;
      }
    };

    /** Batch mode: the batch endpoint first; what it leaves goes on to the single call below. */
    const batchFirst = async (): Promise<{ single: SQSRecord[]; failed: string[] }> => {
      const { parsed, invalid } = parseAll(event.Records, logger, count);
      const context: BatchEnrichmentContext = {
        ...enrichment(logger, pacer),
        batchExtraData: deps.batchExtraData as BatchExtraDataSource,
        batchPacer,
      };
      const phase = await runBatchPhase({ context, lane, fallBackToSingle: mode === "auto", count }, parsed);
      if (phase.unavailable && mode === "auto") batchUnavailableUntil = now() + BATCH_RETRY_AFTER_MS;
      throttled.push(...phase.throttled);
      deferred.push(...phase.deferred);
      if (phase.throttled.length > 0) stopped = "throttled";
      const failed = [...invalid, ...phase.failed, ...phase.throttled, ...phase.deferred];
      return { single: phase.single, failed: failed.map((record) => record.messageId) };
    };

    const first = batching ? await batchFirst() : { single: event.Records, failed: [] };
    await deps.changeEvents?.flush();
    const singleResponse =
      first.single.length === 0
        ? { batchItemFailures: [] }
        : await processPartialResponse(
            { Records: first.single },
            processRecord,
            new BatchProcessor(EventType.SQS),
            { processInParallel: false, throwOnFullBatchFailure: false },
          );
    let failures = new Set([
      ...first.failed,
      ...singleResponse.batchItemFailures.map((failure) => failure.itemIdentifier),
    ]);
    await deps.changeEvents?.flush();
    if (throttled.length > 0) await delayRedelivery(throttled);
    if (batching && deferred.length > 0) {
      const requeued = await requeueUnstarted(
        { sqs: deps.sqs, queueUrl: deps.queueUrl, logger, metrics: deps.metrics },
        deferred,
      );
      failures = new Set([...failures].filter((id) => !requeued.has(id)));
    } else if (deferred.length > 0 && (prioritized?.servedIncidents.size ?? 0) > 0) {
      // Records the priority lane's calls pushed past the deadline were never tried: back after one slot,
      // not after the queue's visibility timeout (6x the function timeout).
      await delayRedelivery(deferred, () => Math.ceil(pacer.intervalMs / 1000));
    }
    // Hold the last call's slot to its end: the next invocation may run in a container without this pacer state.
    await pacer.waitOutSlot(endsAt - FINAL_MARGIN_MS);
    await batchPacer.waitOutSlot(endsAt - FINAL_MARGIN_MS);
    const response: SQSBatchResponse = {
      batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })),
    };
    logger.info("Batch done", {
      records: event.Records.length,
      mode: batching ? "batch" : "single",
      failures: response.batchItemFailures.length,
      outcomes,
    });
    return response;
  };
}

/** Every record's message; an invalid one is counted, logged and failed (the DLQ after the receive count). */
function parseAll(
  records: readonly SQSRecord[],
  logger: Logger,
  count: (outcome: string) => void,
): { parsed: ParsedRecord[]; invalid: SQSRecord[] } {
  const parsed: ParsedRecord[] = [];
  const invalid: SQSRecord[] = [];
  for (const record of records) {
    try {
      parsed.push({ record, message: parseMessage(record) });
    } catch (error) {
      count("invalid");
      logger.error("Rejected an invalid queue message", { message_id: record.messageId, error });
      invalid.push(record);
    }
  }
  return { parsed, invalid };
}
