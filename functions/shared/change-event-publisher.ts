// Sends the change events (change-events.ts) after the archive write: collected during an invocation,
// flushed in PutEvents of at most 10 entries (and 256 KB), failed entries retried. A send that still fails
// is logged (incident ids and EventBridge's error codes), counted (ChangeEventsFailed, which an alarm
// watches) and dropped: it never throws into the archive path, whose object and state are already written.
// Locally there is no EventBridge: a JSON-lines target writes what would be sent (npm start --events-out).

import { appendFile } from "node:fs/promises";
import { setTimeout } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { createEventBridgeClient } from "./aws-clients.ts";
import {
  buildChangeEventDetail,
  type ChangeEventDetail,
  type ChangeEventEntry,
  type ChangeEventInput,
  changeEventEntry,
  EVENT_ENTRY_MAX_BYTES,
  entrySize,
  isNewVersion,
} from "./change-events.ts";
import { EnricherMetric } from "./metric-names.ts";

export const PUT_EVENTS_MAX_ENTRIES = 10;

/** Where entries go: one PutEvents-shaped call, answering which entries failed (by index) and why. */
export interface ChangeEventTarget {
  put(entries: readonly ChangeEventEntry[]): Promise<{ index: number; code: string }[]>;
}

export function eventBridgeTarget(client: EventBridgeClient): ChangeEventTarget {
  return {
    async put(entries) {
      const reply = await client.send(new PutEventsCommand({ Entries: [...entries] }));
      return (reply.Entries ?? []).flatMap((result, index) =>
        result.ErrorCode === undefined ? [] : [{ index, code: result.ErrorCode }],
      );
    },
  };
}

/** The Lambda's publisher: to the bus the stack set (EVENT_BUS_NAME), or none when change events are off. */
export function eventBridgePublisher(
  eventBusName: string | undefined,
  logger: Logger,
  metrics: Metrics,
): ChangeEventPublisher | undefined {
  if (eventBusName === undefined) return undefined;
  return new ChangeEventPublisher({
    target: eventBridgeTarget(createEventBridgeClient()),
    logger,
    metrics,
    eventBusName,
  });
}

/** One JSON line per event, as EventBridge would deliver it to a rule's target. */
export function jsonLinesTarget(file: string, account = "000000000000", region = "local"): ChangeEventTarget {
  return {
    async put(entries) {
      const lines = entries.map((entry) =>
        JSON.stringify({
          version: "0",
          "detail-type": entry.DetailType,
          source: entry.Source,
          account,
          time: entry.Time.toISOString(),
          region,
          resources: entry.Resources,
          detail: JSON.parse(entry.Detail) as unknown,
        }),
      );
      await appendFile(file, lines.map((line) => `${line}\n`).join(""), "utf8");
      return [];
    },
  };
}

/** Up to 10 entries and 256 KB a request, in order. */
export function putEventsBatches(entries: readonly ChangeEventEntry[]): ChangeEventEntry[][] {
  const batches: ChangeEventEntry[][] = [];
  let batch: ChangeEventEntry[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = entrySize(entry);
    if (
      batch.length === PUT_EVENTS_MAX_ENTRIES ||
      (batch.length > 0 && size + bytes > EVENT_ENTRY_MAX_BYTES)
    ) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(entry);
    size += bytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

export interface ChangeEventPublisherOptions {
  target: ChangeEventTarget;
  logger: Logger;
  metrics: Metrics;
  /** The bus to send to; undefined: the account's default bus. */
  eventBusName?: string;
  /** Sends of one entry, the first included. */
  maxAttempts?: number;
  retryDelayMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class ChangeEventPublisher {
  readonly #options: ChangeEventPublisherOptions;
  #pending: ChangeEventEntry[] = [];

  constructor(options: ChangeEventPublisherOptions) {
    this.#options = options;
  }

  /** Collects the event of a newly archived version (isNewVersion); nothing is sent until flush(). */
  announce(input: ChangeEventInput): void {
    if (isNewVersion(input)) this.add(buildChangeEventDetail(input));
  }

  add(detail: ChangeEventDetail): void {
    const time = new Date((this.#options.now ?? Date.now)());
    this.#pending.push(changeEventEntry(detail, time, this.#options.eventBusName));
  }

  /** Sends everything collected. Never throws: what cannot be sent is logged and counted. */
  async flush(): Promise<{ sent: number; failed: number }> {
    const entries = this.#pending;
    this.#pending = [];
    let sent = 0;
    let failed = 0;
    for (const batch of putEventsBatches(entries)) {
      const unsent = await this.#sendWithRetries(batch);
      sent += batch.length - unsent.length;
      failed += unsent.length;
    }
    const { metrics } = this.#options;
    if (sent > 0) metrics.addMetric(EnricherMetric.ChangeEventsSent, MetricUnit.Count, sent);
    if (failed > 0) metrics.addMetric(EnricherMetric.ChangeEventsFailed, MetricUnit.Count, failed);
    return { sent, failed };
  }

  /** Returns the entries still unsent after every attempt. */
  async #sendWithRetries(batch: readonly ChangeEventEntry[]): Promise<ChangeEventEntry[]> {
    const { target, logger, maxAttempts = 3, retryDelayMs = 200 } = this.#options;
    const sleep = this.#options.sleep ?? ((ms: number) => setTimeout(ms));
    let unsent = [...batch];
    let codes: string[] = [];
    for (let attempt = 1; attempt <= maxAttempts && unsent.length > 0; attempt++) {
      if (attempt > 1) await sleep(retryDelayMs * 2 ** (attempt - 2));
      try {
        const failures = await target.put(unsent);
        codes = failures.map((failure) => failure.code);
        const failedAt = new Set(failures.map((failure) => failure.index));
        unsent = unsent.filter((_, index) => failedAt.has(index));
      } catch (error) {
        codes = [(error as Error).name];
      }
    }
    if (unsent.length > 0) {
      logger.error("Change events could not be sent to EventBridge; the archive has these versions", {
        versions: unsent.map((entry) => (JSON.parse(entry.Detail) as ChangeEventDetail).version_id),
        error_codes: [...new Set(codes)],
        attempts: maxAttempts,
      });
    }
    return unsent;
  }
}
