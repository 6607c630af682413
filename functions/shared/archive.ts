// The archive contract (DESIGN.md): one gzip JSON object per incident version, keyed by creation date,
// incident id and modification time, holding the get_incident_extra_data `reply` exactly as received.
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ExtraDataEndpoint } from "./cortex/paths.ts";
import { isWriteConflict } from "./s3-errors.ts";

const gzip = promisify(gzipCallback);

export const ARCHIVE_PREFIX = "incidents/";
/** Everything the pipeline keeps besides the archive: cursor, per-incident state, quarantine, backfill jobs. */
export const STATE_PREFIX = "state/";
export const QUARANTINE_PREFIX = `${STATE_PREFIX}quarantine/`;

/** S3 user metadata travels as HTTP headers: keep it short and printable ASCII. */
const METADATA_VALUE_MAX = 256;

/** An id is a path segment of the key: keep ids as they are unless they could break the layout. */
export function keySegment(value: string): string {
  return /^[A-Za-z0-9._-]+$/.test(value) && value !== "." && value !== ".."
    ? value
    : encodeURIComponent(value).replaceAll(".", "%2E");
}

/** incidents/<YYYY>/<MM>/<DD>/<incident_id>/<modification_time>.json.gz, the date being the creation date in UTC. */
export function archiveKey(incidentId: string, creationTime: number, modificationTime: number): string {
  const created = new Date(creationTime);
  const yyyy = String(created.getUTCFullYear()).padStart(4, "0");
  const mm = String(created.getUTCMonth() + 1).padStart(2, "0");
  const dd = String(created.getUTCDate()).padStart(2, "0");
  return `${ARCHIVE_PREFIX}${yyyy}/${mm}/${dd}/${keySegment(incidentId)}/${modificationTime}.json.gz`;
}

/** Where a reply that was not JSON at all is kept for diagnosis: state/quarantine/<incident_id>/<fetch_time>.txt.gz. */
export function quarantineKey(incidentId: string, fetchTime: number): string {
  return `${QUARANTINE_PREFIX}${keySegment(incidentId)}/${fetchTime}.txt.gz`;
}

/** Printable ASCII only, one line, bounded: what S3 accepts in a metadata header. */
export function metadataValue(value: string): string {
  const ascii = value
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^\x20-\x7e]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return ascii.length > METADATA_VALUE_MAX ? `${ascii.slice(0, METADATA_VALUE_MAX - 3)}...` : ascii;
}

export interface ArchivedVersion {
  incidentId: string;
  severity: string;
  status: string;
  modificationTime: number;
  fetchTime: number;
  alertsReturned: number;
  alertsTotal: number | null;
  /** False when the batch endpoint cut the alerts: the single-incident call will complete this version. */
  alertsComplete: boolean;
  /** Which endpoint the reply came from. */
  source: ExtraDataEndpoint;
  schemaIssues: readonly string[];
}

export function archiveMetadata(version: ArchivedVersion): Record<string, string> {
  const metadata: Record<string, string> = {
    "incident-id": metadataValue(version.incidentId),
    severity: metadataValue(version.severity),
    status: metadataValue(version.status),
    "modification-time": String(version.modificationTime),
    "fetch-time": String(version.fetchTime),
    "alerts-returned": String(version.alertsReturned),
    "alerts-total": version.alertsTotal === null ? "unknown" : String(version.alertsTotal),
    "alerts-complete": String(version.alertsComplete),
    source: version.source,
    "schema-valid": String(version.schemaIssues.length === 0),
  };
  if (version.schemaIssues.length > 0) {
    const summary = version.schemaIssues.slice(0, 3).join("; ");
    const more = version.schemaIssues.length > 3 ? ` (+${version.schemaIssues.length - 3} more)` : "";
    metadata["schema-issues"] = metadataValue(`${summary}${more}`);
  }
  return metadata;
}

export interface ArchiveIncidentInput {
  bucket: string;
  key: string;
  /** The `reply` object as received from the API, written as is. */
  reply: Record<string, unknown>;
  version: ArchivedVersion;
}

/**
 * Writes the version's object and returns true. A partial object (alerts cut by the batch endpoint) is
 * written only where no object is yet (If-None-Match), so it never replaces a complete one: false then.
 */
export async function archiveIncident(s3: S3Client, input: ArchiveIncidentInput): Promise<boolean> {
  const body = await gzip(Buffer.from(JSON.stringify(input.reply), "utf8"));
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: input.bucket,
        Key: input.key,
        Body: body,
        ContentType: "application/json",
        ContentEncoding: "gzip",
        Metadata: archiveMetadata(input.version),
        ...(input.version.alertsComplete ? {} : { IfNoneMatch: "*" }),
      }),
    );
    return true;
  } catch (error) {
    if (!input.version.alertsComplete && isWriteConflict(error)) return false;
    throw error;
  }
}

export interface QuarantineReplyInput {
  bucket: string;
  incidentId: string;
  fetchTime: number;
  rawBody: string;
  /** Why it is here, e.g. the client's error message; never contains a secret. */
  reason: string;
}

/** Keeps a reply that could not be parsed, so nothing the API sent is lost; returns its key. */
export async function quarantineReply(s3: S3Client, input: QuarantineReplyInput): Promise<string> {
  const key = quarantineKey(input.incidentId, input.fetchTime);
  await s3.send(
    new PutObjectCommand({
      Bucket: input.bucket,
      Key: key,
      Body: await gzip(Buffer.from(input.rawBody, "utf8")),
      ContentType: "text/plain; charset=utf-8",
      ContentEncoding: "gzip",
      Metadata: {
        "incident-id": metadataValue(input.incidentId),
        "fetch-time": String(input.fetchTime),
        reason: metadataValue(input.reason),
      },
    }),
  );
  return key;
}
