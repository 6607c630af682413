// The priority lane's consumer side: before each API call the enricher takes the hints waiting on the
// priority queue (never waiting for more), serves them first out of the same budget, and deletes the ones
// it served. A hint is a copy of a message on the ordinary queue, so a hint that is unreadable, cannot be
// received or is never deleted costs time, not data: the ordinary copy is still there (and is skipped as
// covered once the hint has been archived).
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { EnricherMetric } from "../shared/metric-names.ts";
import type { ApiBudgetPacer } from "../shared/pacing.ts";
import { type IncidentVersionMessage, incidentVersionMessageSchema } from "../shared/queue-message.ts";

export interface PriorityHint {
  message: IncidentVersionMessage;
  receiptHandle: string;
  messageId: string;
}

export interface PriorityLane {
  /** Up to `max` hints waiting now, at most one per incident (its newest version); never waits. */
  take(max: number): Promise<PriorityHint[]>;
  /** Deletes served hints (and the older duplicates take() folded into them). */
  done(hints: readonly PriorityHint[]): Promise<void>;
}

export interface PriorityLaneOptions {
  sqs: SQSClient;
  queueUrl: string;
  logger: Logger;
  metrics: Metrics;
}

/** SQS returns at most 10 messages a receive; a call of 100 ids takes a few receives, never more than this. */
const MAX_RECEIVES_PER_TAKE = 10;
const SQS_MAX_MESSAGES = 10;

function parseHint(body: string | undefined): IncidentVersionMessage | undefined {
  try {
    const parsed = incidentVersionMessageSchema.safeParse(JSON.parse(body ?? ""));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function createPriorityLane(options: PriorityLaneOptions): PriorityLane {
  return new SqsPriorityLane(options);
}

class SqsPriorityLane implements PriorityLane {
  readonly #options: PriorityLaneOptions;
  /** Hints folded into a newer one of the same incident, deleted with it. */
  readonly #folded = new Map<string, string[]>();

  constructor(options: PriorityLaneOptions) {
    this.#options = options;
  }

  async take(max: number): Promise<PriorityHint[]> {
    const { logger, metrics } = this.#options;
    const taken: PriorityHint[] = [];
    try {
      for (let receives = 0; receives < MAX_RECEIVES_PER_TAKE && taken.length < max; receives++) {
        const { hints, invalid } = await this.#receive(max - taken.length);
        if (invalid.length > 0) await this.#dropInvalid(invalid);
        if (hints.length === 0 && invalid.length === 0) break;
        taken.push(...hints);
      }
    } catch (error) {
      // The ordinary lane carries on; the hints stay on the queue for the next slot.
      metrics.addMetric(EnricherMetric.PriorityReceiveFailures, MetricUnit.Count, 1);
      logger.warn("Could not read the priority queue; serving the ordinary lane", { error });
    }
    const hints = this.#fold(taken);
    if (hints.length > 0)
      metrics.addMetric(EnricherMetric.PriorityHintsTaken, MetricUnit.Count, hints.length);
    return hints;
  }

  async done(hints: readonly PriorityHint[]): Promise<void> {
    const handles = hints.flatMap((hint) => {
      const extra = this.#folded.get(hint.receiptHandle) ?? [];
      this.#folded.delete(hint.receiptHandle);
      return [hint.receiptHandle, ...extra];
    });
    await this.#deleteHandles(handles);
  }

  async #dropInvalid(handles: readonly string[]): Promise<void> {
    this.#options.metrics.addMetric(EnricherMetric.PriorityHintsInvalid, MetricUnit.Count, handles.length);
    this.#options.logger.warn("Deleted unreadable priority hints; their ordinary copies are still queued", {
      count: handles.length,
    });
    await this.#deleteHandles(handles);
  }

  async #deleteHandles(handles: readonly string[]): Promise<void> {
    const { sqs, queueUrl, logger } = this.#options;
    for (let start = 0; start < handles.length; start += SQS_MAX_MESSAGES) {
      const entries = handles
        .slice(start, start + SQS_MAX_MESSAGES)
        .map((handle, index) => ({ Id: String(index), ReceiptHandle: handle }));
      try {
        const reply = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        if ((reply.Failed ?? []).length > 0) {
          logger.warn("Could not delete some priority hints; they come back and are skipped as covered", {
            failed: reply.Failed?.length,
          });
        }
      } catch (error) {
        logger.warn("Could not delete priority hints; they come back and are skipped as covered", { error });
      }
    }
  }

  async #receive(max: number): Promise<{ hints: PriorityHint[]; invalid: string[] }> {
    const { sqs, queueUrl } = this.#options;
    const reply = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(SQS_MAX_MESSAGES, max),
        WaitTimeSeconds: 0,
      }),
    );
    const hints: PriorityHint[] = [];
    const invalid: string[] = [];
    for (const received of reply.Messages ?? []) {
      const message = parseHint(received.Body);
      const receiptHandle = received.ReceiptHandle ?? "";
      if (message === undefined) invalid.push(receiptHandle);
      else hints.push({ message, receiptHandle, messageId: received.MessageId ?? "" });
    }
    return { hints, invalid };
  }

  /** One hint per incident: the newest version wins, the others are deleted with it. */
  #fold(hints: readonly PriorityHint[]): PriorityHint[] {
    const newest = new Map<string, PriorityHint>();
    for (const hint of hints) {
      const id = hint.message.incident_id;
      const kept = newest.get(id);
      if (kept === undefined) {
        newest.set(id, hint);
        continue;
      }
      const [winner, loser] =
        hint.message.modification_time > kept.message.modification_time ? [hint, kept] : [kept, hint];
      newest.set(id, winner);
      this.#folded.set(winner.receiptHandle, [
        ...(this.#folded.get(winner.receiptHandle) ?? []),
        loser.receiptHandle,
        ...(this.#folded.get(loser.receiptHandle) ?? []),
      ]);
    }
    return [...newest.values()];
  }
}

/** Serves one hint with a slot already held; throws only what must stop the batch (a throttle). */
export type ServeHint = (hint: PriorityHint, slot: ApiBudgetPacer) => Promise<void>;

/** A pacer that hands out one slot already held by `inner`; `used` tells whether the hint took it. */
function heldSlot(inner: ApiBudgetPacer): ApiBudgetPacer & { readonly used: boolean } {
  let used = false;
  return {
    get used() {
      return used;
    },
    intervalMs: inner.intervalMs,
    get slotEndsAt() {
      return inner.slotEndsAt;
    },
    async acquireSlot(deadline) {
      if (used) return inner.acquireSlot(deadline);
      used = true;
      return true;
    },
    holdExtraSlots: (count) => inner.holdExtraSlots(count),
    waitOutSlot: (deadline) => inner.waitOutSlot(deadline),
    holdSlotFrom: (at) => inner.holdSlotFrom(at),
  };
}

/**
 * Priority first, within the same budget: each slot this pacer hands out is first offered to the hints
 * waiting at that moment (after the wait, so a hint that arrived meanwhile is served), and only a slot no
 * hint took goes to the caller. Without hints it costs one empty ReceiveMessage per slot, nothing more.
 */
export function priorityFirst(
  inner: ApiBudgetPacer,
  lane: PriorityLane,
  serve: ServeHint,
): ApiBudgetPacer & { readonly servedIncidents: ReadonlySet<string> } {
  const servedIncidents = new Set<string>();
  return {
    servedIncidents,
    intervalMs: inner.intervalMs,
    get slotEndsAt() {
      return inner.slotEndsAt;
    },
    async acquireSlot(deadline) {
      for (;;) {
        if (!(await inner.acquireSlot(deadline))) return false;
        for (;;) {
          const [hint] = await lane.take(1);
          if (hint === undefined) return true;
          const slot = heldSlot(inner);
          servedIncidents.add(hint.message.incident_id);
          await serve(hint, slot);
          // A hint already covered by the archive made no call: the slot is still free for the next one.
          if (slot.used) break;
        }
      }
    },
    holdExtraSlots: (count) => inner.holdExtraSlots(count),
    waitOutSlot: (deadline) => inner.waitOutSlot(deadline),
    holdSlotFrom: (at) => inner.holdSlotFrom(at),
  };
}
