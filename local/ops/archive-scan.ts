// Reading the archive back: list objects by creation-day prefix, parse a key into the version it names,
// and check one object against the archive contract (gzip JSON whose incident matches its key).
import { promisify } from "node:util";
import { gunzip as gunzipCallback } from "node:zlib";
import {
  type _Object,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { ARCHIVE_PREFIX, archiveKey } from "../../functions/shared/archive.ts";
import { isRecord } from "../../functions/shared/cortex/schemas.ts";
import { isMissingObject } from "../../functions/shared/s3-errors.ts";

const gunzip = promisify(gunzipCallback);
const DAY_MS = 86_400_000;

/** The version an archive key names. */
export interface ArchivedKey {
  key: string;
  incidentId: string;
  modificationTime: number;
  /** UTC midnight of the creation day in the key. */
  creationDay: number;
}

const KEY_PATTERN = new RegExp(`^${ARCHIVE_PREFIX}(\\d{4})/(\\d{2})/(\\d{2})/([^/]+)/(\\d+)\\.json\\.gz$`);

/** Undefined for anything that is not an archive key of the contract's layout (archiveKey is the one home). */
export function parseArchiveKey(key: string): ArchivedKey | undefined {
  const match = KEY_PATTERN.exec(key);
  if (match === null) return undefined;
  const [, yyyy, mm, dd, segment, modification] = match as unknown as string[];
  const creationDay = Date.UTC(Number(yyyy), Number(mm) - 1, Number(dd));
  const incidentId = decodeURIComponent(segment ?? "");
  const modificationTime = Number(modification);
  // Round trip through the writer's own function, so the two can never disagree silently.
  if (archiveKey(incidentId, creationDay, modificationTime) !== key) return undefined;
  return { key, incidentId, modificationTime, creationDay };
}

/** incidents/YYYY/MM/DD/ for each UTC day from `from` to `to`, inclusive. */
export function creationDayPrefixes(from: number, to: number): string[] {
  const prefixes: string[] = [];
  for (let day = Math.floor(from / DAY_MS) * DAY_MS; day <= to; day += DAY_MS) {
    prefixes.push(archiveKey("x", day, 0).replace(/x\/0\.json\.gz$/, ""));
  }
  return prefixes;
}

export async function* listArchiveObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): AsyncGenerator<_Object> {
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    yield* page.Contents ?? [];
  }
}

export async function archiveObjectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (isMissingObject(error)) return false;
    throw error;
  }
}

export type ObjectCheck = { ok: true } | { ok: false; missing: boolean; reason: string };

/** Reads one object and checks it holds the version its key names. */
export async function checkArchiveObject(s3: S3Client, bucket: string, key: string): Promise<ObjectCheck> {
  const named = parseArchiveKey(key);
  if (named === undefined)
    return { ok: false, missing: false, reason: "key does not follow the archive layout" };
  let bytes: Uint8Array;
  try {
    const reply = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    bytes = (await reply.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    if (isMissingObject(error)) return { ok: false, missing: true, reason: "missing" };
    throw error;
  }
  let text: string;
  try {
    text = (await gunzip(bytes)).toString("utf8");
  } catch {
    return { ok: false, missing: false, reason: "not gzip" };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, missing: false, reason: "gzip, but not JSON" };
  }
  const incident = isRecord(body) && isRecord(body.incident) ? body.incident : undefined;
  if (incident === undefined) return { ok: false, missing: false, reason: "JSON without an incident object" };
  const mismatch = bodyMismatch(incident, named);
  return mismatch === undefined ? { ok: true } : { ok: false, missing: false, reason: mismatch };
}

function bodyMismatch(incident: Record<string, unknown>, named: ArchivedKey): string | undefined {
  if (String(incident.incident_id) !== named.incidentId) {
    return `body holds incident ${String(incident.incident_id)}, the key names ${named.incidentId}`;
  }
  if (incident.modification_time !== named.modificationTime) {
    return `body's modification_time is ${String(incident.modification_time)}, the key names ${named.modificationTime}`;
  }
  const created = incident.creation_time;
  if (typeof created !== "number" || Math.floor(created / DAY_MS) * DAY_MS !== named.creationDay) {
    return `body's creation_time ${String(created)} is not on the key's creation day`;
  }
  return undefined;
}
