// Spends the Cortex extra-data budget (requests per minute, tenant-wide) without tripping it.
// The budget is shared by `maxConcurrency` invocations, so each instance gets every Nth slot:
// one call per `60000 * maxConcurrency / budgetPerMinute` ms (plus a small guard). A call holds its slot until the
// slot is over, even across invocations: the instance remembers when its slot ends, and an
// invocation waits out its last slot before returning (the next invocation may run in another
// container that knows nothing of this one), or, the same guarantee the other way round, holds a slot
// from its start before its first call (holdSlotFrom).
import { setTimeout } from "node:timers/promises";

export interface ApiBudgetPacerOptions {
  budgetPerMinute: number;
  maxConcurrency: number;
  /** The least guard per slot in ms (default 0: the 2% alone); see SLOT_GUARD. */
  minGuardMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ApiBudgetPacer {
  /** Minimum spacing between two calls from this instance. */
  readonly intervalMs: number;
  /**
   * Waits for this instance's next slot and claims it. Returns false at once, claiming nothing,
   * when the slot could not be over by `deadline` (the invocation could not hold it to the end).
   */
  acquireSlot(deadline: number): Promise<boolean>;
  /** A call used more requests than one (the client retried): hold one more slot per extra request. */
  holdExtraSlots(count: number): void;
  /** Waits until the last claimed slot is over, but never past `deadline`. */
  waitOutSlot(deadline: number): Promise<void>;
  /**
   * Counts a slot as held from `at` (an invocation's start): the next call waits for it to end. An
   * invocation that holds its first slot this way need not wait out its last one before it returns: either
   * way an invocation's first call is a whole slot after the last call of any invocation that ended before
   * it began.
   */
  holdSlotFrom(at: number): void;
  /** Epoch ms when the last claimed slot ends (0 when none was claimed yet). */
  readonly slotEndsAt: number;
}

export class PacingConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PacingConfigurationError";
  }
}

/**
 * Each slot is 2% longer than the budget alone needs (240 ms at 12 s): the server counts requests when
 * they arrive, and a first request that arrives late next to a last one that arrives early would otherwise
 * squeeze one call too many into its window. `minGuardMs` sets a floor: arrival jitter is absolute time (a
 * busy host's event loop), so a test that compresses the budget a hundredfold keeps a real margin with it.
 */
export const SLOT_GUARD = 0.02;

const sleepFor = (ms: number): Promise<void> => setTimeout(ms);

export function paceInterval(budgetPerMinute: number, maxConcurrency: number, minGuardMs = 0): number {
  if (!(budgetPerMinute > 0) || !Number.isFinite(budgetPerMinute)) {
    throw new PacingConfigurationError(
      `API budget per minute must be a positive number, got ${budgetPerMinute}: set API_BUDGET_PER_MINUTE (the documented limit is 10).`,
    );
  }
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new PacingConfigurationError(
      `Maximum concurrency must be a positive integer, got ${maxConcurrency}: set MAX_CONCURRENCY to the event source's maximum concurrency.`,
    );
  }
  const share = (60_000 * maxConcurrency) / budgetPerMinute;
  return Math.ceil(share + Math.max(share * SLOT_GUARD, minGuardMs));
}

export function createApiBudgetPacer(options: ApiBudgetPacerOptions): ApiBudgetPacer {
  const intervalMs = paceInterval(options.budgetPerMinute, options.maxConcurrency, options.minGuardMs);
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepFor;
  let slotEndsAt = 0;

  return {
    intervalMs,
    get slotEndsAt() {
      return slotEndsAt;
    },
    async acquireSlot(deadline) {
      const start = Math.max(now(), slotEndsAt);
      if (start + intervalMs > deadline) return false;
      // Claim before sleeping so nothing else in this instance can take the same slot.
      slotEndsAt = start + intervalMs;
      // Timers may fire a little early: never start before the slot does.
      while (now() < start) await sleep(start - now());
      // ...or late, on a busy host: the slot is then counted from when the call really starts, so the next
      // call keeps its full spacing from this one instead of following it too closely.
      slotEndsAt = Math.max(slotEndsAt, now() + intervalMs);
      return true;
    },
    holdExtraSlots(count) {
      if (count > 0) slotEndsAt += count * intervalMs;
    },
    holdSlotFrom(at) {
      slotEndsAt = Math.max(slotEndsAt, at + intervalMs);
    },
    async waitOutSlot(deadline) {
      const wait = Math.min(slotEndsAt, deadline) - now();
      if (wait > 0) await sleep(wait);
    },
  };
}
