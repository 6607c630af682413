// What a person subscribed to the incident topic would receive, rendered from the local subscriber's queue.
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";

export interface NotificationPreview {
  subject: string | undefined;
  /** The email body; for a plain (non-structured) publish, the message itself, as SNS would send it. */
  email: string;
  /** The SMS line, when the publish carried one. */
  sms: string | undefined;
  attributes: Record<string, string>;
  /** Publish time minus the first_seen_at the enricher put in `default`, when both are there. */
  timeToAlertMs: number | undefined;
}

interface SnsEnvelope {
  Type?: string;
  Subject?: string;
  Message?: string;
  /** When SNS accepted the publish. */
  Timestamp?: string;
  MessageAttributes?: Record<string, { Type?: string; Value?: string }>;
}

/**
 * From the body an SQS subscriber receives. SNS itself delivers a MessageStructure=json publish's `sqs` or
 * `default` text to SQS and `email`/`sms` to those protocols; fauxqs ignores MessageStructure and delivers
 * the whole structure, so when it arrives we show its `email` and `sms` parts, as those subscribers would see them.
 */
export function renderNotification(sqsBody: string): NotificationPreview {
  const envelope = parseObject(sqsBody) as SnsEnvelope | undefined;
  const isEnvelope = envelope?.Type === "Notification" && typeof envelope.Message === "string";
  const message = isEnvelope ? (envelope.Message as string) : sqsBody;
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(isEnvelope ? (envelope.MessageAttributes ?? {}) : {})) {
    if (typeof value?.Value === "string") attributes[name] = value.Value;
  }
  const structure = parseObject(message);
  const email = typeof structure?.email === "string" ? structure.email : undefined;
  const sms = typeof structure?.sms === "string" ? structure.sms : undefined;
  const fallback = typeof structure?.default === "string" ? structure.default : message;
  return {
    subject: isEnvelope ? envelope.Subject : undefined,
    email: email ?? fallback,
    sms,
    attributes,
    timeToAlertMs: timeToAlertOf(envelope?.Timestamp, parseObject(fallback)?.first_seen_at),
  };
}

/** From the poll that first read the version (first_seen_at) to the publish (the envelope's Timestamp). */
function timeToAlertOf(publishedAt: string | undefined, firstSeenAt: unknown): number | undefined {
  const published = publishedAt === undefined ? Number.NaN : Date.parse(publishedAt);
  if (!Number.isFinite(published) || typeof firstSeenAt !== "number") return undefined;
  return Math.max(0, published - firstSeenAt);
}

/** The preview as terminal lines: the email (subject and body) and the SMS line. */
export function formatNotification(preview: NotificationPreview): string[] {
  const lines = [`EMAIL  Subject: ${preview.subject ?? "(no subject)"}`];
  for (const line of preview.email.trimEnd().split("\n")) lines.push(`       | ${line}`);
  if (preview.sms !== undefined) lines.push(`SMS    ${preview.sms}`);
  if (preview.timeToAlertMs !== undefined) {
    lines.push(
      `       time to alert ${(preview.timeToAlertMs / 1000).toFixed(1)} s (from the poll that first read it)`,
    );
  }
  return lines;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the local subscriber's queue: every notification is shown once, then deleted. */
export class NotificationInbox {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #onNotification: (preview: NotificationPreview) => void;

  constructor(sqs: SQSClient, queueUrl: string, onNotification: (preview: NotificationPreview) => void) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#onNotification = onNotification;
  }

  /** Receives what is there (waiting up to waitTimeSeconds for the first); returns how many were shown. */
  async receive(waitTimeSeconds: number): Promise<number> {
    const reply = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitTimeSeconds,
      }),
    );
    const messages = reply.Messages ?? [];
    if (messages.length === 0) return 0;
    for (const message of messages) this.#onNotification(renderNotification(message.Body ?? ""));
    await this.#sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.#queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
    return messages.length;
  }

  /** Everything waiting now, without waiting for more. */
  async drain(): Promise<number> {
    let shown = 0;
    for (;;) {
      const count = await this.receive(0);
      if (count === 0) return shown;
      shown += count;
    }
  }
}
