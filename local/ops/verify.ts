// `ops verify`: reconciles the archive with the tenant over a modification-time range. Every version
// get_incidents lists must be archived, and every archived object of the incidents created in the range
// must be gzip JSON holding the version its key names. `--repair` queues the listed versions that are
// missing or broken again (the tenant only serves an incident's current version, which is what it lists).
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { enqueueIncidentVersions } from "../../functions/poller/enqueue.ts";
import { archiveKey } from "../../functions/shared/archive.ts";
import type {
  IncidentFilterInput,
  IncidentSource,
  IncidentSummary,
} from "../../functions/shared/cortex/api.ts";
import { readIncidentState, updateIncidentState } from "../../functions/shared/incident-state.ts";
import { mapLimit } from "../../functions/shared/map-limit.ts";
import { checkArchiveObject, creationDayPrefixes, listArchiveObjects } from "./archive-scan.ts";
import { iso } from "./text.ts";

const CHECK_CONCURRENCY = 8;

export interface VerifyInput {
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrl: string;
  incidents: IncidentSource;
  from: number;
  to: number;
  filters: readonly IncidentFilterInput[];
  repair: boolean;
  now?: () => number;
  onProgress?: (line: string) => void;
}

export interface MissingVersion {
  incident_id: string;
  modification_time: number;
  key: string;
}

export interface BrokenObject {
  key: string;
  reason: string;
  /** The version the tenant lists now: --repair can fetch it again. Otherwise only S3's object versions can restore it. */
  current: boolean;
}

export interface VerifyReport {
  from: string;
  to: string;
  listed_versions: number;
  checked_objects: number;
  missing: MissingVersion[];
  broken: BrokenObject[];
  repair: { enqueued: number; state_records_reset: number; not_repairable: string[] } | null;
}

export async function verifyArchive(input: VerifyInput): Promise<VerifyReport> {
  const listed = await listCurrentVersions(input);
  input.onProgress?.(
    `listed ${listed.size} incident version(s) modified ${iso(input.from)} .. ${iso(input.to)}`,
  );
  const expected = new Map(
    [...listed.values()].map((i) => [archiveKey(i.incident_id, i.creation_time, i.modification_time), i]),
  );
  const keys = new Set(expected.keys());
  for (const prefix of creationDayPrefixes(input.from, input.to)) {
    for await (const object of listArchiveObjects(input.s3, input.bucket, prefix)) {
      if (object.Key !== undefined) keys.add(object.Key);
    }
  }
  input.onProgress?.(`checking ${keys.size} archive object(s)`);
  const checks = await mapLimit([...keys], CHECK_CONCURRENCY, async (key) => ({
    key,
    check: await checkArchiveObject(input.s3, input.bucket, key),
  }));
  const missing: MissingVersion[] = [];
  const broken: BrokenObject[] = [];
  for (const { key, check } of checks) {
    if (check.ok) continue;
    const version = expected.get(key);
    if (check.missing && version !== undefined) {
      missing.push({ incident_id: version.incident_id, modification_time: version.modification_time, key });
    } else {
      broken.push({ key, reason: check.reason, current: version !== undefined });
    }
  }
  const report: VerifyReport = {
    from: iso(input.from),
    to: iso(input.to),
    listed_versions: listed.size,
    checked_objects: keys.size - missing.length,
    missing,
    broken,
    repair: null,
  };
  if (input.repair) report.repair = await repair(input, report, expected);
  return report;
}

/** The current version of every incident modified in the range, through the poller's own walk. */
async function listCurrentVersions(input: VerifyInput): Promise<Map<string, IncidentSummary>> {
  const byId = new Map<string, IncidentSummary>();
  const walk = input.incidents.incidentsModifiedSince(
    { modificationTime: input.from, idsAtCursor: [] },
    { filters: [...input.filters, { field: "modification_time", operator: "lte", value: input.to }] },
  );
  for await (const page of walk) {
    // An incident modified mid-walk is met again later: its newer version is the current one.
    for (const incident of page.incidents) byId.set(incident.incident_id, incident);
  }
  return byId;
}

async function repair(
  input: VerifyInput,
  report: VerifyReport,
  expected: Map<string, IncidentSummary>,
): Promise<NonNullable<VerifyReport["repair"]>> {
  const keys = [
    ...report.missing.map((m) => m.key),
    ...report.broken.filter((b) => b.current).map((b) => b.key),
  ];
  const versions = keys.map((key) => expected.get(key)).filter((v): v is IncidentSummary => v !== undefined);
  let reset = 0;
  for (const version of versions) {
    if (await forgetArchivedVersion(input.s3, input.bucket, version)) reset++;
  }
  const enqueued = await enqueueIncidentVersions(versions, {
    sqs: input.sqs,
    queueUrl: input.queueUrl,
    polledAt: (input.now ?? Date.now)(),
  });
  return {
    enqueued,
    state_records_reset: reset,
    not_repairable: report.broken.filter((b) => !b.current).map((b) => b.key),
  };
}

/**
 * The incident's state record says the archive covers this version, but the object is missing or broken:
 * without correcting it the enricher would skip the repair message as a duplicate. Notification state is kept,
 * so a repair never notifies twice.
 */
export async function forgetArchivedVersion(
  s3: S3Client,
  bucket: string,
  version: IncidentSummary,
): Promise<boolean> {
  const stored = await readIncidentState(s3, bucket, version.incident_id);
  const covers = (record: typeof stored extends undefined ? never : NonNullable<typeof stored>["record"]) =>
    (record.archived?.modification_time ?? -1) >= version.modification_time;
  if (stored === undefined || !covers(stored.record)) return false;
  await updateIncidentState(s3, bucket, version.incident_id, (current) => ({
    record: covers(current) ? { ...current, archived: null } : current,
    result: undefined,
  }));
  return true;
}

export function formatVerifyReport(report: VerifyReport): string {
  const lines = [
    `verify ${report.from} .. ${report.to}: ${report.listed_versions} version(s) listed by get_incidents, ${report.checked_objects} archive object(s) read`,
  ];
  for (const m of report.missing)
    lines.push(
      `  MISSING  incident ${m.incident_id} @ ${m.modification_time} (${iso(m.modification_time)}): ${m.key}`,
    );
  for (const b of report.broken)
    lines.push(
      `  BROKEN   ${b.key}: ${b.reason}${b.current ? "" : " (an older version: restore it from the bucket's object versions)"}`,
    );
  if (report.missing.length === 0 && report.broken.length === 0)
    lines.push("  OK: every listed version is archived and every object read is sound");
  else lines.push(`  ${report.missing.length} missing, ${report.broken.length} broken`);
  if (report.repair !== null) {
    lines.push(
      `  repair: ${report.repair.enqueued} version(s) queued for the enricher (${report.repair.state_records_reset} state record(s) corrected so they are not skipped as duplicates)` +
        (report.repair.not_repairable.length > 0
          ? `; ${report.repair.not_repairable.length} older object(s) cannot be re-fetched`
          : ""),
    );
  }
  return `${lines.join("\n")}\n`;
}
