// Sliding-window budgets: extra data 10 per minute per tenant, the batch extra-data endpoint (undocumented) the
// same, about 10 per second tenant-wide (all configurable).
import type { RateLimit } from "./types.ts";

export const DEFAULT_EXTRA_DATA_LIMIT: RateLimit = { requests: 10, windowMs: 60_000 };
export const DEFAULT_BATCH_EXTRA_DATA_LIMIT: RateLimit = { requests: 10, windowMs: 60_000 };
export const DEFAULT_TENANT_LIMIT: RateLimit = { requests: 10, windowMs: 1_000 };

export class SlidingWindow {
  private readonly limit: RateLimit;
  private readonly accepted: number[] = [];

  constructor(limit: RateLimit) {
    this.limit = limit;
  }

  hasRoom(now: number): boolean {
    while (this.accepted.length > 0 && (this.accepted[0] ?? 0) <= now - this.limit.windowMs)
      this.accepted.shift();
    return this.accepted.length < this.limit.requests;
  }

  /** Only accepted requests consume budget; a throttled one does not. */
  consume(now: number): void {
    this.accepted.push(now);
  }
}
