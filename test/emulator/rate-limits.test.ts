import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { EXTRA_DATA_PATH, INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const THROTTLED = { reply: { err_code: 429, err_msg: "Too many requests.", err_extra: null } };

describe("Cortex emulator: rate limits (injected clock, so no real waiting)", () => {
  let emulator: CortexEmulator;
  let clock = START;
  let incidentId: string;
  const extraData = () =>
    post(
      emulator.url,
      EXTRA_DATA_PATH,
      { request_data: { incident_id: incidentId, alerts_limit: 1 } },
      standardHeaders(emulator.keys.standard),
    );
  const incidents = () =>
    post(
      emulator.url,
      INCIDENTS_PATH,
      { request_data: { search_to: 1 } },
      standardHeaders(emulator.keys.standard),
    );

  beforeAll(async () => {
    // Defaults: extra data 10 per minute, tenant 10 per second.
    emulator = await startCortexEmulator({ seed: "limits", incidents: 3, now: () => clock });
    incidentId = emulator.control.incidents()[0]?.incident_id ?? "";
  });
  afterAll(() => emulator.close());
  beforeEach(() => {
    // Far enough ahead that every earlier window has expired.
    clock += 10 * 60_000;
  });

  it("allows 10 extra-data calls per minute and answers the 11th with 429 Too many requests.", async () => {
    for (let i = 0; i < 10; i++) {
      clock += 1000; // spread over 10 s so the tenant-wide limit is not what bites
      expect((await extraData()).status).toBe(200);
    }
    const throttled = await extraData();
    expect(throttled.status).toBe(429);
    expect(throttled.json()).toEqual(THROTTLED);
  });

  it("uses a sliding window: budget returns one minute after each accepted call", async () => {
    const first = clock;
    for (let i = 0; i < 10; i++) {
      expect((await extraData()).status).toBe(200);
      clock += 1000;
    }
    clock = first + 59_999;
    expect((await extraData()).status).toBe(429);
    clock = first + 60_000;
    expect((await extraData()).status).toBe(200);
    expect((await extraData()).status).toBe(429);
  });

  it("does not let throttled calls consume budget", async () => {
    const first = clock;
    for (let i = 0; i < 10; i++) {
      clock += 100;
      await extraData();
    }
    for (let i = 0; i < 5; i++) expect((await extraData()).status).toBe(429);
    clock = first + 100 + 60_000;
    expect((await extraData()).status).toBe(200);
  });

  it("limits the whole tenant to 10 requests per second across endpoints", async () => {
    for (let i = 0; i < 10; i++) expect((await incidents()).status).toBe(200);
    expect((await incidents()).status).toBe(429);
    expect((await extraData()).status).toBe(429);
    clock += 1000;
    expect((await incidents()).status).toBe(200);
  });

  it("counts calls and 429s per endpoint in stats()", async () => {
    const before = emulator.control.stats();
    for (let i = 0; i < 11; i++) await incidents();
    const after = emulator.control.stats();
    expect(after.endpoints.get_incidents.calls - before.endpoints.get_incidents.calls).toBe(11);
    expect(after.endpoints.get_incidents.throttled - before.endpoints.get_incidents.throttled).toBe(1);
    expect(after.throttled - before.throttled).toBe(1);
  });

  it("takes configured budgets so benchmarks can compress time", async () => {
    let fast = 0;
    const compressed = await startCortexEmulator({
      incidents: 1,
      now: () => fast,
      rateLimits: { extraData: { requests: 2, windowMs: 100 }, tenant: { requests: 1000, windowMs: 100 } },
    });
    try {
      const id = compressed.control.incidents()[0]?.incident_id;
      const call = () =>
        post(
          compressed.url,
          EXTRA_DATA_PATH,
          { request_data: { incident_id: id, alerts_limit: 1 } },
          standardHeaders(compressed.keys.standard),
        );
      expect([(await call()).status, (await call()).status, (await call()).status]).toEqual([200, 200, 429]);
      fast += 100;
      expect((await call()).status).toBe(200);
    } finally {
      await compressed.close();
    }
  });
});
