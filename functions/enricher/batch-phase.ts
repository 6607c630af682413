// The batch half of one invocation: the records' incidents (one entry each, its newest version) are
// triaged against the archive, and those still to fetch go to the batch endpoint in calls of up to 100
// ids, each after a batch slot, with the priority lane's waiting hints put first into each call. Whatever
// the batch cannot settle (alerts cut, ids absent, a tenant without the endpoint) is handed to the
// single-incident phase the moment it is known, so those calls overlap the archiving of the rest; what
// the deadline leaves unstarted is handed back to the queue.
import type { Logger } from "@aws-lambda-powertools/logger";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { isCortexError } from "../shared/cortex/errors.ts";
import type { StoredIncidentState } from "../shared/incident-state.ts";
import { mapLimit } from "../shared/map-limit.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import type { IncidentVersionMessage } from "../shared/queue-message.ts";
import {
  BATCH_MAX_INCIDENTS,
  type BatchEnrichmentContext,
  type BatchIncidentOutcome,
  enrichBatch,
  S3_CONCURRENCY,
} from "./enrich-batch.ts";
import { coalesceIfCovered, coveredThrough, readState } from "./enrich-incident.ts";
import type { InvocationLedger } from "./ledger.ts";
import type { PriorityHint, PriorityLane } from "./priority-lane.ts";
import type { ParsedRecord } from "./records.ts";

/** One incident of the invocation: its newest queued version and every record that carries it. */
interface IncidentWork {
  message: IncidentVersionMessage;
  records: ParsedRecord[];
  hints: PriorityHint[];
  /** Its state as triage read it (null: none yet), so the archive step need not read it again. */
  state?: StoredIncidentState | null;
}

export interface BatchPhaseInput {
  context: BatchEnrichmentContext;
  lane: PriorityLane | undefined;
  /** auto: a 404 sends everything to the single call; batch: a 404 fails the records (configuration error). */
  fallBackToSingle: boolean;
  ledger: InvocationLedger;
  /** Hands records to the single-incident phase, which starts on them at once. */
  toSingle: (records: readonly ParsedRecord[]) => void;
}

export interface BatchPhaseResult {
  /** Whether the tenant answered the batch endpoint 404 in this invocation. */
  unavailable: boolean;
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
  if (add.state !== undefined) work.state = add.state;
  works.set(message.incident_id, work);
}

/** One entry per incident: duplicates and older versions ride with its newest version. */
export function groupByIncident(parsed: readonly ParsedRecord[]): IncidentWork[] {
  const works = new Map<string, IncidentWork>();
  for (const record of parsed) addTo(works, record.message, { records: [record] });
  return [...works.values()];
}

type Triage = "covered" | "awaiting_completion" | "fetch";

/** Covered already (skipped, claims recovered), archived with alerts cut (single call), or to fetch. */
async function triage(context: BatchEnrichmentContext, work: IncidentWork): Promise<Triage> {
  const stored = await readState(context, work.message.incident_id);
  work.state = stored;
  const record = stored?.record;
  const version = work.message.modification_time;
  if (coveredThrough(record) >= version) {
    const log = context.logger.createChild();
    log.appendKeys({ incident_id: work.message.incident_id });
    await coalesceIfCovered({ ...context, logger: log }, work.message, stored);
    return "covered";
  }
  const archived = record?.archived;
  return archived?.complete === false && archived.modification_time >= version
    ? "awaiting_completion"
    : "fetch";
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
      { reason },
    );
  } else {
    logger.error(
      "The tenant does not offer get_multiple_incidents_extra_data and the mode is batch: set the enricher mode to auto or single",
      { reason },
    );
  }
}

const recordsOf = (works: readonly IncidentWork[]) => works.flatMap((work) => work.records);
const sqsRecordsOf = (works: readonly IncidentWork[]) => recordsOf(works).map((parsed) => parsed.record);

/** Triage, then batch calls of up to 100 incidents until none is left or the deadline comes. */
export async function runBatchPhase(
  input: BatchPhaseInput,
  parsed: readonly ParsedRecord[],
): Promise<BatchPhaseResult> {
  const { context, lane, ledger } = input;
  const works = groupByIncident(parsed);
  const triaged = await mapLimit(works, S3_CONCURRENCY, (work) => triage(context, work));
  const pending: IncidentWork[] = [];
  works.forEach((work, index) => {
    if (triaged[index] === "covered") ledger.count("coalesced");
    else if (triaged[index] === "awaiting_completion") input.toSingle(work.records);
    else pending.push(work);
  });
  const result: BatchPhaseResult = { unavailable: false };
  while (pending.length > 0) {
    if (!(await context.batchPacer.acquireSlot(context.deadline))) {
      ledger.defer(sqsRecordsOf(pending.splice(0)));
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
  const { context, ledger } = input;
  const byId = new Map(chunk.map((work) => [work.message.incident_id, work]));
  // Incidents the batch cannot settle go to the single phase the moment they are known.
  const settled = (incidentId: string, outcome: BatchIncidentOutcome) => {
    const work = byId.get(incidentId);
    if (work !== undefined && outcome.kind === "needs_single") input.toSingle(work.records);
  };
  let outcome: Awaited<ReturnType<typeof enrichBatch>>;
  try {
    outcome = await enrichBatch(
      context,
      chunk.map((work) => ({ message: work.message, state: work.state })),
      settled,
    );
  } catch (error) {
    if (isCortexError(error, "throttled")) {
      context.logger.warn("Throttled by the Cortex API (batch endpoint); backing off this batch", { error });
      ledger.throttle([...sqsRecordsOf(chunk), ...sqsRecordsOf(pending.splice(0))]);
      return true;
    }
    context.logger.error("The batch call failed; its messages will be retried", { error });
    ledger.fail(sqsRecordsOf(chunk));
    return isCortexError(error) && error.isAccessProblem;
  }
  if (outcome.kind === "unavailable") {
    result.unavailable = true;
    context.metrics.addMetric(EnricherMetric.BatchEndpointUnavailable, MetricUnit.Count, 1);
    logUnavailable(context.logger, outcome.reason, input.fallBackToSingle);
    const all = [...chunk, ...pending.splice(0)];
    if (input.fallBackToSingle) input.toSingle(recordsOf(all));
    else ledger.fail(sqsRecordsOf(all));
    return true;
  }
  await settleChunk(input, chunk, outcome.incidents);
  return false;
}

/** Counts each incident's outcome, fails the ones that failed, deletes the hints served. */
async function settleChunk(
  input: BatchPhaseInput,
  chunk: readonly IncidentWork[],
  incidents: ReadonlyMap<string, BatchIncidentOutcome | undefined>,
): Promise<void> {
  const { context, lane, ledger } = input;
  const served: PriorityHint[] = [];
  const leftToSingle: string[] = [];
  for (const work of chunk) {
    const settled = incidents.get(work.message.incident_id);
    if (settled?.kind === "failed") {
      ledger.fail(sqsRecordsOf([work]));
      continue;
    }
    served.push(...work.hints);
    if (settled?.kind === "needs_single") {
      ledger.count(`batch_${settled.why}`);
      leftToSingle.push(work.message.incident_id);
    } else ledger.count("archived");
  }
  if (leftToSingle.length > 0) {
    context.logger.info(
      "Incidents left to the single-incident call (alerts cut by the batch, or absent from its reply)",
      { incident_ids: leftToSingle.slice(0, 20), count: leftToSingle.length },
    );
  }
  if (lane !== undefined && served.length > 0) await lane.done(served);
}
