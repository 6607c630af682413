// One JSON object per key in the archive bucket, changed only by read, merge, conditional put: If-Match
// on the ETag read (If-None-Match: * for a new object), and on a conflict the merge is re-applied to what
// is there now. The poller's cursor and the enricher's per-incident records both live on it.
//
// No ETag on a read means the endpoint cannot do conditional writes: the store refuses rather than write
// unconditionally, because an unconditional put can silently undo another writer's change (a cursor moved
// backwards, a notification claim lost), and a loud failure is what the guarantees need.
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { isMissingObject, isWriteConflict } from "./s3-errors.ts";

export type S3JsonStoreErrorKind = "unreadable" | "conflict" | "no_etag";

/** A state object could not be read or written; the message names the object and what to do. */
export class S3JsonStoreError extends Error {
  readonly kind: S3JsonStoreErrorKind;
  /** s3://bucket/key */
  readonly location: string;

  constructor(kind: S3JsonStoreErrorKind, location: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "S3JsonStoreError";
    this.kind = kind;
    this.location = location;
  }
}

/** An object as read, with the ETag the next conditional write must match. */
export interface StoredJson<T> {
  value: T;
  etag: string;
}

/** What a merge decided: the value to store (or, with `unchanged`, the stored one to keep) and a result for the caller. */
export interface JsonMerge<T, R> {
  value: T;
  result: R;
  /** Nothing to write: `value` is the stored value, kept as it is. */
  unchanged?: boolean;
}

export interface S3JsonStoreOptions<T> {
  s3: S3Client;
  bucket: string;
  schema: z.ZodType<T>;
  /** What the object is, for messages: "the poller's cursor". */
  description: string;
  /** What a user should do with an unreadable object: "Delete it to let the enricher rebuild it." */
  repairHint: string;
  /** Why the writes keep conflicting and what to check, for the message after the last attempt. */
  conflictHint: string;
  /** Conditional writes tried before giving up; each retry re-reads the object. Default 5. */
  maxAttempts?: number;
}

export const DEFAULT_MAX_WRITE_ATTEMPTS = 5;

export class S3JsonStore<T> {
  readonly #options: S3JsonStoreOptions<T>;

  constructor(options: S3JsonStoreOptions<T>) {
    this.#options = options;
  }

  location(key: string): string {
    return `s3://${this.#options.bucket}/${key}`;
  }

  /** The stored value and its ETag, or undefined when there is no object yet. */
  async read(key: string): Promise<StoredJson<T> | undefined> {
    const { s3, bucket } = this.#options;
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
    const value = this.#parse(key, text);
    if (etag === undefined) {
      throw new S3JsonStoreError(
        "no_etag",
        this.location(key),
        `${this.#options.description} ${this.location(key)} was read without an ETag, so it cannot be updated safely. ` +
          "The S3 endpoint must support conditional writes (AWS S3 does; check AWS_ENDPOINT_URL).",
      );
    }
    return { value, etag };
  }

  /**
   * Applies `merge` to the stored value (undefined if none) and writes the outcome conditionally; on a
   * conflict, re-reads and re-applies. `merge` must therefore be a pure function of what it is given.
   * `known` is the object as the caller last read (or wrote) it, null for none: the first attempt uses it
   * instead of reading again, and a stale one costs only a conflict and a re-read. The ETag returned is
   * the object's after the write (undefined when the endpoint did not say).
   */
  async update<R>(
    key: string,
    merge: (current: T | undefined) => JsonMerge<T, R>,
    known?: StoredJson<T> | null,
  ): Promise<JsonMerge<T, R> & { etag?: string | undefined }> {
    const { s3, bucket } = this.#options;
    const maxAttempts = this.#options.maxAttempts ?? DEFAULT_MAX_WRITE_ATTEMPTS;
    let lastConflict: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const stored = attempt === 1 && known !== undefined ? (known ?? undefined) : await this.read(key);
      const merged = merge(stored?.value);
      if (merged.unchanged === true) return { ...merged, etag: stored?.etag };
      try {
        const written = await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: JSON.stringify(merged.value),
            ContentType: "application/json",
            // Real S3 answers 412 (or 409 for a racing create) if another writer changed it since our read.
            ...(stored === undefined ? { IfNoneMatch: "*" } : { IfMatch: stored.etag }),
          }),
        );
        return { ...merged, etag: written.ETag };
      } catch (error) {
        if (!isWriteConflict(error)) throw error;
        lastConflict = error;
      }
    }
    throw new S3JsonStoreError(
      "conflict",
      this.location(key),
      `${this.#options.description} ${this.location(key)} kept changing under ${maxAttempts} conditional writes; ${this.#options.conflictHint}`,
      { cause: lastConflict },
    );
  }

  #parse(key: string, text: string): T {
    const { description, repairHint, schema } = this.#options;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new S3JsonStoreError(
        "unreadable",
        this.location(key),
        `${description} ${this.location(key)} is not JSON. ${repairHint}`,
        { cause },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new S3JsonStoreError(
        "unreadable",
        this.location(key),
        `${description} ${this.location(key)} does not have the expected shape (${z.prettifyError(parsed.error)}). ${repairHint}`,
      );
    }
    return parsed.data;
  }
}
