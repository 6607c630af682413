// Messages a batch-mode invocation could not start before its deadline go back to the queue as new
// messages (their receive count starts again) and the originals are acknowledged: with 100 messages an
// invocation, a tenant served by single calls would otherwise push unstarted messages towards the DLQ's
// receive count without ever having tried them. A message that cannot be re-sent stays failed (it comes
// back as it is), so nothing is lost either way; a duplicate, if any, is skipped as covered. The same
// hand-back spreads a short batch's single calls over the other instances (invocation.ts).
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { EnricherMetric } from "../shared/metric-names.ts";

export interface RequeueTarget {
  sqs: SQSClient;
  queueUrl: string;
  logger: Logger;
  metrics: Metrics;
}

const SQS_BATCH = 10;

/** Re-sends `records`; returns the message ids that are safely queued again (acknowledge those). */
export async function requeueUnstarted(
  target: RequeueTarget,
  records: readonly SQSRecord[],
  why = "not started before the deadline",
): Promise<Set<string>> {
  const queued = new Set<string>();
  for (let start = 0; start < records.length; start += SQS_BATCH) {
    const chunk = records.slice(start, start + SQS_BATCH);
    const entries = chunk.map((record, index) => ({ Id: String(index), MessageBody: record.body }));
    try {
      const reply = await target.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: target.queueUrl, Entries: entries }),
      );
      for (const sent of reply.Successful ?? []) {
        const record = chunk[Number(sent.Id)];
        if (record !== undefined) queued.add(record.messageId);
      }
      if ((reply.Failed ?? []).length > 0) {
        target.logger.warn(
          "Could not hand some unstarted messages back to the queue; they come back as they are",
          {
            failed: reply.Failed?.map((failed) => ({ code: failed.Code, reason: failed.Message })),
          },
        );
      }
    } catch (error) {
      target.logger.warn("Could not hand unstarted messages back to the queue; they come back as they are", {
        message_ids: chunk.map((record) => record.messageId),
        error,
      });
    }
  }
  if (queued.size > 0) {
    target.metrics.addMetric(EnricherMetric.Requeued, MetricUnit.Count, queued.size);
    target.logger.info(`Handed messages ${why} back to the queue`, { count: queued.size });
  }
  return queued;
}
