// One incident version from the queue: skip it if the archive already covers it, otherwise fetch the
// extra data (within the API budget), archive the reply, notify if due, and remember what was done.
import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import { archiveIncident, archiveKey, QUARANTINE_PREFIX, quarantineReply } from "../shared/archive.ts";
import type { AttemptGate, ExtraDataResult, ExtraDataSource, IncidentLookup } from "../shared/cortex/api.ts";
import { type CortexApiError, isCortexError } from "../shared/cortex/errors.ts";
import { isRecord } from "../shared/cortex/schemas.ts";
import type { NotifySeverity } from "../shared/cortex/vocabulary.ts";
import {
  type IncidentStateRecord,
  readIncidentState,
  updateIncidentState,
} from "../shared/incident-state.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import { digestIncident } from "../shared/notification.ts";
import type { ApiBudgetPacer } from "../shared/pacing.ts";
import type { IncidentVersionMessage } from "../shared/queue-message.ts";
import { reportUnrankedSeverities } from "../shared/unranked-severity.ts";
import { NotFoundUnconfirmedError } from "./errors.ts";
import { planNotification, planTakeOver, publishClaim } from "./notification-claim.ts";

export interface EnrichmentContext {
  s3: S3Client;
  sns: SNSClient;
  bucket: string;
  topicArn: string;
  extraData: ExtraDataSource;
  incidentLookup?: IncidentLookup | undefined;
  alertsLimit: number;
  notifyMinSeverity: NotifySeverity;
  consoleBaseUrl?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  pacer: ApiBudgetPacer;
  now: () => number;
  /** Epoch ms after which no API call starts. */
  deadline: number;
  /** Epoch ms when the invocation ends (Lambda stops it at its timeout). */
  invocationEndsAt: number;
  /** Incidents the priority lane served in this invocation: checked again after the slot wait. */
  servedByPriorityLane?: ReadonlySet<string> | undefined;
}

export type EnrichOutcome =
  | { kind: "archived"; key: string; modificationTime: number; notified: boolean; schemaValid: boolean }
  | { kind: "coalesced"; coveredThrough: number; notified: boolean }
  | { kind: "not_found" }
  /** No API slot could be held before the deadline: nothing was done. */
  | { kind: "deferred" };

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value > 0;

/** The archive (or a not-found answer) already covers this version or a later one. */
function coveredThrough(record: IncidentStateRecord | undefined): number {
  return Math.max(record?.archived?.modification_time ?? -1, record?.not_found?.modification_time ?? -1);
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

// Claim TTL = the claimant's remaining invocation: never overtaken alive, long expired when its message returns (visibility 6x the timeout).
function claimExpiry(context: EnrichmentContext): number {
  return context.invocationEndsAt;
}

/** Takes over an expired claim (its claimant died before marking it done) and publishes it. */
async function recoverExpiredClaim(
  context: EnrichmentContext,
  incidentId: string,
  state: IncidentStateRecord | undefined,
): Promise<boolean> {
  const claim = { now: context.now(), claimId: randomUUID(), expiresAt: claimExpiry(context) };
  // Read-only check first: a coalesced message costs no write unless there is something to recover.
  if (planTakeOver(state?.notified, claim).plan.kind !== "publish") return false;
  const { result: plan } = await updateIncidentState(context.s3, context.bucket, incidentId, (current) => {
    const decided = planTakeOver(current.notified, { ...claim, now: context.now() });
    return { record: { ...current, notified: decided.notified }, result: decided.plan };
  });
  if (plan.kind !== "publish") return false;
  await publishClaim(context, incidentId, plan);
  return true;
}

/**
 * Where a version's time to alert starts: the poll that read it, or, when the API returned a newer version
 * than the one queued, that version's modification_time (it did not exist when the poll ran).
 */
export function firstSeenAt(message: IncidentVersionMessage, archivedTime: number): number {
  return archivedTime > message.modification_time
    ? Math.max(message.polled_at, archivedTime)
    : message.polled_at;
}

/** Skips a version the archive (or a not-found answer) already covers, recovering an expired claim. */
async function coalesceIfCovered(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
): Promise<EnrichOutcome | undefined> {
  const state = (await readIncidentState(context.s3, context.bucket, message.incident_id))?.record;
  const covered = coveredThrough(state);
  if (covered < message.modification_time) return undefined;
  context.metrics.addMetric(EnricherMetric.Coalesced, MetricUnit.Count, 1);
  context.logger.info("Skipped: the archive already covers this version", {
    modification_time: message.modification_time,
    covered_through: covered,
  });
  const notified = await recoverExpiredClaim(context, message.incident_id, state);
  return { kind: "coalesced", coveredThrough: covered, notified };
}

/** The first attempt uses the slot already held; every retry waits for a slot of its own (each request sent counts). */
function retriesPaced(pacer: ApiBudgetPacer): AttemptGate {
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

export async function enrichIncidentVersion(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
): Promise<EnrichOutcome> {
  const { s3, bucket, logger, metrics } = context;
  const incidentId = message.incident_id;

  const coalesced = await coalesceIfCovered(context, message);
  if (coalesced !== undefined) return coalesced;

  if (!(await context.pacer.acquireSlot(context.deadline))) return { kind: "deferred" };
  // The priority lane may have served this very incident while we waited for the slot.
  if (context.servedByPriorityLane?.has(incidentId)) {
    const servedAhead = await coalesceIfCovered(context, message);
    if (servedAhead !== undefined) return servedAhead;
  }

  const fetchTime = context.now();
  metrics.addMetric(EnricherMetric.ExtraDataCalls, MetricUnit.Count, 1);
  let result: ExtraDataResult;
  try {
    result = await context.extraData.getIncidentExtraData(incidentId, {
      deadline: context.deadline,
      alertsLimit: context.alertsLimit,
      gate: retriesPaced(context.pacer),
    });
  } catch (error) {
    if (!isCortexError(error)) throw error;
    if (error.kind === "throttled") {
      metrics.addMetric(EnricherMetric.Throttles, MetricUnit.Count, 1);
      throw error;
    }
    if (error.kind === "incident_not_found") {
      await confirmNotFound(context, incidentId, error);
      metrics.addMetric(EnricherMetric.IncidentNotFound, MetricUnit.Count, 1);
      await updateIncidentState(s3, bucket, incidentId, (current) => ({
        record: {
          ...current,
          not_found: {
            modification_time: Math.max(
              current.not_found?.modification_time ?? -1,
              message.modification_time,
            ),
            recorded_at: fetchTime,
          },
        },
        result: undefined,
      }));
      logger.warn("The Cortex API says this incident does not exist; recorded and acknowledged", {
        modification_time: message.modification_time,
        server_message: error.serverMessage,
      });
      return { kind: "not_found" };
    }
    if (error.kind === "unparseable_reply") await keepUnparseableReply(context, incidentId, fetchTime, error);
    throw error;
  }

  // The reply's own incident, leniently: a reply that fails the schema still names the version it holds.
  const replyIncident =
    result.incident ?? (isRecord(result.reply.incident) ? result.reply.incident : undefined);
  // Archive the version the API returned: it may be newer than the one the poller saw.
  const replyTime = replyIncident?.modification_time;
  const archivedTime = isPositiveInteger(replyTime) ? replyTime : message.modification_time;
  const replyCreation = replyIncident?.creation_time;
  const creationTime = isPositiveInteger(replyCreation) ? replyCreation : message.creation_time;
  if (archivedTime < message.modification_time) {
    logger.warn("The reply is older than the queued version; archived what the API returned", {
      modification_time: message.modification_time,
      reply_modification_time: archivedTime,
    });
  }
  const digest = digestIncident(replyIncident, message);
  reportUnrankedSeverities(
    [{ incident_id: incidentId, severity: digest.severity, manual_severity: digest.manualSeverity }],
    context.notifyMinSeverity,
    context,
  );
  const key = archiveKey(incidentId, creationTime, archivedTime);
  const schemaValid = result.schemaIssues.length === 0;
  await archiveIncident(s3, {
    bucket,
    key,
    reply: result.reply,
    version: {
      incidentId,
      severity: digest.severity,
      status: digest.status,
      modificationTime: archivedTime,
      fetchTime,
      alertsReturned: result.alertsReturned,
      alertsTotal: result.alertsTotal,
      schemaIssues: result.schemaIssues,
    },
  });
  const archivedAt = context.now();
  metrics.addMetric(EnricherMetric.Archived, MetricUnit.Count, 1);
  metrics.addMetric(
    EnricherMetric.EndToEndLagSeconds,
    MetricUnit.Seconds,
    Math.max(0, (archivedAt - message.modification_time) / 1000),
  );
  if (!schemaValid) {
    metrics.addMetric(EnricherMetric.SchemaWarnings, MetricUnit.Count, 1);
    logger.warn("The reply does not match the documented schema; archived it raw and flagged it", {
      key,
      schema_issues: result.schemaIssues.slice(0, 10),
      schema_issue_count: result.schemaIssues.length,
    });
  }

  // One conditional write records the archive and, if a notification is due, claims it: of several
  // instances handling this incident, only the one whose write lands first publishes.
  const covers = Math.max(archivedTime, message.modification_time);
  const claimId = randomUUID();
  const { result: plan } = await updateIncidentState(s3, bucket, incidentId, (current) => {
    const keepArchived = (current.archived?.modification_time ?? -1) >= covers;
    const decided = planNotification(current.notified, {
      digest,
      archive: { bucket, key },
      modificationTime: archivedTime,
      threshold: context.notifyMinSeverity,
      now: context.now(),
      claimId,
      expiresAt: claimExpiry(context),
      firstSeenAt: firstSeenAt(message, archivedTime),
    });
    const archived = keepArchived
      ? current.archived
      : { modification_time: covers, key, archived_at: archivedAt };
    return { record: { ...current, archived, notified: decided.notified }, result: decided.plan };
  });
  if (plan.kind === "claimed_elsewhere") {
    logger.info("Not notifying: another instance has claimed this notification and is publishing it", {
      severity: digest.severity,
      claimed_severity: plan.severity,
      claim_expires_at: plan.expiresAt,
    });
  }
  if (plan.kind === "publish") await publishClaim(context, incidentId, plan);

  const notified = plan.kind === "publish";
  logger.info("Archived", {
    key,
    modification_time: archivedTime,
    alerts_returned: result.alertsReturned,
    alerts_total: result.alertsTotal,
    schema_valid: schemaValid,
    notified,
  });
  return { kind: "archived", key, modificationTime: archivedTime, notified, schemaValid };
}
