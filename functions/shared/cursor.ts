// The poller's IncidentCursor, kept in the archive bucket on the conditional JSON store (s3-json-store.ts).
// Every save merges with the stored cursor and never writes one that is behind it; the conditional write
// closes the race between that read and the write on real S3, so two overlapping runs never move it back.
// Fields a newer poller adds to the stored object are kept by the merge (`...stored`). Beside the cursor it
// keeps the late-arrival window's record of what was sent (functions/poller/late-window.ts), saved together
// with the cursor so the two never disagree.
import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { STATE_PREFIX } from "./archive.ts";
import type { IncidentCursor } from "./cortex/api.ts";
import { type JsonMerge, S3JsonStore } from "./s3-json-store.ts";

export const CURSOR_KEY = `${STATE_PREFIX}cursor.json`;
export const CURSOR_FORMAT_VERSION = 1;

const storedCursorSchema = z.looseObject({
  version: z.literal(CURSOR_FORMAT_VERSION),
  modificationTime: z.number().int().nonnegative(),
  idsAtCursor: z.array(z.string()),
  updatedAt: z.string(),
  // Absent in a cursor written before the late-arrival window: nothing below the cursor is known sent.
  lateWindow: z
    .object({
      completeFrom: z.number().int().nonnegative(),
      sent: z.record(z.string(), z.number().int().nonnegative()),
    })
    .optional(),
});

/**
 * Which incident versions the poller sent at or after `completeFrom`: each incident's newest sent
 * modification_time. Kept bounded by the poller (only the re-read window, and a cap).
 */
export interface SentVersionRecord {
  completeFrom: number;
  sent: Record<string, number>;
}

/** The record of an older cursor object: complete only from the cursor on (the cursor's own ids cover it). */
function recordOf(stored: StoredCursorObject): SentVersionRecord {
  return stored.lateWindow ?? { completeFrom: stored.modificationTime, sent: {} };
}

/** Both runs' sends: each incident's newest, complete from the later of the two starts. */
export function unitedSentRecords(a: SentVersionRecord, b: SentVersionRecord): SentVersionRecord {
  const sent = { ...b.sent };
  for (const [id, time] of Object.entries(a.sent)) sent[id] = Math.max(time, sent[id] ?? -1);
  return { completeFrom: Math.max(a.completeFrom, b.completeFrom), sent };
}

function sameRecord(a: SentVersionRecord, b: SentVersionRecord): boolean {
  const aIds = Object.keys(a.sent);
  return (
    a.completeFrom === b.completeFrom &&
    aIds.length === Object.keys(b.sent).length &&
    aIds.every((id) => a.sent[id] === b.sent[id])
  );
}

/** The cursor as it was read from S3, with the ETag a conditional write must match. */
export interface StoredIncidentCursor {
  cursor: IncidentCursor;
  record: SentVersionRecord;
  etag: string;
}

/** What a save did: wrote our cursor, or kept the stored one because it was already at or ahead of ours. */
export interface CursorSaveResult {
  cursor: IncidentCursor;
  record: SentVersionRecord;
  outcome: "written" | "kept_stored";
}

/** Negative when `a` is behind `b`, 0 when equal, positive when ahead; null when neither contains the other. */
export function compareIncidentCursors(a: IncidentCursor, b: IncidentCursor): number | null {
  if (a.modificationTime !== b.modificationTime) return a.modificationTime - b.modificationTime;
  const aIds = new Set(a.idsAtCursor);
  const bIds = new Set(b.idsAtCursor);
  const aCoversB = b.idsAtCursor.every((id) => aIds.has(id));
  const bCoversA = a.idsAtCursor.every((id) => bIds.has(id));
  if (aCoversB && bCoversA) return 0;
  if (aCoversB) return 1;
  if (bCoversA) return -1;
  return null;
}

/**
 * The furthest cursor both runs justify: the later millisecond wins; at the same millisecond every id
 * either run has enqueued is handled, so the id sets are united.
 */
export function furthestIncidentCursor(a: IncidentCursor, b: IncidentCursor): IncidentCursor {
  if (a.modificationTime !== b.modificationTime) {
    return a.modificationTime > b.modificationTime ? a : b;
  }
  const ids = [...new Set([...b.idsAtCursor, ...a.idsAtCursor])].sort();
  return { modificationTime: a.modificationTime, idsAtCursor: ids };
}

export interface IncidentCursorStoreOptions {
  s3: S3Client;
  bucket: string;
  key?: string;
  /** Conditional writes tried before giving up (another writer keeps winning the race); default 5. */
  maxAttempts?: number;
  now?: () => number;
  /** Told when a save keeps a stored cursor that another run moved at or past ours. */
  onKeptStored?: (details: { ours: IncidentCursor; stored: IncidentCursor }) => void;
}

type StoredCursorObject = z.infer<typeof storedCursorSchema>;

function cursorOf(stored: StoredCursorObject): IncidentCursor {
  return { modificationTime: stored.modificationTime, idsAtCursor: stored.idsAtCursor };
}

export class IncidentCursorStore {
  readonly #store: S3JsonStore<StoredCursorObject>;
  readonly #key: string;
  readonly #now: () => number;
  readonly #onKeptStored: IncidentCursorStoreOptions["onKeptStored"];

  constructor(options: IncidentCursorStoreOptions) {
    this.#store = new S3JsonStore({
      s3: options.s3,
      bucket: options.bucket,
      schema: storedCursorSchema,
      description: "The poller's cursor",
      repairHint: "Fix or delete it (deleting restarts from the first-run look-back).",
      conflictHint:
        "another poller run is writing it at the same time. The stack allows one run at a time: check for a second deployment or a local runner using this bucket.",
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    });
    this.#key = options.key ?? CURSOR_KEY;
    this.#now = options.now ?? Date.now;
    this.#onKeptStored = options.onKeptStored;
  }

  /** s3://bucket/key of the cursor object, for messages and logs. */
  get location(): string {
    return this.#store.location(this.#key);
  }

  /** The stored cursor and its ETag, or undefined before the first run has saved one. */
  async load(): Promise<StoredIncidentCursor | undefined> {
    const stored = await this.#store.read(this.#key);
    if (stored === undefined) return undefined;
    return { cursor: cursorOf(stored.value), record: recordOf(stored.value), etag: stored.etag };
  }

  /**
   * Saves `cursor` unless the stored one is already at or past it, in which case the stored one is kept,
   * and unites `record` (when given) with the stored record. Returns what is stored afterwards. Never
   * writes a cursor older than the stored one.
   */
  async save(cursor: IncidentCursor, record?: SentVersionRecord): Promise<CursorSaveResult> {
    const { result } = await this.#store.update(this.#key, (stored) => this.#merge(cursor, record, stored));
    if (result.oursWasBehind) this.#onKeptStored?.({ ours: cursor, stored: result.cursor });
    return { cursor: result.cursor, record: result.record, outcome: result.outcome };
  }

  #merge(
    ours: IncidentCursor,
    ourRecord: SentVersionRecord | undefined,
    stored: StoredCursorObject | undefined,
  ): JsonMerge<StoredCursorObject, CursorSaveResult & { oursWasBehind: boolean }> {
    const storedCursor = stored === undefined ? undefined : cursorOf(stored);
    const storedRecord = stored === undefined ? undefined : recordOf(stored);
    const order = storedCursor === undefined ? null : compareIncidentCursors(ours, storedCursor);
    const keepCursor = storedCursor !== undefined && order !== null && order <= 0;
    const target =
      keepCursor || storedCursor === undefined
        ? (storedCursor ?? ours)
        : furthestIncidentCursor(ours, storedCursor);
    const record =
      storedRecord === undefined
        ? (ourRecord ?? { completeFrom: target.modificationTime, sent: {} })
        : ourRecord === undefined
          ? storedRecord
          : unitedSentRecords(ourRecord, storedRecord);
    const oursWasBehind = order !== null && order < 0;
    if (
      stored !== undefined &&
      keepCursor &&
      storedRecord !== undefined &&
      sameRecord(record, storedRecord)
    ) {
      return {
        value: stored,
        unchanged: true,
        result: { cursor: target, record, outcome: "kept_stored", oursWasBehind },
      };
    }
    return {
      value: {
        ...stored,
        version: CURSOR_FORMAT_VERSION,
        modificationTime: target.modificationTime,
        idsAtCursor: target.idsAtCursor,
        updatedAt: new Date(this.#now()).toISOString(),
        lateWindow: record,
      },
      result: { cursor: target, record, outcome: keepCursor ? "kept_stored" : "written", oursWasBehind },
    };
  }
}
