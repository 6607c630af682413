// What the enricher remembers per incident, in the archive bucket (no other database):
// state/incidents/<incident_id>.json with the newest archived version, the highest severity
// notified (or claimed for notifying: see functions/enricher/notification-claim.ts) and whether the
// API said the incident does not exist. Written with S3 conditional
// writes (If-Match on the ETag read, If-None-Match: * for a new record) so two concurrent
// enrichers cannot overwrite each other; on a conflict the update is re-applied to what is there.
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { keySegment } from "./archive.ts";
import { incidentDigestSchema } from "./notification.ts";
import { isMissingObject, isWriteConflict } from "./s3-errors.ts";

export const INCIDENT_STATE_PREFIX = "state/incidents/";

const incidentStateSchema = z.looseObject({
  incident_id: z.string(),
  archived: z
    .looseObject({
      /** The newest modification_time the archive covers. */
      modification_time: z.number(),
      key: z.string(),
      archived_at: z.number(),
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
  etag: string | undefined;
}

export class IncidentStateError extends Error {
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IncidentStateError";
    this.key = key;
  }
}

export function incidentStateKey(incidentId: string): string {
  return `${INCIDENT_STATE_PREFIX}${keySegment(incidentId)}.json`;
}

export async function readIncidentState(
  s3: S3Client,
  bucket: string,
  incidentId: string,
): Promise<StoredIncidentState | undefined> {
  const key = incidentStateKey(incidentId);
  let text: string;
  let etag: string | undefined;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await response.Body?.transformToString("utf8")) ?? "";
    etag = response.ETag;
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new IncidentStateError(
      key,
      `The incident state record s3://${bucket}/${key} is not JSON. Delete it to let the enricher rebuild it (the archive is unaffected).`,
      { cause: error },
    );
  }
  const parsed = incidentStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new IncidentStateError(
      key,
      `The incident state record s3://${bucket}/${key} does not have the expected shape (${z.prettifyError(parsed.error)}). Delete it to let the enricher rebuild it.`,
    );
  }
  return { record: parsed.data, etag };
}

/** New record: only if none appeared meanwhile; existing record: only if unchanged since read. */
function writeCondition(stored: StoredIncidentState | undefined): { IfNoneMatch?: string; IfMatch?: string } {
  if (stored === undefined) return { IfNoneMatch: "*" };
  // An endpoint that sends no ETag cannot do conditional writes: the merge-on-write still keeps values monotonic.
  return stored.etag === undefined ? {} : { IfMatch: stored.etag };
}

export interface UpdateIncidentStateOptions {
  /** Conflicting writers retried before giving up; each retry re-reads the record. */
  maxAttempts?: number;
}

/**
 * Applies `update` to the current record (an empty one if none) and writes it conditionally;
 * on a conflict, re-reads and re-applies. `update` must therefore be a pure merge of the current record.
 */
export async function updateIncidentState(
  s3: S3Client,
  bucket: string,
  incidentId: string,
  update: (current: IncidentStateRecord) => IncidentStateRecord,
  options: UpdateIncidentStateOptions = {},
): Promise<IncidentStateRecord> {
  const key = incidentStateKey(incidentId);
  const maxAttempts = options.maxAttempts ?? 5;
  let lastConflict: unknown;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const stored = await readIncidentState(s3, bucket, incidentId);
    const next = update(stored?.record ?? { incident_id: incidentId });
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: JSON.stringify(next),
          ContentType: "application/json",
          ...writeCondition(stored),
        }),
      );
      return next;
    } catch (error) {
      if (!isWriteConflict(error)) throw error;
      lastConflict = error;
    }
  }
  throw new IncidentStateError(
    key,
    `The incident state record s3://${bucket}/${key} kept changing under ${maxAttempts} conditional writes; the message will be retried.`,
    { cause: lastConflict },
  );
}
