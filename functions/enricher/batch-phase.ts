// The batch half of one invocation: the records' incidents (one entry each, its newest version) are
// triaged against the archive, and those still to fetch go to the batch endpoint in calls of up to 100
// ids, each after a batch slot, with the priority lane's waiting hints put first into each call. Whatever
// the batch cannot settle (alerts cut, ids absent, a tenant without the endpoint) is left to the
// single-incident phase that follows; what the deadline leaves unstarted is handed back to the queue.
import type { Logger } from "@aws-lambda-powertools/logger";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SQSRecord } from "aws-lambda";
import { isCortexError } from "../shared/cortex/errors.ts";
import { readIncidentState } from "../shared/incident-state.ts";
import { mapLimit } from "../shared/map-limit.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import type { IncidentVersionMessage } from "../shared/queue-message.ts";
import {
  BATCH_MAX_INCIDENTS,
  type BatchEnrichmentContext,
  enrichBatch,
  S3_CONCURRENCY,
} from "./enrich-batch.ts";
import { coalesceIfCovered, coveredThrough } from "./enrich-incident.ts";
import type { PriorityHint, PriorityLane } from "./priority-lane.ts";

export interface ParsedRecord {
  record: SQSRecord;
  message: IncidentVersionMessage;
}

/** One incident of the invocation: its newest queued version and every record that carries it. */
interface IncidentWork {
  message: IncidentVersionMessage;
  records: SQSRecord[];
  hints: PriorityHint[];
}

export interface BatchPhaseResult {
  /** Go on to the single-incident call (alerts cut, absent from the reply, or no batch endpoint). */
  single: SQSRecord[];
  failed: SQSRecord[];
  throttled: SQSRecord[];
  /** Never started: no batch slot before the deadline. */
  deferred: SQSRecord[];
  /** Whether the tenant answered the batch endpoint 404 in this invocation. */
  unavailable: boolean;
}

export interface BatchPhaseInput {
  context: BatchEnrichmentContext;
  lane: PriorityLane | undefined;
  /** auto: a 404 sends everything to the single call; batch: a 404 fails the records (configuration error). */
  fallBackToSingle: boolean;
  count: (outcome: string) => void;
}

function addTo(
  works: Map<string, IncidentWork>,
  message: IncidentVersionMessage,
  add: Partial<IncidentWork>,
): void {
  const work = works.get(message.incident_id) ?? { message, records: [], hints: [] };
  if (message.modification_time > work.message.modification_time) work.message = message;
  work.records.push(...(add.records ?? []));
  work.hints.push(...(add.hints ?? []));
  works.set(message.incident_id, work);
}

/** One entry per incident: duplicates and older versions ride with its newest version. */
export function groupByIncident(parsed: readonly ParsedRecord[]): IncidentWork[] {
  const works = new Map<string, IncidentWork>();
  for (const { record, message } of parsed) addTo(works, message, { records: [record] });
  return [...works.values()];
}

type Triage = "covered" | "awaiting_completion" | "fetch";

/** Covered already (skipped, claims recovered), archived with alerts cut (single call), or to fetch. */
async function triage(context: BatchEnrichmentContext, work: IncidentWork): Promise<Triage> {
  const record = (await readIncidentState(context.s3, context.bucket, work.message.incident_id))?.record;
  const version = work.message.modification_time;
  if (coveredThrough(record) >= version) {
    const log = context.logger.createChild();
    log.appendKeys({ incident_id: work.message.incident_id });
    await coalesceIfCovered({ ...context, logger: log }, work.message);
    return "covered";
  }
  const archived = record?.archived;
  return archived?.complete === false && archived.modification_time >= version
    ? "awaiting_completion"
    : "fetch";
}

function triageAll(context: BatchEnrichmentContext, works: readonly IncidentWork[]): Promise<Triage[]> {
  return mapLimit(works, S3_CONCURRENCY, (work) => triage(context, work));
}

/** The next call's incidents: waiting hints first, then the invocation's own work, at most 100. */
function nextChunk(pending: IncidentWork[], hints: readonly PriorityHint[]): IncidentWork[] {
  const chunk = new Map<string, IncidentWork>();
  for (const hint of hints) addTo(chunk, hint.message, { hints: [hint] });
  while (pending.length > 0) {
    const work = pending[0];
    if (work === undefined || (chunk.size >= BATCH_MAX_INCIDENTS && !chunk.has(work.message.incident_id)))
      break;
    pending.shift();
    addTo(chunk, work.message, work);
  }
  return [...chunk.values()];
}

function logUnavailable(logger: Logger, reason: string, fallBack: boolean): void {
  if (fallBack) {
    logger.warn(
      "The tenant does not offer get_multiple_incidents_extra_data; using single calls (mode auto)",
      {
        reason,
      },
    );
  } else {
    logger.error(
      "The tenant does not offer get_multiple_incidents_extra_data and the mode is batch: set the enricher mode to auto or single",
      { reason },
    );
  }
}

export async function runBatchPhase(
  input: BatchPhaseInput,
  parsed: readonly ParsedRecord[],
): Promise<BatchPhaseResult> {
  const { context, lane, count } = input;
  const result: BatchPhaseResult = {
    single: [],
    failed: [],
    throttled: [],
    deferred: [],
    unavailable: false,
  };
  const works = groupByIncident(parsed);
  const triaged = await triageAll(context, works);
  const pending: IncidentWork[] = [];
  works.forEach((work, index) => {
    if (triaged[index] === "covered") count("coalesced");
    else if (triaged[index] === "awaiting_completion") result.single.push(...work.records);
    else pending.push(work);
  });

  while (pending.length > 0) {
    if (!(await context.batchPacer.acquireSlot(context.deadline))) {
      result.deferred.push(...pending.splice(0).flatMap((work) => work.records));
      break;
    }
    const hints = lane === undefined ? [] : await lane.take(BATCH_MAX_INCIDENTS);
    const chunk = nextChunk(pending, hints);
    const stop = await callBatch(input, chunk, pending, result);
    if (stop) break;
  }
  return result;
}

/** One batch call and what follows from it; true when the rest of the invocation's batch work must stop. */
async function callBatch(
  input: BatchPhaseInput,
  chunk: readonly IncidentWork[],
  pending: IncidentWork[],
  result: BatchPhaseResult,
): Promise<boolean> {
  const { context, lane, count } = input;
  const records = (works: readonly IncidentWork[]) => works.flatMap((work) => work.records);
  let outcome: Awaited<ReturnType<typeof enrichBatch>>;
  try {
    outcome = await enrichBatch(
      context,
      chunk.map((work) => work.message),
    );
  } catch (error) {
    if (isCortexError(error, "throttled")) {
      context.logger.warn("Throttled by the Cortex API (batch endpoint); backing off this batch", { error });
      result.throttled.push(...records(chunk), ...records(pending.splice(0)));
      return true;
    }
    context.logger.error("The batch call failed; its messages will be retried", { error });
    result.failed.push(...records(chunk));
    return isCortexError(error) && error.isAccessProblem;
  }
  if (outcome.kind === "unavailable") {
    result.unavailable = true;
    context.metrics.addMetric(EnricherMetric.BatchEndpointUnavailable, MetricUnit.Count, 1);
    logUnavailable(context.logger, outcome.reason, input.fallBackToSingle);
    const all = [...records(chunk), ...records(pending.splice(0))];
    (input.fallBackToSingle ? result.single : result.failed).push(...all);
    return true;
  }
  const served: PriorityHint[] = [];
  for (const work of chunk) {
    const settled = outcome.incidents.get(work.message.incident_id);
    if (settled?.kind === "failed") {
      result.failed.push(...work.records);
      continue;
    }
    served.push(...work.hints);
    if (settled?.kind === "needs_single") {
      count(`batch_${settled.why}`);
      result.single.push(...work.records);
    } else count("archived");
  }
  const absent = chunk.filter(
    (work) => outcome.incidents.get(work.message.incident_id)?.kind === "needs_single",
  );
  if (absent.length > 0) {
    context.logger.info(
      "Incidents left to the single-incident call (alerts cut by the batch, or absent from its reply)",
      {
        incident_ids: absent.map((work) => work.message.incident_id).slice(0, 20),
        count: absent.length,
      },
    );
  }
  if (lane !== undefined && served.length > 0) await lane.done(served);
  return false;
}
