// `ops status`: one screen (or one JSON object) saying whether the pipeline is healthy: the cursor and its
// lag, the last poll, both queues, alarms in ALARM and the archive's newest version.
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ARCHIVE_PREFIX } from "../../functions/shared/archive.ts";
import { CURSOR_KEY, IncidentCursorStore } from "../../functions/shared/cursor.ts";
import { isMissingObject } from "../../functions/shared/s3-errors.ts";
import { type QueueDepth, queueDepth } from "../runner/aws-resources.ts";
import { listArchiveObjects, parseArchiveKey } from "./archive-scan.ts";
import type { AlarmSummary } from "./monitoring.ts";
import type { OpsTarget } from "./target.ts";
import { formatAge, iso } from "./text.ts";

export interface PipelineStatus {
  target: string;
  at: string;
  cursor: {
    modification_time: string;
    ids_at_cursor: number;
    lag_seconds: number;
    saved_at: string | undefined;
  } | null;
  last_poll: { at: string; reported_lag_seconds: number } | null | "unavailable";
  queue: QueueDepth & { oldest_age_seconds: number | null | "unavailable" };
  dead_letter_queue: QueueDepth & { oldest_age_seconds: number | null | "unavailable" };
  alarms: AlarmSummary | "unavailable";
  newest_archived: {
    key: string;
    incident_id: string;
    modification_time: string;
    written_at: string | undefined;
  } | null;
}

export async function readStatus(target: OpsTarget, now = Date.now()): Promise<PipelineStatus> {
  const { monitoring } = target;
  const [cursor, queue, deadLetterQueue, alarms, lastPoll, newest] = await Promise.all([
    readCursor(target, now),
    queueDepth(target.sqs, target.queueUrl),
    queueDepth(target.sqs, target.deadLetterQueueUrl),
    monitoring?.alarms() ?? ("unavailable" as const),
    monitoring?.lastPollerReport() ?? ("unavailable" as const),
    newestArchived(target),
  ]);
  const age = async (url: string) =>
    monitoring === undefined
      ? ("unavailable" as const)
      : ((await monitoring.oldestMessageAgeSeconds(url)) ?? null);
  return {
    target: target.label,
    at: iso(now),
    cursor,
    last_poll:
      lastPoll === "unavailable" || lastPoll === undefined
        ? (lastPoll ?? null)
        : { at: lastPoll.at.toISOString(), reported_lag_seconds: lastPoll.value },
    queue: { ...queue, oldest_age_seconds: await age(target.queueUrl) },
    dead_letter_queue: { ...deadLetterQueue, oldest_age_seconds: await age(target.deadLetterQueueUrl) },
    alarms,
    newest_archived: newest,
  };
}

async function readCursor(target: OpsTarget, now: number): Promise<PipelineStatus["cursor"]> {
  const store = new IncidentCursorStore({ s3: target.s3, bucket: target.bucket });
  const stored = await store.load();
  if (stored === undefined) return null;
  let savedAt: string | undefined;
  try {
    const head = await target.s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: CURSOR_KEY }));
    savedAt = head.LastModified?.toISOString();
  } catch (error) {
    if (!isMissingObject(error)) throw error;
  }
  return {
    modification_time: iso(stored.cursor.modificationTime),
    ids_at_cursor: stored.cursor.idsAtCursor.length,
    lag_seconds: Math.max(0, Math.round((now - stored.cursor.modificationTime) / 1000)),
    saved_at: savedAt,
  };
}

/**
 * The most recently written object among the incidents created on the newest creation day (keys are laid
 * out by creation date, so this stays a few list calls however large the archive is).
 */
async function newestArchived(target: OpsTarget): Promise<PipelineStatus["newest_archived"]> {
  const day = await newestDayPrefix(target);
  if (day === undefined) return null;
  let newest: { key: string; written: Date | undefined } | undefined;
  for await (const object of listArchiveObjects(target.s3, target.bucket, day)) {
    if (object.Key === undefined || parseArchiveKey(object.Key) === undefined) continue;
    if (newest === undefined || (object.LastModified ?? 0) > (newest.written ?? 0)) {
      newest = { key: object.Key, written: object.LastModified };
    }
  }
  const named = newest === undefined ? undefined : parseArchiveKey(newest.key);
  if (newest === undefined || named === undefined) return null;
  return {
    key: newest.key,
    incident_id: named.incidentId,
    modification_time: iso(named.modificationTime),
    written_at: newest.written?.toISOString(),
  };
}

/** incidents/YYYY/MM/DD/ of the newest creation day, by walking the year, month and day levels. */
async function newestDayPrefix(target: OpsTarget): Promise<string | undefined> {
  let prefix = ARCHIVE_PREFIX;
  for (let level = 0; level < 3; level++) {
    const reply = await target.s3.send(
      new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, Delimiter: "/" }),
    );
    const children = (reply.CommonPrefixes ?? []).map((p) => p.Prefix ?? "").filter((p) => p !== "");
    const last = children.sort().at(-1);
    if (last === undefined) return undefined;
    prefix = last;
  }
  return prefix;
}

export function formatStatus(status: PipelineStatus, now: number): string {
  const lines = [`cortex-incident-export status: ${status.target}, ${status.at}`];
  const row = (label: string, text: string) => lines.push(`  ${label.padEnd(12)}${text}`);
  const c = status.cursor;
  row(
    "cursor",
    c === null
      ? "none yet (the poller has not saved one)"
      : `${c.modification_time}${c.ids_at_cursor > 0 ? ` (+${c.ids_at_cursor} id(s) at that ms)` : ""}, ${formatAge(c.lag_seconds)} behind now; saved ${c.saved_at ?? "?"}${c.saved_at ? ` (${formatAge((now - Date.parse(c.saved_at)) / 1000)} ago)` : ""}`,
  );
  const p = status.last_poll;
  row(
    "last poll",
    p === "unavailable"
      ? "unknown here (no CloudWatch on this endpoint); see the cursor's save time"
      : p === null
        ? "no poller report in the last 3 hours"
        : `${p.at} (${formatAge((now - Date.parse(p.at)) / 1000)} ago), reported lag ${formatAge(p.reported_lag_seconds)}`,
  );
  const queueText = (q: PipelineStatus["queue"]) =>
    `${q.visible} waiting, ${q.inFlight} in flight, ${q.delayed} delayed; oldest ${
      q.oldest_age_seconds === "unavailable"
        ? "unknown here (no CloudWatch)"
        : q.oldest_age_seconds === null
          ? "-"
          : formatAge(q.oldest_age_seconds)
    }`;
  row("queue", queueText(status.queue));
  row("DLQ", queueText(status.dead_letter_queue));
  const a = status.alarms;
  row(
    "alarms",
    a === "unavailable"
      ? "unknown here (no CloudWatch on this endpoint)"
      : a.inAlarm.length === 0
        ? `none in ALARM (${a.total} alarm(s))`
        : `${a.inAlarm.length} of ${a.total} in ALARM: ${a.inAlarm.map((x) => `${x.name} since ${x.since ?? "?"}`).join("; ")}`,
  );
  const n = status.newest_archived;
  row(
    "archive",
    n === null
      ? "empty"
      : `newest ${n.key} (incident ${n.incident_id}, modified ${n.modification_time}), written ${n.written_at ?? "?"}`,
  );
  return `${lines.join("\n")}\n`;
}
