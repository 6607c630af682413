// A clock that moves only when the code using it sleeps or its owner advances it: tests (through
// test/support/clock.ts) and benchmarks run minutes of polling and pacing on it in no real time.

export function fakeClock(start: number) {
  let current = start;
  return {
    now: () => current,
    sleep: async (ms: number) => {
      current += Math.max(0, ms);
    },
    advance: (ms: number) => {
      current += ms;
    },
  };
}

export type FakeClock = ReturnType<typeof fakeClock>;
