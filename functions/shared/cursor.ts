// The poller's IncidentCursor, kept in the archive bucket. Every save re-reads the stored cursor and
// never writes one that is behind it; the conditional write (IfMatch / IfNoneMatch) closes the race
// between that read and the write on real S3, so two overlapping runs can never move it backwards.
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { z } from "zod";
import type { IncidentCursor } from "./cortex/api.ts";
import { isMissingObject, isWriteConflict } from "./s3-errors.ts";

export const CURSOR_KEY = "state/cursor.json";
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

export type CursorStoreErrorKind = "unreadable" | "conflict";

/** The cursor object could not be read or written; the message names the object and what to do. */
export class CursorStoreError extends Error {
  readonly kind: CursorStoreErrorKind;

  constructor(kind: CursorStoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CursorStoreError";
    this.kind = kind;
  }
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
  /** How many times a save re-reads and retries after a precondition failure (another writer won the race). */
  maxConflictRetries?: number;
  now?: () => number;
  /** Told when a save keeps a stored cursor that another run moved at or past ours. */
  onKeptStored?: (details: { ours: IncidentCursor; stored: IncidentCursor }) => void;
}

export class IncidentCursorStore {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #key: string;
  readonly #maxConflictRetries: number;
  readonly #now: () => number;
  readonly #onKeptStored: IncidentCursorStoreOptions["onKeptStored"];

  constructor(options: IncidentCursorStoreOptions) {
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#key = options.key ?? CURSOR_KEY;
    this.#maxConflictRetries = options.maxConflictRetries ?? 5;
    this.#now = options.now ?? Date.now;
    this.#onKeptStored = options.onKeptStored;
  }

  /** s3://bucket/key of the cursor object, for messages and logs. */
  get location(): string {
    return `s3://${this.#bucket}/${this.#key}`;
  }

  /** The stored cursor and its ETag, or undefined before the first run has saved one. */
  async load(): Promise<StoredIncidentCursor | undefined> {
    let response: GetObjectCommandOutput;
    try {
      response = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key }));
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
    const text = (await response.Body?.transformToString()) ?? "";
    const cursor = this.#parse(text);
    if (response.ETag === undefined) {
      throw new CursorStoreError(
        "unreadable",
        `${this.location} was read without an ETag, so it cannot be updated safely.`,
      );
    }
    return { cursor, etag: response.ETag };
  }

  /**
   * Saves `cursor` unless the stored one is already at or past it, in which case the stored one is kept.
   * Returns the cursor that is stored afterwards. Never writes a cursor older than the stored one.
   */
  async save(cursor: IncidentCursor): Promise<CursorSaveResult> {
    for (let attempt = 0; attempt <= this.#maxConflictRetries; attempt++) {
      const stored = await this.load();
      let target = cursor;
      if (stored !== undefined) {
        const order = compareIncidentCursors(cursor, stored.cursor);
        if (order !== null && order <= 0) {
          if (order < 0) this.#onKeptStored?.({ ours: cursor, stored: stored.cursor });
          return { cursor: stored.cursor, outcome: "kept_stored" };
        }
        target = furthestIncidentCursor(cursor, stored.cursor);
      }
      try {
        await this.#s3.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: this.#key,
            Body: JSON.stringify({
              version: CURSOR_FORMAT_VERSION,
              modificationTime: target.modificationTime,
              idsAtCursor: target.idsAtCursor,
              updatedAt: new Date(this.#now()).toISOString(),
            }),
            ContentType: "application/json",
            // Real S3 rejects the write (412) if another run changed the object since our read.
            ...(stored === undefined ? { IfNoneMatch: "*" } : { IfMatch: stored.etag }),
          }),
        );
        return { cursor: target, outcome: "written" };
      } catch (error) {
        if (!isWriteConflict(error)) throw error;
        // Another run wrote in between: re-read and decide again.
      }
    }
    throw new CursorStoreError(
      "conflict",
      `${this.location} kept changing under ${this.#maxConflictRetries + 1} conditional writes; ` +
        "another poller run is writing it at the same time. The stack allows one run at a time: check for a second deployment or a local runner using this bucket.",
    );
  }

  #parse(text: string): IncidentCursor {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new CursorStoreError(
        "unreadable",
        `${this.location} is not JSON. Fix or delete it (deleting restarts from the first-run look-back).`,
        { cause },
      );
    }
    const parsed = storedCursorSchema.safeParse(json);
    if (!parsed.success) {
      throw new CursorStoreError(
        "unreadable",
        `${this.location} is not a cursor this poller understands: ${z.prettifyError(parsed.error)}. ` +
          "Fix or delete it (deleting restarts from the first-run look-back).",
      );
    }
    return { modificationTime: parsed.data.modificationTime, idsAtCursor: parsed.data.idsAtCursor };
  }
}
