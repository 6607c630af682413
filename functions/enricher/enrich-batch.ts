// One call of get_multiple_incidents_extra_data for up to 100 incidents, each with a slot already held:
// every element of the reply is archived as its version's object (exactly as received), announced if due,
// and recorded. What the batch cannot settle goes on to the single-incident call: incidents whose alerts
// the batch cut (their partial object is archived and announced first) and ids the reply does not hold
// (absent is not proof of deletion: the single call confirms it). One element that fails never blocks
// the others.
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { quarantineReply } from "../shared/archive.ts";
import type { BatchExtraDataSource, ExtraDataResult } from "../shared/cortex/api.ts";
import { isCortexError } from "../shared/cortex/errors.ts";
import { elementIncidentId } from "../shared/cortex/schemas.ts";
import type { StoredIncidentState } from "../shared/incident-state.ts";
import { mapLimit } from "../shared/map-limit.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import type { ApiBudgetPacer } from "../shared/pacing.ts";
import type { IncidentVersionMessage } from "../shared/queue-message.ts";
import { type ArchivedOutcome, archiveFetchedVersion } from "./archive-version.ts";
import type { EnrichmentContext } from "./context.ts";
import { retriesPaced } from "./enrich-incident.ts";

/** The batch endpoint takes at most this many ids (its `search_to`). */
export const BATCH_MAX_INCIDENTS = 100;
/** A batch's incidents archived (and their state read) this many at a time: each is two or three S3 round trips. */
export const S3_CONCURRENCY = 16;

export interface BatchEnrichmentContext extends EnrichmentContext {
  batchExtraData: BatchExtraDataSource;
  /** Slots of the batch endpoint's own budget. */
  batchPacer: ApiBudgetPacer;
}

export type BatchOutcome =
  /** Per incident id: archived from the batch, or why it needs the single call, or the error it met. */
  | { kind: "served"; incidents: Map<string, BatchIncidentOutcome | undefined> }
  /** The tenant does not offer the endpoint (404): nothing was done. */
  | { kind: "unavailable"; reason: string };

export type BatchIncidentOutcome =
  | { kind: "archived"; outcome: ArchivedOutcome }
  | { kind: "needs_single"; why: "alerts_cut" | "absent" }
  | { kind: "failed"; error: unknown };

/**
 * Whether a reply holds every alert the pipeline keeps (up to alerts_limit). With no total to compare
 * against, a reply below the batch's per-incident cap cannot have been cut.
 */
export function alertsComplete(
  result: ExtraDataResult,
  alertsLimit: number,
  alertsLimitPerIncident: number | undefined,
): boolean {
  if (result.alertsTotal !== null) return result.alertsReturned >= Math.min(result.alertsTotal, alertsLimit);
  return alertsLimitPerIncident !== undefined && result.alertsReturned < alertsLimitPerIncident;
}

/** The element for each asked id (the newest when the reply repeats one); the rest are reported. */
function matchElements(
  context: BatchEnrichmentContext,
  asked: ReadonlySet<string>,
  elements: readonly ExtraDataResult[],
): Map<string, ExtraDataResult> {
  const matched = new Map<string, ExtraDataResult>();
  const modified = (result: ExtraDataResult | undefined) => Number(result?.incident?.modification_time ?? -1);
  for (const element of elements) {
    const id = elementIncidentId(element) ?? "";
    if (!asked.has(id)) {
      context.metrics.addMetric(EnricherMetric.BatchElementsUnmatched, MetricUnit.Count, 1);
      context.logger.warn("The batch reply holds an incident that was not asked for; skipped it", {
        incident_id: id,
      });
    } else if (modified(element) >= modified(matched.get(id))) matched.set(id, element);
  }
  return matched;
}

/** Elements without an incident id cannot be keyed: kept raw in quarantine, loudly. */
async function quarantineUnidentified(
  context: BatchEnrichmentContext,
  unidentified: readonly unknown[],
  fetchTime: number,
): Promise<void> {
  if (unidentified.length === 0) return;
  context.metrics.addMetric(EnricherMetric.BatchElementsUnmatched, MetricUnit.Count, unidentified.length);
  const key = await quarantineReply(context.s3, {
    bucket: context.bucket,
    incidentId: "batch-unidentified",
    fetchTime,
    rawBody: JSON.stringify(unidentified),
    reason: "get_multiple_incidents_extra_data elements that name no incident id",
  });
  context.logger.error("Batch reply elements name no incident id; kept them in quarantine", {
    count: unidentified.length,
    quarantine_key: key,
  });
}

/** One incident asked for: its queued version and its state as last read (null: none; absent: not read). */
export interface BatchItem {
  message: IncidentVersionMessage;
  state?: StoredIncidentState | null | undefined;
}

/** Archives one element; its failure is its own (the message comes back), never the batch's. */
async function archiveElement(
  context: BatchEnrichmentContext,
  { message, state }: BatchItem,
  result: ExtraDataResult,
  complete: boolean,
  fetchTime: number,
): Promise<BatchIncidentOutcome> {
  const logger = context.logger.createChild();
  logger.appendKeys({ incident_id: message.incident_id });
  const element = { ...context, logger };
  try {
    const fetched = {
      result,
      source: "get_multiple_incidents_extra_data",
      fetchTime,
      alertsComplete: complete,
    } as const;
    return { kind: "archived", outcome: await archiveFetchedVersion(element, message, fetched, state) };
  } catch (error) {
    logger.error("Could not archive this batch element; its message will be retried", { error });
    return { kind: "failed", error };
  }
}

/** Incidents the single call must complete (cut or absent) first: their single calls can start sooner. */
function needsSingleFirst(
  items: readonly BatchItem[],
  matched: ReadonlyMap<string, ExtraDataResult>,
  needsSingle: (result: ExtraDataResult | undefined) => boolean,
): BatchItem[] {
  const needs = (item: BatchItem) => needsSingle(matched.get(item.message.incident_id));
  return [...items.filter(needs), ...items.filter((item) => !needs(item))];
}

/**
 * One batch call for `items` (one per incident, at most 100) with a batch slot already held. `settled` is
 * told of each incident as soon as it is settled (those that need the single call first).
 */
export async function enrichBatch(
  context: BatchEnrichmentContext,
  items: readonly BatchItem[],
  settled?: (incidentId: string, outcome: BatchIncidentOutcome) => void,
): Promise<BatchOutcome> {
  const ids = items.map((item) => item.message.incident_id);
  const fetchTime = context.now();
  context.metrics.addMetric(EnricherMetric.BatchExtraDataCalls, MetricUnit.Count, 1);
  let reply: Awaited<ReturnType<BatchExtraDataSource["getMultipleIncidentsExtraData"]>>;
  try {
    reply = await context.batchExtraData.getMultipleIncidentsExtraData(ids, {
      deadline: context.deadline,
      gate: retriesPaced(context.batchPacer),
    });
  } catch (error) {
    if (isCortexError(error, "not_found")) return { kind: "unavailable", reason: error.message };
    if (isCortexError(error, "throttled"))
      context.metrics.addMetric(EnricherMetric.Throttles, MetricUnit.Count, 1);
    throw error;
  }
  await quarantineUnidentified(context, reply.unidentified, fetchTime);
  const matched = matchElements(context, new Set(ids), reply.elements);
  const complete = (result: ExtraDataResult) =>
    alertsComplete(result, context.alertsLimit, reply.alertsLimitPerIncident);
  const settle = async (item: BatchItem): Promise<BatchIncidentOutcome> => {
    const result = matched.get(item.message.incident_id);
    if (result === undefined) {
      context.metrics.addMetric(EnricherMetric.BatchAbsent, MetricUnit.Count, 1);
      return { kind: "needs_single", why: "absent" };
    }
    const archived = await archiveElement(context, item, result, complete(result), fetchTime);
    return archived.kind === "archived" && !complete(result)
      ? { kind: "needs_single", why: "alerts_cut" }
      : archived;
  };
  const ordered = needsSingleFirst(items, matched, (result) => result === undefined || !complete(result));
  const outcomes = await mapLimit(ordered, S3_CONCURRENCY, async (item) => {
    const outcome = await settle(item);
    settled?.(item.message.incident_id, outcome);
    return outcome;
  });
  const incidents = new Map(ordered.map((item, index) => [item.message.incident_id, outcomes[index]]));
  return { kind: "served", incidents };
}
