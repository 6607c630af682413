// fauxqs stores every PutObject whatever its If-Match / If-None-Match headers. Races between enricher
// instances only resolve as they do on S3 if those conditions hold, so this layer makes an S3 client
// honour them against the embedded endpoint (in `npm start` and the tests): a conditional put of a key is
// checked against the object's current ETag (read from the endpoint) and written, one put per key at a
// time, or refused with S3's 412. It works within one process, which is where the embedded endpoint lives.
import {
  HeadObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { isMissingObject } from "../functions/shared/s3-errors.ts";

export class ConditionalWrites {
  /** Conditional puts refused because the object had changed (or appeared) since it was read. */
  refused = 0;
  readonly #probe: S3Client;
  readonly #queues = new Map<string, Promise<unknown>>();

  /** `probe` reads current ETags; it is not itself made conditional. */
  constructor(probe: S3Client) {
    this.#probe = probe;
  }

  /** Makes `s3`'s conditional PutObject calls behave as on S3; every client given here shares the check. */
  enforceOn<T extends S3Client>(s3: T): T {
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as PutObjectCommandInput;
        if (
          context.commandName !== "PutObjectCommand" ||
          (input.IfMatch === undefined && input.IfNoneMatch === undefined)
        ) {
          return next(args);
        }
        return this.#oneAtATime(`${input.Bucket}/${input.Key}`, async () => {
          const current = await this.#etag(input.Bucket ?? "", input.Key ?? "");
          const holds =
            (input.IfNoneMatch !== "*" || current === undefined) &&
            (input.IfMatch === undefined || input.IfMatch === current);
          if (!holds) {
            this.refused += 1;
            throw new S3ServiceException({
              name: "PreconditionFailed",
              $fault: "client",
              $metadata: { httpStatusCode: 412 },
              message: "At least one of the pre-conditions you specified did not hold",
            });
          }
          return next(args);
        });
      },
      { step: "initialize", name: "enforce-conditional-writes" },
    );
    return s3;
  }

  async #etag(bucket: string, key: string): Promise<string | undefined> {
    try {
      return (await this.#probe.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  #oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(work);
    this.#queues.set(
      key,
      run.catch(() => undefined),
    );
    return run;
  }
}
