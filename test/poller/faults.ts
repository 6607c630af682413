// Faults for the poller's tests, injected through the SDK's own middleware stack (the requests that are
// let through still reach the embedded endpoint): a queue that rejects entries, a crash before a cursor write.
import type { S3Client } from "@aws-sdk/client-s3";
import type {
  SendMessageBatchCommandInput,
  SendMessageBatchCommandOutput,
  SQSClient,
} from "@aws-sdk/client-sqs";

/**
 * Makes the queue reject some SendMessageBatch entries: those `reject` picks are not sent and come back
 * in `Failed` (as SQS reports a partial failure); the rest really reach fauxqs.
 */
export function rejectBatchEntries(
  sqs: SQSClient,
  reject: (entry: { Id?: string; MessageBody?: string }) => boolean,
): void {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "SendMessageBatchCommand") return next(args);
      const input = args.input as SendMessageBatchCommandInput;
      const entries = input.Entries ?? [];
      const rejected = entries.filter(reject);
      const kept = entries.filter((e) => !rejected.includes(e));
      const failed = rejected.map((e) => ({
        Id: e.Id,
        Code: "InternalError",
        SenderFault: false,
        Message: "injected: the queue rejected this entry",
      }));
      if (kept.length === 0) {
        const output: SendMessageBatchCommandOutput = { Successful: [], Failed: failed, $metadata: {} };
        return { output, response: {} } as Awaited<ReturnType<typeof next>>;
      }
      const result = await next({ ...args, input: { ...input, Entries: kept } });
      const output = result.output as SendMessageBatchCommandOutput;
      output.Failed = [...(output.Failed ?? []), ...failed];
      return result;
    },
    { step: "initialize", name: "rejectBatchEntries" },
  );
}

/** Thrown by the crash injector: stands for the process dying at that point. */
export class InjectedCrash extends Error {
  constructor(where: string) {
    super(`injected crash: ${where}`);
    this.name = "InjectedCrash";
  }
}

/** Cursor write number `writeNumber` (PutObject, counting from 1) dies before reaching S3, as if the Lambda were killed there. */
export function crashOnCursorWrite(s3: S3Client, writeNumber = 1): void {
  let writes = 0;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutObjectCommand" && ++writes === writeNumber) {
        throw new InjectedCrash("after the page was queued, before the cursor was saved");
      }
      return next(args);
    },
    { step: "initialize", name: "crashOnCursorWrite" },
  );
}
