// When a failed message comes back: a throttled one later each time (a minute, doubling per receive, at
// most 15 minutes), others as the caller says. Set with ChangeMessageVisibility on the failed records; if
// that fails, they come back after the queue's visibility timeout, so nothing is lost either way.
import type { Logger } from "@aws-lambda-powertools/logger";
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";

const THROTTLE_BACKOFF_BASE_SECONDS = 60;
const THROTTLE_BACKOFF_MAX_SECONDS = 900;
const SQS_BATCH = 10;

/** A minute (one budget window) on the first throttle, doubling per receive, at most 15 minutes. */
export function throttleBackoffSeconds(receiveCount: number): number {
  const exponent = Math.max(0, Math.min(receiveCount, 16) - 1);
  return Math.min(THROTTLE_BACKOFF_BASE_SECONDS * 2 ** exponent, THROTTLE_BACKOFF_MAX_SECONDS);
}

export function receiveCount(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) && count >= 1 ? count : 1;
}

export interface RedeliveryTarget {
  sqs: SQSClient;
  queueUrl: string;
  logger: Logger;
}

/** Sets each record's visibility timeout to `visibility(record)` seconds. */
export async function delayRedelivery(
  target: RedeliveryTarget,
  records: readonly SQSRecord[],
  visibility: (record: SQSRecord) => number,
): Promise<void> {
  for (let start = 0; start < records.length; start += SQS_BATCH) {
    const chunk = records.slice(start, start + SQS_BATCH);
    const entries = chunk.map((record, index) => ({
      Id: String(index),
      ReceiptHandle: record.receiptHandle,
      VisibilityTimeout: visibility(record),
    }));
    try {
      const response = await target.sqs.send(
        new ChangeMessageVisibilityBatchCommand({ QueueUrl: target.queueUrl, Entries: entries }),
      );
      for (const failed of response.Failed ?? []) {
        target.logger.warn(
          "Could not set when a failed message comes back; it does after the queue's visibility timeout",
          { message_id: chunk[Number(failed.Id)]?.messageId, code: failed.Code, reason: failed.Message },
        );
      }
    } catch (error) {
      target.logger.warn(
        "Could not set when failed messages come back; they do after the queue's visibility timeout",
        { message_ids: chunk.map((record) => record.messageId), error },
      );
    }
  }
}
