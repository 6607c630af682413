// What the enricher remembers per incident, in the archive bucket (no other database):
// state/incidents/<incident_id>.json with the newest archived version, the highest severity
// notified (or claimed for notifying: see functions/enricher/notification-claim.ts) and whether the
// API said the incident does not exist. Written through the conditional JSON store
// (s3-json-store.ts) so two concurrent enrichers cannot overwrite each other.
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { keySegment, STATE_PREFIX } from "./archive.ts";
import { incidentDigestSchema } from "./notification.ts";
import { S3JsonStore } from "./s3-json-store.ts";

export const INCIDENT_STATE_PREFIX = `${STATE_PREFIX}incidents/`;

const incidentStateSchema = z.looseObject({
  incident_id: z.string(),
  archived: z
    .looseObject({
      /** The newest modification_time the archive covers. */
      modification_time: z.number(),
      key: z.string(),
      archived_at: z.number(),
      /** False while that version's object holds only the alerts the batch endpoint returned (absent: complete). */
      complete: z.boolean().optional(),
      /** That version's severity, manual severity and status: what the next version's change event is judged against. */
      severity: z.string().optional(),
      manual_severity: z.string().nullish(),
      status: z.string().optional(),
    })
    .nullish(),
  notified: z
    .looseObject({
      severity: z.string(),
      modification_time: z.number(),
      /** When it was published; while `pending`, when it was claimed. */
      notified_at: z.number(),
      /** Claimed but not yet known to be published: the fields below let another instance publish it. */
      pending: z.boolean().optional(),
      claim_id: z.string().optional(),
      /** Epoch ms after which the claimant cannot still be publishing, so another instance may take over. */
      claim_expires_at: z.number().optional(),
      /** The severity subscribers had heard about before this claim (null: none). */
      previous_severity: z.string().nullish(),
      digest: incidentDigestSchema.optional(),
      archive: z.looseObject({ bucket: z.string(), key: z.string() }).optional(),
      /** Epoch ms the pipeline first saw the claimed version: where its time to alert starts. */
      first_seen_at: z.number().optional(),
    })
    .nullish(),
  not_found: z
    .looseObject({
      modification_time: z.number(),
      recorded_at: z.number(),
    })
    .nullish(),
});

export type IncidentStateRecord = z.infer<typeof incidentStateSchema>;

export interface StoredIncidentState {
  record: IncidentStateRecord;
  etag: string;
}

/** What a merge decided: the record to write and what the caller learns from deciding it. */
export interface IncidentStateMerge<R> {
  record: IncidentStateRecord;
  result: R;
}

export function incidentStateKey(incidentId: string): string {
  return `${INCIDENT_STATE_PREFIX}${keySegment(incidentId)}.json`;
}

export interface IncidentStateOptions {
  /** Conflicting writers retried before giving up; each retry re-reads the record. */
  maxAttempts?: number;
}

export interface IncidentStateUpdate {
  /** The record as last read or written (null: none yet): the first attempt need not read it again. */
  known?: StoredIncidentState | null | undefined;
}

function incidentStateStore(s3: S3Client, bucket: string, options: IncidentStateOptions = {}) {
  return new S3JsonStore<IncidentStateRecord>({
    s3,
    bucket,
    schema: incidentStateSchema,
    description: "The incident state record",
    repairHint: "Delete it to let the enricher rebuild it (the archive is unaffected).",
    conflictHint: "the message will be retried.",
    ...options,
  });
}

export async function readIncidentState(
  s3: S3Client,
  bucket: string,
  incidentId: string,
): Promise<StoredIncidentState | undefined> {
  const stored = await incidentStateStore(s3, bucket).read(incidentStateKey(incidentId));
  return stored === undefined ? undefined : { record: stored.value, etag: stored.etag };
}

/**
 * Applies `merge` to the current record (an empty one if none) and writes it conditionally; on a
 * conflict, re-reads and re-applies, so `merge` must be pure. Returns the record written, the merge's
 * result (for example the notification plan decided on the record that was actually written) and, when
 * the endpoint gave its ETag, the record as stored, for the next update to start from.
 */
export async function updateIncidentState<R = undefined>(
  s3: S3Client,
  bucket: string,
  incidentId: string,
  merge: (current: IncidentStateRecord) => IncidentStateMerge<R>,
  options: IncidentStateOptions & IncidentStateUpdate = {},
): Promise<IncidentStateMerge<R> & { stored?: StoredIncidentState | undefined }> {
  const { known, ...storeOptions } = options;
  const { value, result, etag } = await incidentStateStore(s3, bucket, storeOptions).update(
    incidentStateKey(incidentId),
    (current) => {
      const merged = merge(current ?? { incident_id: incidentId });
      return { value: merged.record, result: merged.result };
    },
    known === undefined ? undefined : known === null ? null : { value: known.record, etag: known.etag },
  );
  return { record: value, result, stored: etag === undefined ? undefined : { record: value, etag } };
}
