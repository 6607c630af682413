// `ops redrive`: reads the dead-letter queue, says why each message failed (grouped), then moves the
// incident versions back to the incident queue: SQS's message move task where the endpoint offers it,
// receive/send/delete otherwise (and always when some messages must stay, since a move task moves all).

import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { z } from "zod";
import { keySegment, QUARANTINE_PREFIX } from "../../functions/shared/archive.ts";
import { readIncidentState } from "../../functions/shared/incident-state.ts";
import { incidentVersionMessageSchema } from "../../functions/shared/queue-message.ts";
import type { OpsTarget } from "./target.ts";

/** Long enough to read the whole DLQ and move it; messages not moved are made visible again at once. */
const HOLD_SECONDS = 300;
const SQS_BATCH = 10;
const EXAMPLES_PER_REASON = 5;

export interface FailureGroup {
  reason: string;
  count: number;
  /** Whether redrive sends these back (messages that are not incident versions would only fail again). */
  redriven: boolean;
  examples: string[];
}

export interface RedriveResult {
  dry_run: boolean;
  messages: number;
  reasons: FailureGroup[];
  method: "message_move_task" | "receive_send_delete" | null;
  moved: number;
  left_in_dlq: number;
}

interface HeldMessage {
  message: Message;
  reason: string;
  redrive: boolean;
  label: string;
}

export async function redriveDeadLetters(input: {
  target: OpsTarget;
  dryRun: boolean;
  now?: () => number;
}): Promise<RedriveResult> {
  const { target } = input;
  const held = await receiveAll(target.sqs, target.deadLetterQueueUrl);
  const classified: HeldMessage[] = [];
  for (const message of held) classified.push({ message, ...(await classify(target, message)) });
  const result: RedriveResult = {
    dry_run: input.dryRun,
    messages: classified.length,
    reasons: groupReasons(classified),
    method: null,
    moved: 0,
    left_in_dlq: classified.length,
  };
  const toMove = classified.filter((m) => m.redrive);
  if (input.dryRun || toMove.length === 0) {
    await release(target.sqs, target.deadLetterQueueUrl, held);
    return result;
  }
  if (toMove.length === classified.length) {
    await release(target.sqs, target.deadLetterQueueUrl, held);
    if (await startMoveTask(target)) {
      return { ...result, method: "message_move_task", moved: toMove.length, left_in_dlq: 0 };
    }
    // No move task here: take them again and move them one batch at a time.
    return moveByHand(target, await receiveAll(target.sqs, target.deadLetterQueueUrl), result);
  }
  await release(
    target.sqs,
    target.deadLetterQueueUrl,
    classified.filter((m) => !m.redrive).map((m) => m.message),
  );
  return moveByHand(
    target,
    toMove.map((m) => m.message),
    result,
  );
}

async function receiveAll(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const reply = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: SQS_BATCH,
        WaitTimeSeconds: 0,
        VisibilityTimeout: HOLD_SECONDS,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
    );
    const batch = reply.Messages ?? [];
    if (batch.length === 0) return messages;
    messages.push(...batch);
  }
}

const messageBodySchema = incidentVersionMessageSchema;

async function classify(target: OpsTarget, message: Message): Promise<Omit<HeldMessage, "message">> {
  let json: unknown;
  try {
    json = JSON.parse(message.Body ?? "");
  } catch {
    return {
      reason: "not JSON: not an incident version message",
      redrive: false,
      label: message.MessageId ?? "?",
    };
  }
  const parsed = messageBodySchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first === undefined ? "" : `${first.path.join(".") || "body"}: ${first.message}`;
    return {
      reason: `not an incident version message (${where})`,
      redrive: false,
      label: message.MessageId ?? "?",
    };
  }
  const version = parsed.data;
  const label = `${version.incident_id}@${version.modification_time}`;
  const state = (await readIncidentState(target.s3, target.bucket, version.incident_id))?.record;
  if ((state?.archived?.modification_time ?? -1) >= version.modification_time) {
    return { reason: "archived since (the enricher will just acknowledge it)", redrive: true, label };
  }
  if ((state?.not_found?.modification_time ?? -1) >= version.modification_time) {
    return { reason: "the Cortex API says the incident does not exist", redrive: true, label };
  }
  const quarantined = await quarantineReason(target, version.incident_id);
  if (quarantined !== undefined) {
    return { reason: `the API's reply was not JSON (quarantined: ${quarantined})`, redrive: true, label };
  }
  return {
    reason: "failed every retry (the enricher's log lines with this incident_id say why)",
    redrive: true,
    label,
  };
}

/** The reason stored with the newest quarantined reply of this incident, if any (see archive.ts quarantineReply). */
async function quarantineReason(target: OpsTarget, incidentId: string): Promise<string | undefined> {
  const reply = await target.s3.send(
    new ListObjectsV2Command({
      Bucket: target.bucket,
      Prefix: `${QUARANTINE_PREFIX}${keySegment(incidentId)}/`,
    }),
  );
  const newest = (reply.Contents ?? [])
    .map((o) => o.Key ?? "")
    .sort()
    .at(-1);
  if (newest === undefined || newest === "") return undefined;
  const head = await target.s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: newest }));
  return z.string().catch(newest).parse(head.Metadata?.reason);
}

function groupReasons(messages: readonly HeldMessage[]): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  for (const m of messages) {
    const group = groups.get(m.reason) ?? { reason: m.reason, count: 0, redriven: m.redrive, examples: [] };
    group.count++;
    if (group.examples.length < EXAMPLES_PER_REASON) group.examples.push(m.label);
    groups.set(m.reason, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

async function release(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += SQS_BATCH) {
    const chunk = messages.slice(start, start + SQS_BATCH);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle ?? "",
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/** True if the endpoint took a move task (SQS); false if it does not offer one (fauxqs, some emulators). */
async function startMoveTask(target: OpsTarget): Promise<boolean> {
  try {
    await target.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: target.deadLetterQueueArn,
        DestinationArn: target.queueArn,
      }),
    );
    return true;
  } catch (error) {
    const text = `${(error as Error).name} ${(error as Error).message}`;
    if (
      /UnsupportedOperation|InvalidAction|UnknownOperation|not (supported|implemented)|Unknown action/i.test(
        text,
      )
    )
      return false;
    throw error;
  }
}

async function moveByHand(
  target: OpsTarget,
  messages: readonly Message[],
  result: RedriveResult,
): Promise<RedriveResult> {
  let moved = 0;
  for (let start = 0; start < messages.length; start += SQS_BATCH) {
    const chunk = messages.slice(start, start + SQS_BATCH);
    const sent = await target.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: target.queueUrl,
        Entries: chunk.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? "" })),
      }),
    );
    // Delete from the DLQ only what the queue accepted: a failed send leaves the message where it was.
    const accepted = (sent.Successful ?? [])
      .map((s) => chunk[Number(s.Id)])
      .filter((m): m is Message => m !== undefined);
    if (accepted.length > 0) {
      await target.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: target.deadLetterQueueUrl,
          Entries: accepted.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
        }),
      );
    }
    moved += accepted.length;
  }
  return { ...result, method: "receive_send_delete", moved, left_in_dlq: result.messages - moved };
}

export function formatRedrive(result: RedriveResult): string {
  const lines = [`dead-letter queue: ${result.messages} message(s)`];
  for (const group of result.reasons) {
    lines.push(
      `  ${String(group.count).padStart(5)}  ${group.reason}${group.redriven ? "" : " [stays in the DLQ]"}`,
    );
    lines.push(`         e.g. ${group.examples.join(", ")}`);
  }
  if (result.dry_run) {
    const would = result.reasons.filter((g) => g.redriven).reduce((n, g) => n + g.count, 0);
    lines.push(`dry run: ${would} message(s) would move back to the incident queue; nothing was changed`);
  } else if (result.method !== null) {
    const how = result.method === "message_move_task" ? "SQS message move task" : "receive, send, delete";
    lines.push(
      `moved ${result.moved} message(s) back to the incident queue (${how}); ${result.left_in_dlq} left in the DLQ`,
    );
  } else if (result.messages > 0) {
    lines.push(`nothing moved: ${result.left_in_dlq} message(s) left in the DLQ`);
  }
  return `${lines.join("\n")}\n`;
}
