// The API budget pacer, on an injected clock: spacing, slot holding and deadlines, without real waiting.
import { describe, expect, it } from "vitest";
import {
  createApiBudgetPacer,
  PacingConfigurationError,
  paceInterval,
} from "../../functions/shared/pacing.ts";
import { fakeClock } from "../support/clock.ts";

const INTERVAL = paceInterval(10, 2);

describe("API budget pacer", () => {
  it("gives each of N concurrent instances every Nth slot of the per-minute budget", () => {
    // 12 s for 10 a minute shared by two, plus the 2% guard against arrival jitter.
    expect(paceInterval(10, 2)).toBe(12_240);
    expect(paceInterval(10, 1)).toBe(6_120);
    expect(paceInterval(7, 3)).toBe(26_229); // rounded up: never faster than the budget
  });

  it("keeps the guard floor it is given when a test compresses the budget, and 2% where that is more", () => {
    // 1,200 a minute shared by two: 100 ms a slot, whose 2% (2 ms) is less than a busy host's jitter.
    expect(paceInterval(1_200, 2)).toBe(102);
    expect(paceInterval(1_200, 2, 25)).toBe(125);
    expect(paceInterval(10, 2, 25)).toBe(12_240);
  });

  it("never starts two calls closer than the interval", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    const starts: number[] = [];
    for (let call = 0; call < 5; call++) {
      expect(await pacer.acquireSlot(clock.now() + 600_000)).toBe(true);
      starts.push(clock.now());
      clock.advance(1_500); // the call and its writes take a while
    }
    const gaps = starts.slice(1).map((start, index) => start - (starts[index] ?? 0));
    expect(gaps).toEqual([INTERVAL, INTERVAL, INTERVAL, INTERVAL]);
  });

  it("counts a slot held from an invocation's start: the first call waits a whole slot from then", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    const invokedAt = clock.now();
    pacer.holdSlotFrom(invokedAt);
    clock.advance(3_000); // the batch phase works meanwhile
    expect(await pacer.acquireSlot(invokedAt + 600_000)).toBe(true);
    expect(clock.now() - invokedAt).toBe(INTERVAL);
    // A later call's slot is not shortened by holding from an earlier start.
    pacer.holdSlotFrom(invokedAt);
    expect(pacer.slotEndsAt).toBe(invokedAt + 2 * INTERVAL);
  });

  it("never starts a call early when the timer fires early", async () => {
    let current = 0;
    const early = {
      now: () => current,
      sleep: async (ms: number) => {
        current += Math.max(1, ms - 5);
      },
    };
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...early });
    await pacer.acquireSlot(600_000);
    await pacer.acquireSlot(600_000);
    expect(current).toBeGreaterThanOrEqual(INTERVAL);
  });

  it("keeps the full spacing after a call whose timer fired late", async () => {
    let current = 0;
    const late = {
      now: () => current,
      sleep: async (ms: number) => {
        current += ms + 80; // a busy host wakes the timer 80 ms late
      },
    };
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...late });
    const starts: number[] = [];
    for (let call = 0; call < 4; call++) {
      await pacer.acquireSlot(600_000);
      starts.push(current);
    }
    const gaps = starts.slice(1).map((start, index) => start - (starts[index] ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(INTERVAL);
    expect(pacer.slotEndsAt).toBe((starts.at(-1) ?? 0) + INTERVAL);
  });

  it("does not wait when the previous slot is already over", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    await pacer.acquireSlot(clock.now() + 600_000);
    clock.advance(30_000);
    const before = clock.now();
    await pacer.acquireSlot(clock.now() + 600_000);
    expect(clock.now()).toBe(before);
  });

  it("refuses a slot that would not be over before the deadline, without waiting or claiming it", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    const start = clock.now();
    expect(await pacer.acquireSlot(start + 20_000)).toBe(true); // slot [0, 12.24 s)
    expect(await pacer.acquireSlot(start + 20_000)).toBe(false); // next slot would end at 24.48 s
    expect(clock.now()).toBe(start);
    expect(pacer.slotEndsAt).toBe(start + INTERVAL);
  });

  it("waits out the last slot so the next invocation, wherever it runs, cannot burst", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    const start = clock.now();
    await pacer.acquireSlot(start + 600_000);
    clock.advance(800);
    await pacer.waitOutSlot(start + 600_000);
    expect(clock.now()).toBe(start + INTERVAL);
  });

  it("never waits out a slot past the invocation's end", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    const start = clock.now();
    await pacer.acquireSlot(start + 600_000);
    pacer.holdExtraSlots(10);
    await pacer.waitOutSlot(start + 5_000);
    expect(clock.now()).toBe(start + 5_000);
  });

  it("holds one more slot for every retry the client made", async () => {
    const clock = fakeClock();
    const pacer = createApiBudgetPacer({ budgetPerMinute: 10, maxConcurrency: 2, ...clock });
    const start = clock.now();
    await pacer.acquireSlot(start + 600_000);
    pacer.holdExtraSlots(2); // three requests went out
    await pacer.acquireSlot(start + 600_000);
    expect(clock.now()).toBe(start + 3 * INTERVAL);
  });

  it("rejects a configuration that cannot pace, naming the setting", () => {
    expect(() => paceInterval(0, 2)).toThrow(PacingConfigurationError);
    expect(() => paceInterval(0, 2)).toThrow(/API_BUDGET_PER_MINUTE/);
    expect(() => paceInterval(10, 0)).toThrow(/MAX_CONCURRENCY/);
  });
});
