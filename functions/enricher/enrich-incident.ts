// One incident version from the queue: skip it if the archive already covers it, otherwise fetch the
// extra data (within the API budget), archive the reply, notify if due, and remember what was done.
import { randomUUID } from "node:crypto";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { QUARANTINE_PREFIX, quarantineReply } from "../shared/archive.ts";
import type { AttemptGate, ExtraDataResult } from "../shared/cortex/api.ts";
import { type CortexApiError, isCortexError } from "../shared/cortex/errors.ts";
import {
  type IncidentStateRecord,
  readIncidentState,
  type StoredIncidentState,
  updateIncidentState,
} from "../shared/incident-state.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import type { ApiBudgetPacer } from "../shared/pacing.ts";
import type { IncidentVersionMessage } from "../shared/queue-message.ts";
import { type ArchivedOutcome, archiveFetchedVersion, claimExpiry } from "./archive-version.ts";
import type { EnrichmentContext } from "./context.ts";
import { NotFoundUnconfirmedError } from "./errors.ts";
import { planTakeOver, publishClaim } from "./notification-claim.ts";

export type { EnrichmentContext } from "./context.ts";

export type EnrichOutcome =
  | ArchivedOutcome
  | { kind: "coalesced"; coveredThrough: number; notified: boolean }
  | { kind: "not_found" }
  /** No API slot could be held before the deadline: nothing was done. */
  | { kind: "deferred" };

/**
 * The newest version the archive (or a not-found answer) covers. A version whose object holds only the
 * alerts the batch endpoint returned is not covered yet: its complete fetch is still to come.
 */
export function coveredThrough(record: IncidentStateRecord | undefined): number {
  const archived = record?.archived;
  const archivedThrough =
    archived === null || archived === undefined
      ? -1
      : archived.complete === false
        ? archived.modification_time - 1
        : archived.modification_time;
  return Math.max(archivedThrough, record?.not_found?.modification_time ?? -1);
}

/** Quarantines the raw body for diagnosis; the message fails either way, with the API's error, not S3's. */
async function keepUnparseableReply(
  context: EnrichmentContext,
  incidentId: string,
  fetchTime: number,
  error: CortexApiError,
): Promise<void> {
  if (error.rawBody === undefined) {
    context.logger.error(
      "The Cortex API reply is not JSON and no body was kept; the message will be retried",
      {
        error,
      },
    );
    return;
  }
  try {
    const key = await quarantineReply(context.s3, {
      bucket: context.bucket,
      incidentId,
      fetchTime,
      rawBody: error.rawBody,
      reason: error.message,
    });
    context.logger.error(
      "The Cortex API reply is not JSON; kept it in quarantine, the message will be retried",
      {
        quarantine_key: key,
        error,
      },
    );
  } catch (quarantineError) {
    context.logger.error(
      `Could not write the unparseable reply under ${QUARANTINE_PREFIX} (check the function may put objects there); the message will be retried`,
      { error, quarantine_error: quarantineError },
    );
  }
}

/** Takes over an expired claim (its claimant died before marking it done) and publishes it. */
async function recoverExpiredClaim(
  context: EnrichmentContext,
  incidentId: string,
  stored: StoredIncidentState | null,
): Promise<boolean> {
  const claim = { now: context.now(), claimId: randomUUID(), expiresAt: claimExpiry(context) };
  // Read-only check first: a coalesced message costs no write unless there is something to recover.
  if (planTakeOver(stored?.record.notified, claim).plan.kind !== "publish") return false;
  const update = (current: IncidentStateRecord) => {
    const decided = planTakeOver(current.notified, { ...claim, now: context.now() });
    return { record: { ...current, notified: decided.notified }, result: decided.plan };
  };
  const claimed = await updateIncidentState(context.s3, context.bucket, incidentId, update, {
    known: stored,
  });
  if (claimed.result.kind !== "publish") return false;
  await publishClaim(context, incidentId, claimed.result, claimed.stored);
  return true;
}

/** The incident's state as stored now (null: none yet). */
export async function readState(
  context: EnrichmentContext,
  incidentId: string,
): Promise<StoredIncidentState | null> {
  return (await readIncidentState(context.s3, context.bucket, incidentId)) ?? null;
}

/**
 * Skips a version the archive (or a not-found answer) already covers, recovering an expired claim.
 * `stored` is the state as just read (null: none).
 */
export async function coalesceIfCovered(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  stored: StoredIncidentState | null,
): Promise<EnrichOutcome | undefined> {
  const covered = coveredThrough(stored?.record);
  if (covered < message.modification_time) return undefined;
  context.metrics.addMetric(EnricherMetric.Coalesced, MetricUnit.Count, 1);
  context.logger.info("Skipped: the archive already covers this version", {
    modification_time: message.modification_time,
    covered_through: covered,
  });
  const notified = await recoverExpiredClaim(context, message.incident_id, stored);
  return { kind: "coalesced", coveredThrough: covered, notified };
}

/** The first attempt uses the slot already held; every retry waits for a slot of its own (each request sent counts). */
export function retriesPaced(pacer: ApiBudgetPacer): AttemptGate {
  let attempts = 0;
  return {
    beforeAttempt: async (deadline) => {
      attempts += 1;
      return attempts === 1 || pacer.acquireSlot(deadline ?? Number.POSITIVE_INFINITY);
    },
  };
}

/**
 * One "not found" answer is not proof (a transient 5xx says it too): when get_incidents still lists the
 * incident, nothing is recorded and the message is retried. Throws NotFoundUnconfirmedError then.
 */
async function confirmNotFound(
  context: EnrichmentContext,
  incidentId: string,
  answer: CortexApiError,
): Promise<void> {
  if (context.incidentLookup === undefined) return;
  const listed = await context.incidentLookup.listIncidentsById([incidentId], { deadline: context.deadline });
  if (!listed.some((incident) => incident.incident_id === incidentId)) return;
  context.metrics.addMetric(EnricherMetric.NotFoundUnconfirmed, MetricUnit.Count, 1);
  context.logger.warn(
    "The Cortex API said this incident does not exist, but get_incidents lists it; retrying later",
    {
      server_message: answer.serverMessage,
    },
  );
  throw new NotFoundUnconfirmedError(incidentId, answer);
}

/** Records a confirmed "not found": the version is covered, and its message acknowledged. */
async function recordNotFound(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  answer: CortexApiError,
  recordedAt: number,
): Promise<EnrichOutcome> {
  await confirmNotFound(context, message.incident_id, answer);
  context.metrics.addMetric(EnricherMetric.IncidentNotFound, MetricUnit.Count, 1);
  await updateIncidentState(context.s3, context.bucket, message.incident_id, (current) => {
    const modificationTime = Math.max(current.not_found?.modification_time ?? -1, message.modification_time);
    return {
      record: { ...current, not_found: { modification_time: modificationTime, recorded_at: recordedAt } },
      result: undefined,
    };
  });
  context.logger.warn("The Cortex API says this incident does not exist; recorded and acknowledged", {
    modification_time: message.modification_time,
    server_message: answer.serverMessage,
  });
  return { kind: "not_found" };
}

/** The single-incident call, every attempt paced; a not-found answer is confirmed before it is recorded. */
async function fetchSingle(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  fetchTime: number,
): Promise<ExtraDataResult | EnrichOutcome> {
  context.metrics.addMetric(EnricherMetric.ExtraDataCalls, MetricUnit.Count, 1);
  try {
    return await context.extraData.getIncidentExtraData(message.incident_id, {
      deadline: context.deadline,
      alertsLimit: context.alertsLimit,
      gate: retriesPaced(context.pacer),
    });
  } catch (error) {
    if (!isCortexError(error)) throw error;
    if (error.kind === "throttled") context.metrics.addMetric(EnricherMetric.Throttles, MetricUnit.Count, 1);
    if (error.kind === "incident_not_found") return recordNotFound(context, message, error, fetchTime);
    if (error.kind === "unparseable_reply") {
      await keepUnparseableReply(context, message.incident_id, fetchTime, error);
    }
    throw error;
  }
}

/** Skip if covered, fetch within the budget, then archive, claim and publish, record. */
export async function enrichIncidentVersion(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
): Promise<EnrichOutcome> {
  let stored = await readState(context, message.incident_id);
  const coalesced = await coalesceIfCovered(context, message, stored);
  if (coalesced !== undefined) return coalesced;

  if (!(await context.pacer.acquireSlot(context.deadline))) return { kind: "deferred" };
  // The priority lane may have served this very incident while we waited for the slot.
  if (context.servedByPriorityLane?.has(message.incident_id)) {
    stored = await readState(context, message.incident_id);
    const servedAhead = await coalesceIfCovered(context, message, stored);
    if (servedAhead !== undefined) return servedAhead;
  }

  const fetchTime = context.now();
  const fetched = await fetchSingle(context, message, fetchTime);
  if ("kind" in fetched) return fetched;
  const version = {
    result: fetched,
    source: "get_incident_extra_data",
    fetchTime,
    alertsComplete: true,
  } as const;
  return archiveFetchedVersion(context, message, version, stored);
}
