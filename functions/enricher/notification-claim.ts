// Once per incident, again only on escalation, with concurrent enricher instances and at-least-once
// delivery: an instance publishes only after winning one conditional write of the incident's state
// record (a pending claim holding everything needed to publish), then marks the claim done. A claim
// whose claimant died before marking it done expires, and whoever handles the incident next (at the
// latest the claimant's own message, redelivered) takes it over and publishes from what it holds.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import { type NotifySeverity, severityRank } from "../shared/cortex/vocabulary.ts";
import {
  type IncidentStateRecord,
  type StoredIncidentState,
  updateIncidentState,
} from "../shared/incident-state.ts";
import { EnricherMetric } from "../shared/metric-names.ts";
import {
  type ArchiveLocation,
  type IncidentDigest,
  notificationDue,
  notifiedSeverity,
  publishIncidentNotification,
} from "../shared/notification.ts";

export type NotifiedRecord = NonNullable<IncidentStateRecord["notified"]>;

export interface PendingClaim {
  claimId: string;
  severity: string;
  modificationTime: number;
  /** Epoch ms after which the claimant cannot still be publishing. */
  expiresAt: number;
  /** What subscribers had heard before (undefined: nothing), for the "escalated from" wording. */
  previousSeverity: string | undefined;
  digest: IncidentDigest;
  archive: ArchiveLocation;
  /** Epoch ms the pipeline first saw the version (undefined in claims written before it was kept). */
  firstSeenAt: number | undefined;
}

export type NotificationPlan =
  /** This instance holds the claim now and must publish it. */
  | { kind: "publish"; claim: PendingClaim; takenOver: boolean }
  /** Another instance holds a live claim at this severity or higher: it publishes. */
  | { kind: "claimed_elsewhere"; severity: string; expiresAt: number }
  /** Below the threshold, or already notified at this severity or higher. */
  | { kind: "not_due" };

export interface ClaimRequest {
  digest: IncidentDigest;
  archive: ArchiveLocation;
  /** The archived version's modification_time. */
  modificationTime: number;
  threshold: NotifySeverity;
  now: number;
  claimId: string;
  expiresAt: number;
  /** Where this version's time to alert starts: see firstSeenAt in enrich-incident.ts. */
  firstSeenAt: number;
}

/** The pending claim in a `notified` record, or undefined when it is done (or too incomplete to publish from). */
export function pendingClaimOf(notified: NotifiedRecord | null | undefined): PendingClaim | undefined {
  if (notified?.pending !== true) return undefined;
  const { claim_id, claim_expires_at, digest, archive } = notified;
  if (
    claim_id === undefined ||
    claim_expires_at === undefined ||
    digest === undefined ||
    archive === undefined
  ) {
    return undefined;
  }
  return {
    claimId: claim_id,
    severity: notified.severity,
    modificationTime: notified.modification_time,
    expiresAt: claim_expires_at,
    previousSeverity: notified.previous_severity ?? undefined,
    digest,
    archive: { bucket: archive.bucket, key: archive.key },
    firstSeenAt: notified.first_seen_at,
  };
}

export function pendingRecord(claim: PendingClaim, claimedAt: number): NotifiedRecord {
  return {
    severity: claim.severity,
    modification_time: claim.modificationTime,
    notified_at: claimedAt,
    pending: true,
    claim_id: claim.claimId,
    claim_expires_at: claim.expiresAt,
    previous_severity: claim.previousSeverity ?? null,
    digest: claim.digest,
    archive: { bucket: claim.archive.bucket, key: claim.archive.key },
    ...(claim.firstSeenAt === undefined ? {} : { first_seen_at: claim.firstSeenAt }),
  };
}

const takeOver = (
  stale: PendingClaim,
  request: Pick<ClaimRequest, "claimId" | "expiresAt">,
): PendingClaim => ({
  ...stale,
  claimId: request.claimId,
  expiresAt: request.expiresAt,
});

/**
 * Decides, from the record as it is at this write attempt, whether this archived version is to be
 * notified, and returns the `notified` value to write with it. Pure: it runs inside updateIncidentState's merge.
 */
export function planNotification(
  notified: NotifiedRecord | null | undefined,
  request: ClaimRequest,
): { plan: NotificationPlan; notified: NotifiedRecord | null | undefined } {
  const pending = pendingClaimOf(notified);
  const stale = pending !== undefined && pending.expiresAt <= request.now;
  const severity = notifiedSeverity(request.digest);
  const rank = severityRank(severity, request.threshold);
  if (notified != null && !stale && severityRank(notified.severity, request.threshold) >= rank) {
    const plan: NotificationPlan =
      pending === undefined
        ? { kind: "not_due" }
        : { kind: "claimed_elsewhere", severity: pending.severity, expiresAt: pending.expiresAt };
    return { plan, notified };
  }
  if (stale && severityRank(pending.severity, request.threshold) >= rank) {
    const claim = takeOver(pending, request);
    return { plan: { kind: "publish", claim, takenOver: true }, notified: pendingRecord(claim, request.now) };
  }
  // A live claim is being published (count it as heard); a stale one at a lower severity is superseded.
  const previousSeverity =
    notified == null ? undefined : stale ? pending.previousSeverity : notified.severity;
  if (!notificationDue(severity, request.threshold, previousSeverity)) {
    return { plan: { kind: "not_due" }, notified };
  }
  const claim: PendingClaim = {
    claimId: request.claimId,
    severity,
    modificationTime: request.modificationTime,
    expiresAt: request.expiresAt,
    previousSeverity,
    digest: request.digest,
    archive: request.archive,
    firstSeenAt: request.firstSeenAt,
  };
  return { plan: { kind: "publish", claim, takenOver: false }, notified: pendingRecord(claim, request.now) };
}

/** For a message with nothing new to archive: takes over an expired claim, if there is one. */
export function planTakeOver(
  notified: NotifiedRecord | null | undefined,
  request: Pick<ClaimRequest, "now" | "claimId" | "expiresAt">,
): { plan: NotificationPlan; notified: NotifiedRecord | null | undefined } {
  const pending = pendingClaimOf(notified);
  if (pending === undefined || pending.expiresAt > request.now)
    return { plan: { kind: "not_due" }, notified };
  const claim = takeOver(pending, request);
  return { plan: { kind: "publish", claim, takenOver: true }, notified: pendingRecord(claim, request.now) };
}

/** The claim is done: the record keeps only what was notified, unless another instance has claimed since. */
export function completeClaim(
  notified: NotifiedRecord | null | undefined,
  claim: PendingClaim,
  publishedAt: number,
): NotifiedRecord | null | undefined {
  if (notified?.pending !== true || notified.claim_id !== claim.claimId) return notified;
  return { severity: claim.severity, modification_time: claim.modificationTime, notified_at: publishedAt };
}

export interface NotificationClaimContext {
  s3: S3Client;
  sns: SNSClient;
  bucket: string;
  topicArn: string;
  consoleBaseUrl?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

/**
 * Publishes a claim this instance holds, then marks it done with a second conditional write (starting
 * from `known`, the record the claim wrote, when given). A crash in between leaves the claim pending: it
 * expires and is published again (a repeat rather than a loss).
 */
export async function publishClaim(
  context: NotificationClaimContext,
  incidentId: string,
  plan: Extract<NotificationPlan, { kind: "publish" }>,
  known?: StoredIncidentState,
): Promise<void> {
  const { claim } = plan;
  const messageId = await publishIncidentNotification(context.sns, {
    topicArn: context.topicArn,
    digest: claim.digest,
    archive: claim.archive,
    previousSeverity: claim.previousSeverity,
    consoleBaseUrl: context.consoleBaseUrl,
    firstSeenAt: claim.firstSeenAt,
  });
  const publishedAt = context.now();
  context.metrics.addMetric(EnricherMetric.Notified, MetricUnit.Count, 1);
  const timeToAlertMs = claim.firstSeenAt === undefined ? undefined : publishedAt - claim.firstSeenAt;
  if (timeToAlertMs !== undefined) {
    context.metrics.addMetric(
      EnricherMetric.TimeToAlert,
      MetricUnit.Seconds,
      Math.max(0, timeToAlertMs) / 1000,
    );
  }
  context.logger.info(plan.takenOver ? "Notified, taking over an expired claim" : "Notified", {
    severity: claim.severity,
    previous_severity: claim.previousSeverity,
    archive_key: claim.archive.key,
    sns_message_id: messageId,
    time_to_alert_ms: timeToAlertMs,
  });
  const complete = (current: IncidentStateRecord) => ({
    record: { ...current, notified: completeClaim(current.notified, claim, publishedAt) },
    result: undefined,
  });
  await updateIncidentState(context.s3, context.bucket, incidentId, complete, { known });
}
