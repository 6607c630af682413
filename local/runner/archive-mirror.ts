// Copies the archive bucket's incident objects into a local folder, same key layout, so a user can open them.
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { ARCHIVE_PREFIX } from "../../functions/shared/archive.ts";

export interface ArchiveMirrorOptions {
  s3: S3Client;
  bucket: string;
  outDir: string;
  prefix?: string;
  /** The objects this runner's own enricher wrote: when given, only those count as archived by this run. */
  ownWrites?: ArchiveWrites;
}

/**
 * The archive objects one runner's enricher wrote, recorded from its S3 client's successful PutObject calls.
 * With a shared endpoint (two runners on one AWS_ENDPOINT_URL, one bucket) the bucket's new objects are not
 * all this runner's: each reports what it archived itself.
 */
export class ArchiveWrites {
  readonly #keys = new Set<string>();
  readonly #prefix: string;

  constructor(prefix = ARCHIVE_PREFIX) {
    this.#prefix = prefix;
  }

  /** Records every archive object `s3` writes from now on; returns it. */
  watch(s3: S3Client): S3Client {
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        const key = (args.input as { Key?: unknown }).Key;
        if (
          context.commandName === "PutObjectCommand" &&
          typeof key === "string" &&
          key.startsWith(this.#prefix)
        )
          this.#keys.add(key);
        return output;
      },
      { step: "initialize", name: "record-archive-writes", override: true },
    );
    return s3;
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  get size(): number {
    return this.#keys.size;
  }
}

export class ArchiveMirrorError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ArchiveMirrorError";
  }
}

export class ArchiveMirror {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #outDir: string;
  readonly #prefix: string;
  /** Key -> the ETag copied: a partial object completed later under the same key is copied again. */
  readonly #mirrored = new Map<string, string>();
  #preexisting = new Set<string>();
  readonly #ownWrites: ArchiveWrites | undefined;
  /** Keys already reported by sync(): each of this run's objects is announced once. */
  readonly #announced = new Set<string>();
  #lastPass: Promise<unknown> = Promise.resolve();
  #nextPass: Promise<string[]> | undefined;

  constructor(options: ArchiveMirrorOptions) {
    this.#s3 = options.s3;
    this.#bucket = options.bucket;
    this.#outDir = path.resolve(options.outDir);
    this.#prefix = options.prefix ?? ARCHIVE_PREFIX;
    this.#ownWrites = options.ownWrites;
  }

  get outDir(): string {
    return this.#outDir;
  }

  /**
   * Objects this run archived, mirrored locally: those its own enricher wrote when `ownWrites` is given, else
   * every object written to the bucket since remember() was called (or since the start).
   */
  get archivedThisRun(): number {
    return [...this.#mirrored.keys()].filter((key) => this.#isThisRuns(key)).length;
  }

  #isThisRuns(key: string): boolean {
    return this.#ownWrites === undefined ? !this.#preexisting.has(key) : this.#ownWrites.has(key);
  }

  /** Notes what the bucket already holds (an AWS_ENDPOINT_URL endpoint may), so it is not counted as this run's. */
  async remember(): Promise<void> {
    this.#preexisting = new Set((await this.#listObjects()).map((object) => object.key));
  }

  /**
   * Mirrors every object not yet copied; returns the keys of those written during this run. Passes run one at a time, and a call made
   * while one runs gets the next pass, so it sees every object written before it was called.
   */
  sync(): Promise<string[]> {
    if (this.#nextPass) return this.#nextPass;
    const pass = this.#lastPass
      // The previous pass's error went to its own caller; this pass still runs.
      .catch(() => undefined)
      .then(() => {
        this.#nextPass = undefined;
        return this.#syncOnce();
      });
    this.#nextPass = pass;
    this.#lastPass = pass;
    return pass;
  }

  async #syncOnce(): Promise<string[]> {
    for (const { key, etag } of await this.#listObjects()) {
      if (this.#mirrored.get(key) === etag) continue;
      await this.#copy(key);
      this.#mirrored.set(key, etag);
    }
    // Checked on every pass: an object may be listed before its writer's PutObject has returned.
    const added = [...this.#mirrored.keys()].filter(
      (key) => !this.#announced.has(key) && this.#isThisRuns(key),
    );
    for (const key of added) this.#announced.add(key);
    return added;
  }

  async #listObjects(): Promise<{ key: string; etag: string }[]> {
    const objects: { key: string; etag: string }[] = [];
    let token: string | undefined;
    do {
      const page = await this.#s3.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) objects.push({ key: object.Key, etag: object.ETag ?? "" });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async #copy(key: string): Promise<void> {
    const target = path.resolve(this.#outDir, key);
    if (!target.startsWith(this.#outDir + path.sep)) {
      throw new ArchiveMirrorError(
        `Refusing to mirror object key "${key}": it points outside ${this.#outDir}.`,
      );
    }
    const object = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
    if (!object.Body) throw new ArchiveMirrorError(`s3://${this.#bucket}/${key} has no body.`);
    // The stored bytes exactly (gzip), not a decoded copy: the local file is what the bucket holds.
    const bytes = await object.Body.transformToByteArray();
    await mkdir(path.dirname(target), { recursive: true });
    const partial = `${target}.partial`;
    await writeFile(partial, bytes);
    await rename(partial, target);
  }
}
