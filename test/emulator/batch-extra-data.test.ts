import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { BATCH_EXTRA_DATA_PATH, EXTRA_DATA_PATH, post, standardHeaders } from "./raw-http.ts";

const idFilter = (ids: readonly (string | undefined)[]) => ({
  filters: [{ field: "incident_id_list", operator: "in", value: ids }],
});

describe("Cortex emulator: get_multiple_incidents_extra_data", () => {
  let emulator: CortexEmulator;
  const call = (requestData: Record<string, unknown>, headers: Record<string, string> = {}) =>
    post(
      emulator.url,
      BATCH_EXTRA_DATA_PATH,
      { request_data: requestData },
      { ...standardHeaders(emulator.keys.standard), ...headers },
    );
  const single = (incidentId: string) =>
    post(
      emulator.url,
      EXTRA_DATA_PATH,
      { request_data: { incident_id: incidentId } },
      standardHeaders(emulator.keys.standard),
    );

  beforeAll(async () => {
    emulator = await startCortexEmulator({
      seed: "batch",
      incidents: 150,
      rateLimits: {
        extraData: { requests: 10_000, windowMs: 1000 },
        batchExtraData: { requests: 10_000, windowMs: 1000 },
        tenant: { requests: 10_000, windowMs: 1000 },
      },
    });
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.control.clearFaults());

  it("returns one element per listed incident with incident, alerts and artifacts, and the per-incident cap", async () => {
    const listed = emulator.control.incidents().slice(0, 5);
    const answer = await call(idFilter(listed.map((incident) => incident.incident_id)));
    expect(answer.status).toBe(200);
    const { reply } = answer.json();
    expect(reply.alerts_limit_per_incident).toBe(50);
    expect(reply.result_count).toBe(5);
    expect(reply.total_count).toBe(5);
    expect(reply.incidents).toHaveLength(5);
    for (const element of reply.incidents) {
      expect(Object.keys(element).sort()).toEqual([
        "alerts",
        "file_artifacts",
        "incident",
        "network_artifacts",
      ]);
      const source = listed.find((incident) => incident.incident_id === element.incident.incident_id);
      expect(element.incident).toMatchObject({
        modification_time: source?.modification_time,
        alert_count: source?.alert_count,
      });
      expect(element.alerts.total_count).toBe(source?.alert_count);
      expect(element.alerts.data).toHaveLength(Math.min(50, source?.alert_count ?? 0));
    }
  });

  it("caps a large incident's alerts while total_count stays the real total, in no particular order", async () => {
    const big = emulator.control.incidents().find((incident) => incident.alert_count > 60);
    expect(big).toBeDefined();
    const element = (await call(idFilter([big?.incident_id]))).json().reply.incidents[0];
    expect(element.alerts.data).toHaveLength(50);
    expect(element.alerts.total_count).toBe(big?.alert_count);
    const all = (await single(big?.incident_id ?? "")).json().reply.alerts.data as { alert_id: string }[];
    const batchIds = (element.alerts.data as { alert_id: string }[]).map((alert) => alert.alert_id);
    // Every alert is one of the incident's, but not the first 50 in the single endpoint's order.
    const allIds = new Set(all.map((alert) => alert.alert_id));
    expect(batchIds.every((id) => allIds.has(id))).toBe(true);
    expect(batchIds).not.toEqual(all.slice(0, 50).map((alert) => alert.alert_id));
  });

  it("honours a configured per-incident cap", async () => {
    const capped = await startCortexEmulator({ seed: "batch", incidents: 20, batchAlertsPerIncident: 3 });
    try {
      const big = capped.control.incidents().find((incident) => incident.alert_count > 3);
      const answer = await post(
        capped.url,
        BATCH_EXTRA_DATA_PATH,
        { request_data: idFilter([big?.incident_id]) },
        standardHeaders(capped.keys.standard),
      );
      const { reply } = answer.json();
      expect(reply.alerts_limit_per_incident).toBe(3);
      expect(reply.incidents[0].alerts.data).toHaveLength(3);
    } finally {
      await capped.close();
    }
  });

  it("leaves unknown ids out of the reply instead of failing the call", async () => {
    const known = emulator.control.incidents()[0]?.incident_id;
    const { reply } = (await call(idFilter([known, "987654321"]))).json();
    expect(
      reply.incidents.map((element: { incident: { incident_id: string } }) => element.incident.incident_id),
    ).toEqual([known]);
    expect(reply.result_count).toBe(1);
  });

  it("rejects more than 100 ids as get_incidents does", async () => {
    const ids = emulator.control
      .incidents()
      .slice(0, 101)
      .map((incident) => incident.incident_id);
    const answer = await call(idFilter(ids));
    expect(answer.status).toBe(500);
    expect(answer.json().reply.err_extra).toMatch(/at most 100 ids/);
    expect((await call(idFilter(ids.slice(0, 100)))).json().reply.result_count).toBe(100);
  });

  it("applies get_incidents' other filters, sort and window", async () => {
    const all = emulator.control.incidents();
    const since = all.map((incident) => incident.modification_time).sort((a, b) => a - b)[140] ?? 0;
    const { reply } = (
      await call({
        filters: [{ field: "modification_time", operator: "gte", value: since }],
        sort: { field: "modification_time", keyword: "asc" },
        search_from: 0,
        search_to: 3,
      })
    ).json();
    const times = reply.incidents.map(
      (element: { incident: { modification_time: number } }) => element.incident.modification_time,
    );
    expect(times).toHaveLength(3);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.every((time: number) => time >= since)).toBe(true);
    expect(reply.total_count).toBe(all.filter((incident) => incident.modification_time >= since).length);
    expect((await call({ filters: [{ field: "status", operator: "in", value: ["new"] }] })).status).toBe(500);
  });

  it("drops the excluded incident and alert fields", async () => {
    const id = emulator.control.incidents()[3]?.incident_id;
    const element = (
      await call({ ...idFilter([id]), fields_to_exclude: ["hosts"], alert_fields_to_exclude: ["host_ip"] })
    ).json().reply.incidents[0];
    expect(element.incident).not.toHaveProperty("hosts");
    expect(element.incident.incident_id).toBe(id);
    expect(element.alerts.data.every((alert: object) => !("host_ip" in alert))).toBe(true);
    expect((await call({ ...idFilter([id]), fields_to_exclude: "hosts" })).status).toBe(500);
  });

  it("compresses the reply when asked", async () => {
    const ids = emulator.control
      .incidents()
      .slice(0, 20)
      .map((incident) => incident.incident_id);
    const answer = await call(idFilter(ids), { "accept-encoding": "gzip" });
    expect(answer.headers["content-encoding"]).toBe("gzip");
    expect(answer.bytes.length).toBeLessThan(Buffer.byteLength(answer.text));
    expect(answer.json().reply.incidents).toHaveLength(20);
  });

  it("answers 404 like a path the tenant does not serve when switched off, before checking the key", async () => {
    emulator.control.setFaults({ withoutBatchEndpoint: true });
    const answer = await post(emulator.url, BATCH_EXTRA_DATA_PATH, { request_data: {} }, {});
    expect(answer.status).toBe(404);
    expect(answer.json().reply).toMatchObject({ err_code: 404, err_msg: "Not Found" });
    expect(
      emulator.control.stats().endpoints.get_multiple_incidents_extra_data.statuses["404"],
    ).toBeGreaterThan(0);
    emulator.control.clearFaults();
    expect((await call(idFilter([emulator.control.incidents()[0]?.incident_id]))).status).toBe(200);
  });

  it("damages the first element under the schema-violation fault", async () => {
    emulator.control.setFaults({
      schemaViolationRate: { rate: 1, endpoint: "get_multiple_incidents_extra_data" },
    });
    const ids = emulator.control
      .incidents()
      .slice(0, 2)
      .map((incident) => incident.incident_id);
    const [first, second] = (await call(idFilter(ids))).json().reply.incidents;
    const broken = typeof first.alerts.total_count === "string" || !("incident_id" in first.incident);
    expect(broken).toBe(true);
    expect(typeof second.alerts.total_count).toBe("number");
  });

  it("answers a real incident as not found while the transient fault lasts", async () => {
    const id = emulator.control.incidents()[0]?.incident_id ?? "";
    emulator.control.setFaults({ transientNotFound: 1 });
    const first = await single(id);
    expect(first.status).toBe(500);
    expect(first.json().reply.err_extra).toBe(`Incident ${id} was not found`);
    expect((await single(id)).status).toBe(200);
  });
});

describe("Cortex emulator: the batch endpoint's own rate limit (injected clock)", () => {
  it("allows 10 batch calls per minute by default, counted apart from the single endpoint", async () => {
    let clock = Date.UTC(2026, 0, 15, 12, 0, 0);
    const emulator = await startCortexEmulator({ seed: "batch-limit", incidents: 3, now: () => clock });
    try {
      const id = emulator.control.incidents()[0]?.incident_id;
      const headers = standardHeaders(emulator.keys.standard);
      const batch = () =>
        post(emulator.url, BATCH_EXTRA_DATA_PATH, { request_data: idFilter([id]) }, headers);
      for (let i = 0; i < 10; i++) {
        clock += 1000;
        expect((await batch()).status).toBe(200);
      }
      const throttled = await batch();
      expect(throttled.status).toBe(429);
      expect(throttled.json().reply.err_msg).toBe("Too many requests.");
      const singleCall = await post(
        emulator.url,
        EXTRA_DATA_PATH,
        { request_data: { incident_id: id, alerts_limit: 1 } },
        headers,
      );
      expect(singleCall.status).toBe(200);
      clock += 60_000;
      expect((await batch()).status).toBe(200);
      const reasons = emulator.control
        .requests()
        .filter((entry) => entry.status === 429)
        .map((entry) => entry.reason);
      expect(reasons).toEqual(["batch extra data rate limit"]);
    } finally {
      await emulator.close();
    }
  });
});
