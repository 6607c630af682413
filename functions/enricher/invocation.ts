// One invocation of the enricher: its records read once, then the batch phase (batch mode) and the
// single-incident phase side by side: the batch phase hands the single phase whatever it cannot settle
// as soon as it knows it. Afterwards the records that must come back are set to come back as they
// should, the last API slots are held to their end, and the partial batch response is returned.
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { BatchExtraDataSource } from "../shared/cortex/api.ts";
import { isCortexError } from "../shared/cortex/errors.ts";
import type { InvocationContext } from "../shared/invocation-context.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import type { ApiBudgetPacer } from "../shared/pacing.ts";
import { runBatchPhase } from "./batch-phase.ts";
import type { EnrichmentContext } from "./context.ts";
import type { EnricherContainer } from "./create-handler.ts";
import { BATCH_MAX_INCIDENTS } from "./enrich-batch.ts";
import { enrichIncidentVersion } from "./enrich-incident.ts";
import { InvocationLedger } from "./ledger.ts";
import { type PriorityLane, priorityFirst, type ServeHint } from "./priority-lane.ts";
import { type ParsedRecord, parseRecords } from "./records.ts";
import { delayRedelivery, receiveCount } from "./redelivery.ts";
import { requeueUnstarted } from "./requeue.ts";
import { enrichRecord, SingleLane } from "./single-lane.ts";

/** Waiting out the last slot may use the margin, but never the last second of the invocation. */
const FINAL_MARGIN_MS = 1_000;

interface Invocation {
  container: EnricherContainer;
  ledger: InvocationLedger;
  /** The single phase's context: its pacer serves the priority lane's waiting hints first. */
  context: EnrichmentContext;
  /** Whether the invocation had served any priority hint with a single call. */
  servedHints: () => boolean;
  batching: boolean;
  endsAt: number;
}

/**
 * Serves a priority hint like any message, with the slot the pacer already holds, then deletes it. A
 * throttle or an access problem stops the batch as it would for the message itself; any other failure
 * leaves the hint to come back (its ordinary copy is queued anyway).
 */
function serveHint(
  lane: PriorityLane,
  context: () => EnrichmentContext,
  ledger: InvocationLedger,
): ServeHint {
  return async (hint, slot) => {
    const log = context().logger.createChild();
    log.appendKeys({ incident_id: hint.message.incident_id, message_id: hint.messageId, lane: "priority" });
    try {
      const outcome = await enrichIncidentVersion({ ...context(), logger: log, pacer: slot }, hint.message);
      ledger.count(`priority_${outcome.kind}`);
      await lane.done([hint]);
    } catch (error) {
      if (isCortexError(error) && (error.kind === "throttled" || error.isAccessProblem)) throw error;
      ledger.count("priority_failed");
      log.error("Could not serve a priority hint; it comes back, and its ordinary copy is queued", { error });
    }
  };
}

function startInvocation(container: EnricherContainer, invocation: InvocationContext): Invocation {
  const { deps, pacer, lane } = container;
  const invokedAt = container.now();
  const endsAt = invokedAt + invocation.getRemainingTimeInMillis();
  const ledger = new InvocationLedger();
  // Before each single call the lane's waiting hints go first (in batch mode they also ride first in
  // each batch call, batch-phase.ts): an invocation busy with single calls still serves them.
  const prioritized =
    lane === undefined
      ? undefined
      : priorityFirst(
          pacer,
          lane,
          serveHint(lane, () => context, ledger),
        );
  const context: EnrichmentContext = {
    s3: deps.s3,
    sns: deps.sns,
    bucket: deps.bucket,
    topicArn: deps.topicArn,
    extraData: deps.extraData,
    incidentLookup: deps.incidentLookup,
    alertsLimit: deps.alertsLimit,
    notifyMinSeverity: deps.notifyMinSeverity,
    consoleBaseUrl: deps.consoleBaseUrl,
    logger: deps.logger,
    metrics: deps.metrics,
    pacer: prioritized ?? pacer,
    now: container.now,
    deadline: endsAt - container.deadlineMarginMs,
    invocationEndsAt: endsAt,
    servedByPriorityLane: prioritized?.servedIncidents,
    changeEvents: deps.changeEvents,
  };
  if (container.singleSlotAtStart) pacer.holdSlotFrom(invokedAt);
  const batching = container.mode !== "single" && invokedAt >= container.batchUnavailableUntil;
  const servedHints = () => (prioritized?.servedIncidents.size ?? 0) > 0;
  return { container, ledger, context, servedHints, batching, endsAt };
}

/** The batch phase, handing the single phase what it cannot settle; remembers a tenant without the endpoint. */
async function batchPhase(run: Invocation, single: SingleLane, records: readonly ParsedRecord[]) {
  const { container } = run;
  const context = {
    ...run.context,
    pacer: container.pacer,
    batchExtraData: container.deps.batchExtraData as BatchExtraDataSource,
    batchPacer: container.batchPacer,
  };
  const fallBackToSingle = container.mode === "auto";
  const phase = await runBatchPhase(
    { context, lane: container.lane, fallBackToSingle, ledger: run.ledger, toSingle: (r) => single.add(r) },
    records,
  );
  if (phase.unavailable && fallBackToSingle)
    container.batchUnavailableUntil = container.now() + container.batchRetryAfterMs;
}

/**
 * A short batch (fewer records than one batch call takes) means the queue had no more: the other
 * instances are most likely idle. The single calls beyond this invocation's share (1 / max concurrency)
 * go back to the queue at once, for them to make with their own share of the budget; whatever cannot be
 * handed back stays here.
 */
async function spreadSingleCalls(run: Invocation, single: SingleLane, records: number): Promise<void> {
  const { deps } = run.container;
  if (records >= BATCH_MAX_INCIDENTS) return;
  const released = single.release(Math.ceil(single.handedOver / deps.maxConcurrency));
  if (released.length === 0) return;
  const why = "for single calls another instance can make sooner";
  const queued = await requeueUnstarted(
    deps,
    released.map((parsed) => parsed.record),
    why,
  );
  single.add(released.filter((parsed) => !queued.has(parsed.record.messageId)));
}

/** Throttled records back after a growing backoff; unstarted ones handed back to the queue soon. */
async function returnUnfinished(run: Invocation): Promise<void> {
  const { container, ledger } = run;
  const { deps } = container;
  if (ledger.throttled.length > 0) {
    await delayRedelivery(deps, ledger.throttled, (record) =>
      container.throttleBackoff(receiveCount(record)),
    );
  }
  if (ledger.deferred.length === 0) return;
  // Batch and auto mode take up to 100 messages an invocation: unstarted ones would otherwise climb
  // towards the DLQ's receive count untried (also while auto mode falls back to single calls).
  if (container.mode !== "single") {
    ledger.acknowledge(await requeueUnstarted(deps, ledger.deferred));
  } else if (run.servedHints()) {
    // Records the priority lane's calls pushed past the deadline were never tried: back after one slot,
    // not after the queue's visibility timeout (6x the function timeout).
    await delayRedelivery(deps, ledger.deferred, () => Math.ceil(container.pacer.intervalMs / 1000));
  }
}

/** Holds the last calls' slots to their end: the next invocation may run in a container without this pacer state. */
async function holdSlots(pacers: readonly ApiBudgetPacer[], endsAt: number): Promise<void> {
  for (const pacer of pacers) await pacer.waitOutSlot(endsAt - FINAL_MARGIN_MS);
}

/** The invocation's one summary line, and how many records it returned without having tried them. */
function reportDone(run: Invocation, event: SQSEvent, failures: number): void {
  const { logger, metrics } = run.container.deps;
  const notStarted = run.ledger.returnedUnstarted;
  if (notStarted > 0) metrics.addMetric(EnricherMetric.NotStarted, MetricUnit.Count, notStarted);
  logger.info("Batch done", {
    records: event.Records.length,
    mode: run.batching ? "batch" : "single",
    failures,
    not_started: notStarted,
    outcomes: run.ledger.outcomes,
  });
}

export async function runInvocation(
  container: EnricherContainer,
  event: SQSEvent,
  invocation: InvocationContext,
): Promise<SQSBatchResponse> {
  const { metrics } = container.deps;
  try {
    return await enrichEvent(container, event, invocation);
  } finally {
    // Published per invocation, whatever happened in it (the poller publishes per run: run-report.ts).
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}

async function enrichEvent(
  container: EnricherContainer,
  event: SQSEvent,
  invocation: InvocationContext,
): Promise<SQSBatchResponse> {
  const run = startInvocation(container, invocation);
  const { ledger } = run;
  const { logger, changeEvents } = container.deps;
  const records = parseRecords(event.Records, (record, error) => {
    ledger.count("invalid");
    logger.error("Rejected an invalid queue message", { message_id: record.messageId, error });
    ledger.fail([record]);
  });
  const single = new SingleLane((record) =>
    enrichRecord({ context: run.context, ledger, changeEvents }, record),
  );
  if (run.batching) {
    await batchPhase(run, single, records);
    await spreadSingleCalls(run, single, event.Records.length);
  } else single.add(records);
  await changeEvents?.flush();
  await single.drained();
  await changeEvents?.flush();
  await returnUnfinished(run);
  await holdSlots(
    container.singleSlotAtStart ? [container.batchPacer] : [container.pacer, container.batchPacer],
    run.endsAt,
  );
  const batchItemFailures = [...ledger.failed].map((itemIdentifier) => ({ itemIdentifier }));
  reportDone(run, event, batchItemFailures.length);
  return { batchItemFailures };
}
