// The queue records of one invocation, read once: each valid one as its incident version message, each
// invalid one rejected with its reason (it fails, and lands in the DLQ after the maximum receive count).
import type { SQSRecord } from "aws-lambda";
import { z } from "zod";
import { type IncidentVersionMessage, incidentVersionMessageSchema } from "../shared/queue-message.ts";
import { InvalidQueueMessageError } from "./errors.ts";

export interface ParsedRecord {
  record: SQSRecord;
  message: IncidentVersionMessage;
}

export function parseMessage(record: SQSRecord): IncidentVersionMessage {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    throw new InvalidQueueMessageError(record.messageId, `body is not JSON: ${(error as Error).message}`);
  }
  const parsed = incidentVersionMessageSchema.safeParse(body);
  if (!parsed.success) {
    throw new InvalidQueueMessageError(record.messageId, z.prettifyError(parsed.error).replace(/\n/g, "; "));
  }
  return parsed.data;
}

/** Every record's message; `reject` is told of each invalid one. */
export function parseRecords(
  records: readonly SQSRecord[],
  reject: (record: SQSRecord, error: InvalidQueueMessageError) => void,
): ParsedRecord[] {
  const parsed: ParsedRecord[] = [];
  for (const record of records) {
    try {
      parsed.push({ record, message: parseMessage(record) });
    } catch (error) {
      if (!(error instanceof InvalidQueueMessageError)) throw error;
      reject(record, error);
    }
  }
  return parsed;
}
