// Sends one SQS message per incident version, 10 to a SendMessageBatch call, and retries the entries a
// batch reports as failed until every one is in the queue or the attempts run out (then it throws, so
// the caller does not advance the cursor past versions that are not queued).
import { setTimeout } from "node:timers/promises";
import {
  type BatchResultErrorEntry,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { IncidentSummary } from "../shared/cortex/api.ts";
import { type IncidentVersionMessage, incidentVersionMessageSchema } from "../shared/queue-message.ts";

export const SQS_BATCH_SIZE = 10;

export interface EnqueueOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Epoch ms when these versions were read from the API. */
  polledAt: number;
  /** Attempts per entry, the first send included. */
  maxAttempts?: number;
  /** Backoff before retry n (1-based) is baseDelayMs * 2^(n-1). */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Some incident versions could not be queued; the cursor must not move past them. */
export class EnqueueError extends Error {
  readonly failures: readonly {
    incidentId: string;
    modificationTime: number;
    code: string;
    message: string;
  }[];

  constructor(message: string, failures: EnqueueError["failures"]) {
    super(message);
    this.name = "EnqueueError";
    this.failures = failures;
  }
}

/** The queue message for one incident version: only the schema's fields, so a message stays small. */
export function incidentVersionMessage(incident: IncidentSummary, polledAt: number): IncidentVersionMessage {
  return incidentVersionMessageSchema.parse({
    incident_id: incident.incident_id,
    modification_time: incident.modification_time,
    creation_time: incident.creation_time,
    severity: incident.severity,
    manual_severity: typeof incident.manual_severity === "string" ? incident.manual_severity : null,
    status: incident.status,
    alert_count: incident.alert_count,
    incident_name: incident.incident_name,
    polled_at: polledAt,
  });
}

const defaultSleep = (ms: number): Promise<void> => setTimeout(ms);

/** Queues every incident version; resolves with the number of messages sent. */
export async function enqueueIncidentVersions(
  incidents: readonly IncidentSummary[],
  options: EnqueueOptions,
): Promise<number> {
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const sleep = options.sleep ?? defaultSleep;
  let sent = 0;
  for (let start = 0; start < incidents.length; start += SQS_BATCH_SIZE) {
    const chunk = incidents.slice(start, start + SQS_BATCH_SIZE);
    // Ids only need to be unique within one batch call; the index maps a result back to its incident.
    const pending = new Map<string, { incident: IncidentSummary; entry: SendMessageBatchRequestEntry }>(
      chunk.map((incident, index) => [
        `v${index}`,
        {
          incident,
          entry: {
            Id: `v${index}`,
            MessageBody: JSON.stringify(incidentVersionMessage(incident, options.polledAt)),
          },
        },
      ]),
    );
    let lastFailures: BatchResultErrorEntry[] = [];
    for (let attempt = 1; pending.size > 0; attempt++) {
      if (attempt > 1) await sleep(baseDelayMs * 2 ** (attempt - 2));
      const response = await options.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: [...pending.values()].map((p) => p.entry),
        }),
      );
      for (const ok of response.Successful ?? []) {
        if (ok.Id !== undefined && pending.delete(ok.Id)) sent++;
      }
      lastFailures = response.Failed ?? [];
      // An entry the reply neither accepted nor rejected stays pending and is sent again.
      const permanent = lastFailures.filter((f) => f.SenderFault === true && pending.has(f.Id ?? ""));
      if (pending.size > 0 && (attempt >= maxAttempts || permanent.length > 0)) {
        const failures = [...pending.entries()].map(([id, p]) => {
          const failure = lastFailures.find((f) => f.Id === id);
          return {
            incidentId: p.incident.incident_id,
            modificationTime: p.incident.modification_time,
            code: failure?.Code ?? "NoResult",
            message: failure?.Message ?? "the batch reply did not mention this entry",
          };
        });
        const summary = failures
          .slice(0, 3)
          .map((f) => `incident ${f.incidentId}@${f.modificationTime}: ${f.code} ${f.message}`)
          .join("; ");
        const reason =
          permanent.length > 0
            ? "SQS rejected them as invalid (sender fault), so retrying cannot help"
            : `still failing after ${attempt} attempts`;
        throw new EnqueueError(
          `${failures.length} incident version(s) could not be queued on ${options.queueUrl} (${reason}): ${summary}. ` +
            "The cursor was not advanced past them; the next run sends them again.",
          failures,
        );
      }
    }
  }
  return sent;
}
