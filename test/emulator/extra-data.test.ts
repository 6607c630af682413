import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { EXTRA_DATA_PATH, post, standardHeaders } from "./raw-http.ts";

describe("Cortex emulator: get_incident_extra_data", () => {
  let emulator: CortexEmulator;
  const extraData = (requestData: Record<string, unknown>) =>
    post(
      emulator.url,
      EXTRA_DATA_PATH,
      { request_data: requestData },
      standardHeaders(emulator.keys.standard),
    );

  beforeAll(async () => {
    emulator = await startCortexEmulator({
      seed: "extra",
      incidents: 60,
      rateLimits: {
        extraData: { requests: 10_000, windowMs: 1000 },
        tenant: { requests: 10_000, windowMs: 1000 },
      },
    });
  });
  afterAll(() => emulator.close());

  it("nests incident, alerts, network_artifacts and file_artifacts under reply", async () => {
    const incident = emulator.control.incidents()[0];
    const { reply } = (await extraData({ incident_id: incident?.incident_id })).json();
    expect(Object.keys(reply).sort()).toEqual(["alerts", "file_artifacts", "incident", "network_artifacts"]);
    expect(reply.incident).toMatchObject({
      incident_id: incident?.incident_id,
      modification_time: incident?.modification_time,
      alert_count: incident?.alert_count,
    });
    for (const part of ["network_artifacts", "file_artifacts"]) {
      expect(reply[part].total_count).toBe(reply[part].data.length);
    }
    expect(reply.alerts.data).toHaveLength(Math.min(1000, incident?.alert_count ?? 0));
    expect(reply.alerts.total_count).toBe(incident?.alert_count);
  });

  it("returns at most alerts_limit alerts while total_count stays the real total", async () => {
    const big = emulator.control.incidents().find((incident) => incident.alert_count >= 1000);
    expect(big).toBeDefined();
    const limited = (await extraData({ incident_id: big?.incident_id, alerts_limit: 5 })).json().reply;
    expect(limited.alerts.data).toHaveLength(5);
    expect(limited.alerts.total_count).toBe(big?.alert_count);
    const byDefault = (await extraData({ incident_id: big?.incident_id })).json().reply;
    expect(byDefault.alerts.data).toHaveLength(1000);
    expect(byDefault.alerts.total_count).toBe(big?.alert_count);
  });

  it("accepts the incident id as a number too", async () => {
    const incident = emulator.control.incidents()[1];
    const answer = await extraData({ incident_id: Number(incident?.incident_id), alerts_limit: 1 });
    expect(answer.status).toBe(200);
    expect(answer.json().reply.incident.incident_id).toBe(incident?.incident_id);
  });

  it("answers an unknown incident with the agreed 500 body naming the id", async () => {
    const answer = await extraData({ incident_id: "987654321" });
    expect(answer.status).toBe(500);
    expect(answer.json()).toEqual({
      reply: {
        err_code: 500,
        err_msg: "An error occurred while processing XDR public API",
        err_extra: "Incident 987654321 was not found",
      },
    });
  });

  it("answers 500 when incident_id is missing", async () => {
    expect((await extraData({ alerts_limit: 5 })).status).toBe(500);
  });

  it("keeps alert counts per severity consistent with the alerts it returns", async () => {
    const incident = emulator.control.incidents().find((i) => i.alert_count > 3 && i.alert_count < 1000);
    const { reply } = (await extraData({ incident_id: incident?.incident_id })).json();
    const count = (severity: string) =>
      reply.alerts.data.filter((a: { severity: string }) => a.severity === severity).length;
    expect(count("critical")).toBe(reply.incident.critical_severity_alert_count);
    expect(count("high")).toBe(reply.incident.high_severity_alert_count);
    expect(count("medium")).toBe(reply.incident.med_severity_alert_count);
    expect(count("low")).toBe(reply.incident.low_severity_alert_count);
  });

  it("carries the real-world payload variations across its alerts", async () => {
    const alerts: Record<string, unknown>[] = [];
    for (const incident of emulator.control.incidents().slice(0, 15)) {
      alerts.push(
        ...(await extraData({ incident_id: incident.incident_id, alerts_limit: 50 })).json().reply.alerts
          .data,
      );
    }
    expect(alerts.every((a) => typeof a.alert_id === "string" && typeof a.case_id === "number")).toBe(true);
    expect(alerts.some((a) => typeof a.tags === "string")).toBe(true);
    expect(alerts.some((a) => Array.isArray(a.tags))).toBe(true);
    expect(alerts.some((a) => String(a.host_ip).includes(", "))).toBe(true);
    expect(alerts.some((a) => a.is_whitelisted === "No")).toBe(true);
    expect(alerts.some((a) => a.is_whitelisted === false)).toBe(true);
    expect(alerts.some((a) => a.actor_process_signature_vendor === "N/A")).toBe(true);
    expect(alerts.some((a) => a.actor_process_signature_vendor === null)).toBe(true);
    expect(alerts.some((a) => a.user_name === null)).toBe(true);
    expect(alerts.some((a) => String(a.name).endsWith(" "))).toBe(true);
  });

  it("regenerates the same alerts for the same incident on every call", async () => {
    const incident = emulator.control.incidents()[2];
    const first = (await extraData({ incident_id: incident?.incident_id })).text;
    const second = (await extraData({ incident_id: incident?.incident_id })).text;
    expect(second).toBe(first);
  });
});
