import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CortexEmulator, type EmulatorFaults, startCortexEmulator } from "../../local/emulator/index.ts";
import { EXTRA_DATA_PATH, INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

const GENEROUS = {
  extraData: { requests: 100_000, windowMs: 1000 },
  tenant: { requests: 100_000, windowMs: 1000 },
};

describe("Cortex emulator: faults", () => {
  let emulator: CortexEmulator;
  let incidentId: string;
  const incidents = (requestData: Record<string, unknown> = {}) =>
    post(
      emulator.url,
      INCIDENTS_PATH,
      { request_data: requestData },
      standardHeaders(emulator.keys.standard),
    );
  const extraData = () =>
    post(
      emulator.url,
      EXTRA_DATA_PATH,
      { request_data: { incident_id: incidentId, alerts_limit: 2 } },
      standardHeaders(emulator.keys.standard),
    );

  beforeAll(async () => {
    emulator = await startCortexEmulator({ seed: "faults", incidents: 150, rateLimits: GENEROUS });
    incidentId = emulator.control.incidents()[0]?.incident_id ?? "";
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.control.clearFaults());

  it("answers 500 with the XDR envelope at serverErrorRate 1, and only on the chosen endpoint", async () => {
    emulator.control.setFaults({ serverErrorRate: { rate: 1, endpoint: "get_incident_extra_data" } });
    const failed = await extraData();
    expect(failed.status).toBe(500);
    expect(failed.json()).toEqual({
      reply: { err_code: 500, err_msg: "An error occurred while processing XDR public API", err_extra: null },
    });
    expect((await incidents()).status).toBe(200);
    emulator.control.clearFaults();
    expect((await extraData()).status).toBe(200);
  });

  it("draws random faults from the seed, so the same requests fail the same way", async () => {
    const run = async () => {
      const twin = await startCortexEmulator({ seed: "dice", incidents: 3, rateLimits: GENEROUS });
      twin.control.setFaults({ serverErrorRate: 0.5 });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        statuses.push(
          (await post(twin.url, INCIDENTS_PATH, { request_data: {} }, standardHeaders(twin.keys.standard)))
            .status,
        );
      }
      await twin.close();
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain(500);
    expect(first).toContain(200);
  });

  it("throttles exactly the next N requests with throttleBurst", async () => {
    emulator.control.setFaults({ throttleBurst: 3 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await incidents()).status);
    expect(statuses).toEqual([429, 429, 429, 200]);
    const throttled = emulator.control.requests().filter((entry) => entry.fault === "throttleBurst");
    expect(throttled.length).toBeGreaterThanOrEqual(3);
  });

  it("limits a throttle burst to one endpoint when asked", async () => {
    emulator.control.setFaults({ throttleBurst: { count: 1, endpoint: "get_incident_extra_data" } });
    expect((await incidents()).status).toBe(200);
    expect((await extraData()).status).toBe(429);
    expect((await extraData()).status).toBe(200);
  });

  it("resets the connection without an answer at connectionResetRate 1", async () => {
    emulator.control.setFaults({ connectionResetRate: 1 });
    await expect(incidents()).rejects.toThrow();
    expect(emulator.control.requests().at(-1)).toMatchObject({ fault: "connectionReset", status: 0 });
  });

  it("cuts the body short of its Content-Length at truncatedBodyRate 1", async () => {
    emulator.control.setFaults({ truncatedBodyRate: 1 });
    const response = await request(`${emulator.url}${INCIDENTS_PATH}`, {
      method: "POST",
      headers: standardHeaders(emulator.keys.standard),
      body: JSON.stringify({ request_data: {} }),
    });
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow();
  });

  it("answers a 502 HTML page at nonJsonBodyRate 1", async () => {
    emulator.control.setFaults({ nonJsonBodyRate: 1 });
    const answer = await incidents();
    expect(answer.status).toBe(502);
    expect(answer.headers["content-type"]).toBe("text/html");
    expect(answer.text).toContain("<html>");
    expect(() => answer.json()).toThrow();
  });

  it("answers 200 replies that break the documented schema at schemaViolationRate 1", async () => {
    emulator.control.setFaults({ schemaViolationRate: 1 });
    const broken = [];
    for (let i = 0; i < 6; i++) {
      const { reply } = (await incidents({ search_to: 5 })).json();
      broken.push(typeof reply.total_count === "string" || !("modification_time" in reply.incidents[0]));
      const extra = (await extraData()).json().reply;
      broken.push(typeof extra.alerts.total_count === "string" || !("incident_id" in extra.incident));
    }
    expect(broken.every(Boolean)).toBe(true);
  });

  it("spells every severity the platform's way with platformSeverities, in replies only", async () => {
    const classic = (await incidents({ search_to: 100 })).json().reply.incidents as { severity: string }[];
    emulator.control.setFaults({ platformSeverities: true });
    const listed = (await incidents({ search_to: 100 })).json().reply.incidents as { severity: string }[];
    // API-FACTS: the platform's spellings, written out here rather than imported from the code under test.
    const spelled = new Map([
      ["informational", "SEV_010_INFO"],
      ["low", "SEV_020_LOW"],
      ["medium", "SEV_030_MEDIUM"],
      ["high", "SEV_040_HIGH"],
      ["critical", "SEV_050_CRITICAL"],
      ["unknown", "SEV_090_UNKNOWN"],
    ]);
    expect(new Set(classic.map((incident) => incident.severity)).size).toBeGreaterThan(3);
    expect(listed.map((incident) => incident.severity)).toEqual(
      classic.map((incident) => spelled.get(incident.severity)),
    );
    const platform = /^SEV_0\d0_[A-Z]+$/;
    const extra = (await extraData()).json().reply;
    expect(extra.incident.severity).toMatch(platform);
    expect(extra.alerts.data.every((alert: { severity: string }) => platform.test(alert.severity))).toBe(
      true,
    );
    // The tenant's own records keep the classic spelling.
    expect(emulator.control.incidents().every((incident) => !platform.test(incident.severity))).toBe(true);
  });

  it("modifies incidents between two get_incidents pages with modifyBetweenPages", async () => {
    const before = emulator.control.versions().length;
    emulator.control.setFaults({ modifyBetweenPages: 2 });
    await incidents({ search_to: 10 });
    expect(emulator.control.versions().length).toBe(before + 2);
    await incidents({ search_from: 10, search_to: 20 });
    expect(emulator.control.versions().length).toBe(before + 4);
  });

  it("delays answers by latencyMs on the chosen endpoint only", async () => {
    emulator.control.setFaults({ latencyMs: { ms: 3000, endpoint: "get_incident_extra_data" } });
    const slow = request(`${emulator.url}${EXTRA_DATA_PATH}`, {
      method: "POST",
      headers: standardHeaders(emulator.keys.standard),
      body: JSON.stringify({ request_data: { incident_id: incidentId } }),
      headersTimeout: 300,
    });
    await expect(slow).rejects.toThrow(/timeout/i);
    const fast = await request(`${emulator.url}${INCIDENTS_PATH}`, {
      method: "POST",
      headers: standardHeaders(emulator.keys.standard),
      body: JSON.stringify({ request_data: { search_to: 1 } }),
      headersTimeout: 2500,
    });
    expect(fast.statusCode).toBe(200);
    await fast.body.dump();
  });

  it("accepts the whole fault set at once and clears it", async () => {
    const all: EmulatorFaults = {
      latencyMs: 0,
      serverErrorRate: 0,
      throttleBurst: 0,
      connectionResetRate: 0,
      truncatedBodyRate: 0,
      nonJsonBodyRate: 1,
      schemaViolationRate: 0,
      modifyBetweenPages: 0,
      clockSkewMs: 0,
      withoutBatchEndpoint: false,
      transientNotFound: 0,
      lateListing: { rate: 0, delayMs: 0 },
      malformedListing: { incidentIds: [], modificationTime: "missing" },
      restrictedIncidentIds: [],
      staleListing: [],
      platformSeverities: false,
    };
    emulator.control.setFaults(all);
    expect((await incidents()).status).toBe(502);
    emulator.control.clearFaults();
    expect((await incidents()).status).toBe(200);
  });
});
