// `ops backfill`: queues a past range of incident versions for the enricher with the poller's own walk and
// enqueue code, never touching the poller's cursor. Its checkpoint is a cursor of its own
// (state/backfill/<job>/cursor.json, the poller's cursor store at another key) so a re-run resumes.
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import { setTimeout as sleepFor } from "node:timers/promises";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { z } from "zod";
import { enqueueIncidentVersions } from "../../functions/poller/enqueue.ts";
import { archiveKey, STATE_PREFIX } from "../../functions/shared/archive.ts";
import type {
  IncidentCursor,
  IncidentFilterInput,
  IncidentPage,
  IncidentSummary,
} from "../../functions/shared/cortex/api.ts";
import type { CortexClient } from "../../functions/shared/cortex/client.ts";
import { IncidentCursorStore } from "../../functions/shared/cursor.ts";
import { mapLimit } from "../../functions/shared/map-limit.ts";
import { isMissingObject } from "../../functions/shared/s3-errors.ts";
import { archiveObjectExists } from "./archive-scan.ts";
import { BackfillProgress } from "./progress.ts";
import type { OpsTarget } from "./target.ts";
import { iso } from "./text.ts";

export const BACKFILL_PREFIX = `${STATE_PREFIX}backfill/`;
const DEFAULT_CALLS_PER_SECOND = 1;
const HEAD_CONCURRENCY = 10;

export interface BackfillInput {
  target: OpsTarget;
  incidents: Pick<CortexClient, "incidentsModifiedSince" | "getIncidents">;
  from: number;
  /** Undefined: up to the live cursor. */
  to: number | undefined;
  filters: readonly IncidentFilterInput[];
  callsPerSecond?: number;
  out: Writable & { isTTY?: boolean; columns?: number };
  stopSignal: AbortSignal;
  now?: () => number;
}

export interface BackfillResult {
  job: string;
  from: number;
  to: number;
  listed: number;
  enqueued: number;
  skippedArchived: number;
  interrupted: boolean;
  alreadyComplete: boolean;
}

const jobSchema = z.object({
  job: z.string(),
  from: z.number(),
  to: z.number(),
  filters: z.array(z.object({ field: z.string(), operator: z.string(), value: z.unknown() })),
  started_at: z.string(),
  listed: z.number(),
  enqueued: z.number(),
  skipped_archived: z.number(),
  completed_at: z.string().nullable(),
});
type BackfillJob = z.infer<typeof jobSchema>;

/** The same --from, --to and --filters name the same job, so running the command again resumes it. */
export function backfillJobId(
  from: number,
  to: number | undefined,
  filters: readonly IncidentFilterInput[],
): string {
  const identity = JSON.stringify({ from, to: to ?? "live-cursor", filters });
  return `${iso(from).slice(0, 10)}-${createHash("sha256").update(identity).digest("hex").slice(0, 10)}`;
}

export async function runBackfill(input: BackfillInput): Promise<BackfillResult> {
  const { target } = input;
  const now = input.now ?? Date.now;
  const jobId = backfillJobId(input.from, input.to, input.filters);
  const checkpoint = new IncidentCursorStore({
    s3: target.s3,
    bucket: target.bucket,
    key: `${BACKFILL_PREFIX}${jobId}/cursor.json`,
    now,
  });
  const job = (await readJob(target, jobId)) ?? (await newJob(input, jobId, now));
  if (job.completed_at !== null) {
    input.out.write(
      `backfill ${jobId} (${iso(job.from)} .. ${iso(job.to)}) was completed at ${job.completed_at}: nothing to do.\n`,
    );
    return { ...resultOf(job), interrupted: false, alreadyComplete: true };
  }
  const resumeAt = (await checkpoint.load())?.cursor;
  const start: IncidentCursor = resumeAt ?? { modificationTime: job.from, idsAtCursor: [] };
  const filters = [...input.filters, { field: "modification_time", operator: "lte", value: job.to }];
  const remaining = await countIncidents(input, filters, start.modificationTime);
  input.out.write(
    `backfill ${jobId}: ${iso(job.from)} .. ${iso(job.to)} into ${target.queueUrl}` +
      `${resumeAt ? `, resuming at ${iso(resumeAt.modificationTime)}` : ""}; about ${remaining} incident(s) to walk\n`,
  );
  const progress = new BackfillProgress(input.out, {
    total: remaining,
    callsPerSecond: input.callsPerSecond ?? DEFAULT_CALLS_PER_SECOND,
    budgetPerMinute: target.settings.budgetPerMinute,
    now,
  });
  let interrupted = await walkRange(input, { job, checkpoint, start, filters, progress, now });
  if (!interrupted && !input.stopSignal.aborted) {
    job.completed_at = iso(now());
    await writeJob(target, job);
  } else {
    interrupted = true;
  }
  progress.done(
    interrupted
      ? `interrupted; run the same command again to resume backfill ${jobId}`
      : `backfill ${jobId} complete`,
  );
  return { ...resultOf(job), interrupted, alreadyComplete: false };
}

interface RangeWalk {
  job: BackfillJob;
  checkpoint: IncidentCursorStore;
  start: IncidentCursor;
  filters: IncidentFilterInput[];
  progress: BackfillProgress;
  now: () => number;
}

/** Walks the range page by page at the paced rate, queueing what is not archived; true when Ctrl-C stopped it. */
async function walkRange(input: BackfillInput, walk: RangeWalk): Promise<boolean> {
  const { now } = walk;
  const intervalMs = 1000 / (input.callsPerSecond ?? DEFAULT_CALLS_PER_SECOND);
  let pageStarted = now();
  for await (const page of input.incidents.incidentsModifiedSince(walk.start, { filters: walk.filters })) {
    await queuePage(input.target, walk, page);
    if (input.stopSignal.aborted) return true;
    // Pace the walk so other clients of the tenant keep their share of its request budget.
    const wait = pageStarted + intervalMs - now();
    if (wait > 0) await sleepFor(wait, undefined, { signal: input.stopSignal }).catch(() => undefined);
    pageStarted = now();
  }
  return false;
}

async function queuePage(target: OpsTarget, walk: RangeWalk, page: IncidentPage): Promise<void> {
  const { job } = walk;
  const fresh = await notYetArchived(target, page.incidents);
  const enqueued = await enqueueIncidentVersions(fresh, {
    sqs: target.sqs,
    queueUrl: target.queueUrl,
    polledAt: walk.now(),
  });
  // As in the poller: the checkpoint moves only once the page's versions are queued.
  await walk.checkpoint.save(page.cursor);
  const skipped = page.incidents.length - fresh.length;
  job.listed += page.incidents.length;
  job.enqueued += enqueued;
  job.skipped_archived += skipped;
  await writeJob(target, job);
  walk.progress.page(page.incidents.length, enqueued, skipped, page.cursor.modificationTime);
}

function resultOf(job: BackfillJob) {
  return {
    job: job.job,
    from: job.from,
    to: job.to,
    listed: job.listed,
    enqueued: job.enqueued,
    skippedArchived: job.skipped_archived,
  };
}

/** A new job's range: --to, cut back to just before the live cursor (from there on the poller queues everything). */
async function newJob(input: BackfillInput, jobId: string, now: () => number): Promise<BackfillJob> {
  const live = (await new IncidentCursorStore({ s3: input.target.s3, bucket: input.target.bucket }).load())
    ?.cursor;
  let to = input.to ?? now();
  if (live === undefined) {
    input.out.write(
      "note: the poller has no cursor yet; its first run re-reads its look-back, and the enricher skips what it already archived.\n",
    );
  } else if (to >= live.modificationTime) {
    if (input.to !== undefined)
      input.out.write(
        `note: --to is past the live cursor; the poller covers from ${iso(live.modificationTime)} on, so the backfill stops just before it.\n`,
      );
    to = live.modificationTime - 1;
  }
  if (to < input.from) {
    throw new RangeError(
      `Nothing to backfill: the live cursor (${iso(to + 1)}) is at or before --from; the poller covers that range.`,
    );
  }
  const job: BackfillJob = {
    job: jobId,
    from: input.from,
    to,
    filters: [...input.filters],
    started_at: iso(now()),
    listed: 0,
    enqueued: 0,
    skipped_archived: 0,
    completed_at: null,
  };
  await writeJob(input.target, job);
  return job;
}

const jobKey = (jobId: string) => `${BACKFILL_PREFIX}${jobId}/job.json`;

async function readJob(target: OpsTarget, jobId: string): Promise<BackfillJob | undefined> {
  try {
    const reply = await target.s3.send(new GetObjectCommand({ Bucket: target.bucket, Key: jobKey(jobId) }));
    return jobSchema.parse(JSON.parse((await reply.Body?.transformToString()) ?? ""));
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    throw error;
  }
}

async function writeJob(target: OpsTarget, job: BackfillJob): Promise<void> {
  await target.s3.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: jobKey(job.job),
      Body: JSON.stringify(job),
      ContentType: "application/json",
    }),
  );
}

/** How many incidents the walk will meet, for the ETA (get_incidents' total_count, one call). */
async function countIncidents(
  input: BackfillInput,
  filters: readonly IncidentFilterInput[],
  from: number,
): Promise<number> {
  const reply = await input.incidents.getIncidents({
    filters: [...filters, { field: "modification_time", operator: "gte", value: from }] as never,
    search_from: 0,
    search_to: 1,
  });
  return reply.total_count ?? 0;
}

async function notYetArchived(
  target: OpsTarget,
  incidents: readonly IncidentSummary[],
): Promise<IncidentSummary[]> {
  const archived = await mapLimit(incidents, HEAD_CONCURRENCY, (i) =>
    archiveObjectExists(
      target.s3,
      target.bucket,
      archiveKey(i.incident_id, i.creation_time, i.modification_time),
    ),
  );
  return incidents.filter((_, index) => !archived[index]);
}
