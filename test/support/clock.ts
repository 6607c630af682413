// The tests' clocks: time that moves only when the code under test sleeps (or a test advances it), so no
// test waits for real time or asserts on the wall clock.

import { fakeClock as clockFrom, type FakeClock } from "../../local/clock.ts";

export const BASE_TIME = Date.UTC(2026, 10, 20, 23, 59, 0); // 2026-11-20T23:59:00Z

/** A clock that only moves when the code under test sleeps (or a test advances it); one with the benchmarks'. */
export function fakeClock(start = BASE_TIME): FakeClock {
  return clockFrom(start);
}

export type { FakeClock };

/**
 * Virtual time shared by several concurrent actors (enricher instances, the Cortex client, the emulator):
 * time stands still while any actor is working (real HTTP, S3, SQS) and jumps to the next timer only when
 * every running actor is asleep. Deterministic, and minutes of pacing take milliseconds.
 */
export class VirtualTime {
  #now: number;
  #actors = 0;
  #sequence = 0;
  readonly #timers: { at: number; sequence: number; resolve: () => void }[] = [];

  constructor(start = BASE_TIME) {
    this.#now = start;
  }

  readonly now = (): number => this.#now;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.#timers.push({ at: this.#now + Math.max(0, ms), sequence: this.#sequence++, resolve });
      this.#advanceIfIdle();
    });

  /** Runs `work` as one actor: while it is not asleep, time does not move for anyone. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.#actors += 1;
    try {
      return await work();
    } finally {
      this.#actors -= 1;
      this.#advanceIfIdle();
    }
  }

  #advanceIfIdle(): void {
    if (this.#timers.length === 0 || this.#timers.length < Math.max(1, this.#actors)) return;
    this.#timers.sort((a, b) => a.at - b.at || a.sequence - b.sequence);
    const next = this.#timers.shift();
    if (next === undefined) return;
    this.#now = Math.max(this.#now, next.at);
    next.resolve();
  }
}
