// The poller's IncidentCursor, kept in the archive bucket on the conditional JSON store (s3-json-store.ts).
// Every save merges with the stored cursor and never writes one that is behind it; the conditional write
// closes the race between that read and the write on real S3, so two overlapping runs never move it back.
// Fields a newer poller adds to the stored object are kept by the merge (`...stored`).
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
});

/** The cursor as it was read from S3, with the ETag a conditional write must match. */
export interface StoredIncidentCursor {
  cursor: IncidentCursor;
  etag: string;
}

/** What a save did: wrote our cursor, or kept the stored one because it was already at or ahead of ours. */
export interface CursorSaveResult {
  cursor: IncidentCursor;
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
    return stored === undefined ? undefined : { cursor: cursorOf(stored.value), etag: stored.etag };
  }

  /**
   * Saves `cursor` unless the stored one is already at or past it, in which case the stored one is kept.
   * Returns the cursor that is stored afterwards. Never writes a cursor older than the stored one.
   */
  async save(cursor: IncidentCursor): Promise<CursorSaveResult> {
    const { result } = await this.#store.update(this.#key, (stored) => this.#merge(cursor, stored));
    if (result.oursWasBehind) this.#onKeptStored?.({ ours: cursor, stored: result.cursor });
    return { cursor: result.cursor, outcome: result.outcome };
  }

  #merge(
    ours: IncidentCursor,
    stored: StoredCursorObject | undefined,
  ): JsonMerge<StoredCursorObject, CursorSaveResult & { oursWasBehind: boolean }> {
    if (stored !== undefined) {
      const storedCursor = cursorOf(stored);
      const order = compareIncidentCursors(ours, storedCursor);
      if (order !== null && order <= 0) {
        const result = { cursor: storedCursor, outcome: "kept_stored" as const, oursWasBehind: order < 0 };
        return { value: stored, unchanged: true, result };
      }
    }
    const target = stored === undefined ? ours : furthestIncidentCursor(ours, cursorOf(stored));
    return {
      value: {
        ...stored,
        version: CURSOR_FORMAT_VERSION,
        modificationTime: target.modificationTime,
        idsAtCursor: target.idsAtCursor,
        updatedAt: new Date(this.#now()).toISOString(),
      },
      result: { cursor: target, outcome: "written", oursWasBehind: false },
    };
  }
}
