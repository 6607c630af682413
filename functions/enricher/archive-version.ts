// What follows a fetch, whichever endpoint answered: archive the version the API returned under the key
// contract, record it in the incident's state and, in the same conditional write, claim its notification
// if one is due; then publish the claim. A partial object (alerts cut by the batch endpoint) is announced
// at once: the complete object that follows lands under the same key and does not notify again.
import { randomUUID } from "node:crypto";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { archiveIncident, archiveKey } from "../shared/archive.ts";
import { archivedFacts } from "../shared/change-events.ts";
import type { ExtraDataResult, IncidentSummary } from "../shared/cortex/api.ts";
import type { ExtraDataEndpoint } from "../shared/cortex/paths.ts";
import { isRecord } from "../shared/cortex/schemas.ts";
import {
  type IncidentStateRecord,
  type StoredIncidentState,
  updateIncidentState,
} from "../shared/incident-state.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import { digestIncident, type IncidentDigest } from "../shared/notification.ts";
import type { IncidentVersionMessage } from "../shared/queue-message.ts";
import { reportUnrankedSeverities } from "../shared/unranked-severity.ts";
import type { EnrichmentContext } from "./context.ts";
import { type NotificationPlan, planNotification, publishClaim } from "./notification-claim.ts";

export interface FetchedVersion {
  result: ExtraDataResult;
  source: ExtraDataEndpoint;
  fetchTime: number;
  /** False when the batch endpoint returned fewer alerts than this version has (up to alerts_limit). */
  alertsComplete: boolean;
}

export interface ArchivedOutcome {
  kind: "archived";
  key: string;
  modificationTime: number;
  notified: boolean;
  schemaValid: boolean;
  alertsComplete: boolean;
}

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value > 0;

// Claim TTL = the claimant's remaining invocation: never overtaken alive, long expired when its message returns (visibility 6x the timeout).
export function claimExpiry(context: EnrichmentContext): number {
  return context.invocationEndsAt;
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

interface ArchivedIdentity {
  key: string;
  modificationTime: number;
  digest: IncidentDigest;
}

/** The version the reply holds (it may be newer than the queued one), read leniently: a reply that fails the schema still names it. */
function identify(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  result: ExtraDataResult,
): ArchivedIdentity {
  const incident: Partial<IncidentSummary> | undefined =
    result.incident ?? (isRecord(result.reply.incident) ? result.reply.incident : undefined);
  const modificationTime = isPositiveInteger(incident?.modification_time)
    ? incident.modification_time
    : message.modification_time;
  const creationTime = isPositiveInteger(incident?.creation_time)
    ? incident.creation_time
    : message.creation_time;
  if (modificationTime < message.modification_time) {
    context.logger.warn("The reply is older than the queued version; archived what the API returned", {
      modification_time: message.modification_time,
      reply_modification_time: modificationTime,
    });
  }
  return {
    key: archiveKey(message.incident_id, creationTime, modificationTime),
    modificationTime,
    digest: digestIncident(incident as IncidentSummary | undefined, message),
  };
}

/** Writes the object; false when a partial one was not written because an object is already there. */
async function writeObject(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  fetched: FetchedVersion,
  identity: ArchivedIdentity,
): Promise<boolean> {
  const { result } = fetched;
  const written = await archiveIncident(context.s3, {
    bucket: context.bucket,
    key: identity.key,
    reply: result.reply,
    version: {
      incidentId: message.incident_id,
      severity: identity.digest.severity,
      status: identity.digest.status,
      modificationTime: identity.modificationTime,
      fetchTime: fetched.fetchTime,
      alertsReturned: result.alertsReturned,
      alertsTotal: result.alertsTotal,
      alertsComplete: fetched.alertsComplete,
      source: fetched.source,
      schemaIssues: result.schemaIssues,
    },
  });
  if (!written) return false;
  const { metrics } = context;
  metrics.addMetric(EnricherMetric.Archived, MetricUnit.Count, 1);
  if (!fetched.alertsComplete) metrics.addMetric(EnricherMetric.ArchivedPartial, MetricUnit.Count, 1);
  const lagSeconds = Math.max(0, (context.now() - message.modification_time) / 1000);
  metrics.addMetric(EnricherMetric.EndToEndLagSeconds, MetricUnit.Seconds, lagSeconds);
  if (result.schemaIssues.length > 0) {
    metrics.addMetric(EnricherMetric.SchemaWarnings, MetricUnit.Count, 1);
    context.logger.warn("The reply does not match the documented schema; archived it raw and flagged it", {
      key: identity.key,
      schema_issues: result.schemaIssues.slice(0, 10),
      schema_issue_count: result.schemaIssues.length,
    });
  }
  return true;
}

/** The newer archived version wins; at the same version a complete object wins over a partial one. */
export function mergeArchived(
  current: IncidentStateRecord["archived"],
  next: NonNullable<IncidentStateRecord["archived"]>,
): NonNullable<IncidentStateRecord["archived"]> {
  if (current === null || current === undefined) return next;
  if (current.modification_time !== next.modification_time) {
    return current.modification_time > next.modification_time ? current : next;
  }
  return current.complete === false && next.complete !== false ? next : current;
}

/**
 * One conditional write records the archive and, if a notification is due, claims it: of several
 * instances handling this incident, only the one whose write lands first publishes.
 */
async function recordAndClaim(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  fetched: FetchedVersion,
  identity: ArchivedIdentity,
  known: StoredIncidentState | null | undefined,
): Promise<{ plan: NotificationPlan; stored: StoredIncidentState | undefined }> {
  const covers = Math.max(identity.modificationTime, message.modification_time);
  const archived = {
    modification_time: covers,
    key: identity.key,
    archived_at: context.now(),
    ...archivedFacts(identity.digest),
  };
  const entry = fetched.alertsComplete ? archived : { ...archived, complete: false };
  const claimId = randomUUID();
  const { bucket } = context;
  const update = (current: IncidentStateRecord) => {
    const decided = planNotification(current.notified, {
      digest: identity.digest,
      archive: { bucket, key: identity.key },
      modificationTime: identity.modificationTime,
      threshold: context.notifyMinSeverity,
      now: context.now(),
      claimId,
      expiresAt: claimExpiry(context),
      firstSeenAt: firstSeenAt(message, identity.modificationTime),
    });
    const record = {
      ...current,
      archived: mergeArchived(current.archived, entry),
      notified: decided.notified,
    };
    // What was archived before is the merge's result too: the change event compares against it.
    return { record, result: { plan: decided.plan, previous: current.archived } };
  };
  const written = await updateIncidentState(context.s3, bucket, message.incident_id, update, { known });
  const { alertsReturned } = fetched.result;
  context.changeEvents?.announce({
    digest: identity.digest,
    previous: written.result.previous,
    alertsReturned,
    alertsComplete: fetched.alertsComplete,
    archive: { bucket, key: identity.key },
  });
  return { plan: written.result.plan, stored: written.stored };
}

/**
 * Archive, record, claim and publish one fetched version. `known` is the incident's state as last read
 * (null: none; undefined: not read), so the record step can write without reading it again.
 */
export async function archiveFetchedVersion(
  context: EnrichmentContext,
  message: IncidentVersionMessage,
  fetched: FetchedVersion,
  known?: StoredIncidentState | null,
): Promise<ArchivedOutcome> {
  const identity = identify(context, message, fetched.result);
  const { digest } = identity;
  reportUnrankedSeverities(
    [{ incident_id: message.incident_id, severity: digest.severity, manual_severity: digest.manualSeverity }],
    context.notifyMinSeverity,
    context,
  );
  const written = await writeObject(context, message, fetched, identity);
  if (!written) {
    context.logger.info(
      "An object of this version is already archived; kept it (a partial one never replaces it)",
      {
        key: identity.key,
      },
    );
  }
  const { plan, stored } = await recordAndClaim(context, message, fetched, identity, known);
  if (plan.kind === "claimed_elsewhere") {
    context.logger.info(
      "Not notifying: another instance has claimed this notification and is publishing it",
      {
        severity: identity.digest.severity,
        claimed_severity: plan.severity,
        claim_expires_at: plan.expiresAt,
      },
    );
  }
  if (plan.kind === "publish") await publishClaim(context, message.incident_id, plan, stored);
  const { result } = fetched;
  const outcome: ArchivedOutcome = {
    kind: "archived",
    key: identity.key,
    modificationTime: identity.modificationTime,
    notified: plan.kind === "publish",
    schemaValid: result.schemaIssues.length === 0,
    alertsComplete: fetched.alertsComplete,
  };
  context.logger.info("Archived", {
    key: identity.key,
    modification_time: identity.modificationTime,
    source: fetched.source,
    alerts_returned: result.alertsReturned,
    alerts_total: result.alertsTotal,
    alerts_complete: fetched.alertsComplete,
    schema_valid: outcome.schemaValid,
    notified: outcome.notified,
  });
  return outcome;
}
