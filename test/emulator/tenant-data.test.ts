import { afterEach, describe, expect, it, vi } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { EXTRA_DATA_PATH, getIncidents, post, standardHeaders } from "./raw-http.ts";

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const HOURS = 60 * 60 * 1000;

describe("Cortex emulator: seeded tenant data and the control API", () => {
  const started: CortexEmulator[] = [];
  const start = async (options: Parameters<typeof startCortexEmulator>[0]) => {
    const emulator = await startCortexEmulator(options);
    started.push(emulator);
    return emulator;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((emulator) => emulator.close()));
    vi.useRealTimers();
  });

  it("generates the same tenant, keys included, from the same seed, and another from another seed", async () => {
    const a = await start({ seed: 42, incidents: 100, now: () => NOW });
    const b = await start({ seed: 42, incidents: 100, now: () => NOW });
    const c = await start({ seed: 43, incidents: 100, now: () => NOW });
    expect(b.control.incidents()).toEqual(a.control.incidents());
    expect(b.keys.all).toEqual(a.keys.all);
    expect(c.control.incidents()).not.toEqual(a.control.incidents());
  });

  it("spreads the backlog over the hours before the injected clock", async () => {
    const emulator = await start({ seed: "backlog", incidents: 1000, now: () => NOW });
    const incidents = emulator.control.incidents();
    expect(incidents).toHaveLength(1000);
    for (const incident of incidents) {
      expect(incident.creation_time).toBeGreaterThanOrEqual(NOW - 6 * HOURS);
      expect(incident.modification_time).toBeGreaterThanOrEqual(incident.creation_time);
      expect(incident.modification_time).toBeLessThanOrEqual(NOW);
    }
  });

  it("includes bursts sharing one millisecond, incidents modified since creation, and large incidents", async () => {
    const emulator = await start({ seed: "shape", incidents: 400, now: () => NOW });
    const incidents = emulator.control.incidents();
    const perMs = new Map<number, number>();
    for (const incident of incidents)
      perMs.set(incident.modification_time, (perMs.get(incident.modification_time) ?? 0) + 1);
    expect(Math.max(...perMs.values())).toBeGreaterThanOrEqual(3);
    expect(incidents.some((incident) => incident.modification_time > incident.creation_time)).toBe(true);
    expect(incidents.some((incident) => incident.alert_count >= 1000)).toBe(true);
    expect(incidents.some((incident) => incident.alert_count <= 5)).toBe(true);
    expect(new Set(incidents.map((incident) => incident.status)).size).toBeGreaterThanOrEqual(3);
    expect(incidents.some((incident) => incident.severity === "critical")).toBe(true);
  });

  it("carries the real-world incident variations", async () => {
    const emulator = await start({ seed: "variations", incidents: 300, now: () => NOW });
    const incidents = emulator.control.incidents();
    expect(incidents.every((incident) => typeof incident.incident_id === "string")).toBe(true);
    expect(incidents.some((incident) => incident.incident_name === null)).toBe(true);
    expect(incidents.some((incident) => incident.mitre_tactics_ids_and_names === null)).toBe(true);
    expect(incidents.some((incident) => incident.rule_based_score === null)).toBe(true);
    expect(incidents.some((incident) => "predicted_score" in incident)).toBe(true);
    expect(incidents.some((incident) => String(incident.xdr_url).includes("/incident-view?caseId="))).toBe(
      true,
    );
    expect(incidents.some((incident) => /\/incident-view\/\d+$/.test(String(incident.xdr_url)))).toBe(true);
    const hosts = incidents.flatMap((incident) => incident.hosts as string[]);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.every((host) => /^[^:]+:[0-9a-f]{32}$/.test(host))).toBe(true);
    const resolved = incidents.filter((incident) => incident.status.startsWith("resolved_"));
    expect(new Set(resolved.map((incident) => incident.status)).size).toBeGreaterThanOrEqual(3);
    for (const incident of resolved) expect(incident.resolved_timestamp).toEqual(expect.any(Number));
  });

  it("gives Xpanse incidents the Xpanse fields of seed 000", async () => {
    const emulator = await start({ seed: "xpanse", incidents: 20, product: "xpanse", now: () => NOW });
    for (const incident of emulator.control.incidents()) {
      expect(["Managed Cloud", "Unmanaged Cloud", "Not Applicable"]).toContain(
        incident.cloud_management_status,
      );
      expect(["AWS", "AZURE", "GOOGLE", "PRISMA_CLOUD"]).toContain(incident.integration_source);
      expect(incident).toHaveProperty("xpanse_risk_explainer.riskFactors");
      expect(incident).toHaveProperty("certificate_issuers");
    }
  });

  it("adds a burst of incidents that share one millisecond", async () => {
    const emulator = await start({ seed: "burst", incidents: 10, now: () => NOW });
    const burst = emulator.control.addBurst({ count: 250, modificationTime: NOW + 5 });
    expect(burst).toHaveLength(250);
    expect(new Set(burst.map((incident) => incident.incident_id)).size).toBe(250);
    expect(
      burst.every((incident) => incident.modification_time === NOW + 5 && incident.creation_time === NOW + 5),
    ).toBe(true);
  });

  it("adds incidents with chosen fields, sizing their alerts from alert_count", async () => {
    const emulator = await start({ seed: "add", incidents: 0, now: () => NOW });
    const [big] = emulator.control.addIncidents([{ alert_count: 1200, severity: "critical" }]);
    expect(big).toMatchObject({
      alert_count: 1200,
      severity: "critical",
      creation_time: NOW,
      modification_time: NOW,
    });
    const { reply } = (
      await post(
        emulator.url,
        EXTRA_DATA_PATH,
        { request_data: { incident_id: big?.incident_id } },
        standardHeaders(emulator.keys.standard),
      )
    ).json();
    expect(reply.alerts).toMatchObject({ total_count: 1200 });
    expect(reply.alerts.data).toHaveLength(1000);
    expect(emulator.control.addIncidents(3)).toHaveLength(3);
  });

  it("escalates severity medium -> critical with a new critical alert and a later modification_time", async () => {
    const emulator = await start({ seed: "escalate", incidents: 0, now: () => NOW });
    const [incident] = emulator.control.addIncidents([{ severity: "medium", alert_count: 2 }]);
    const id = incident?.incident_id ?? "";
    const escalated = emulator.control.modifyIncident(id, { severity: "critical" });
    expect(escalated.severity).toBe("critical");
    expect(escalated.alert_count).toBe(3);
    expect(escalated.critical_severity_alert_count).toBe(1);
    // The clock did not move, yet the new version must sort after the old one.
    expect(escalated.modification_time).toBeGreaterThan(
      incident?.modification_time ?? Number.POSITIVE_INFINITY,
    );
    const { reply } = (
      await post(
        emulator.url,
        EXTRA_DATA_PATH,
        { request_data: { incident_id: id } },
        standardHeaders(emulator.keys.standard),
      )
    ).json();
    expect(
      reply.alerts.data.filter((alert: { severity: string }) => alert.severity === "critical"),
    ).toHaveLength(1);
  });

  it("records resolution, new alerts and status changes as new versions", async () => {
    const emulator = await start({ seed: "versions", incidents: 0, now: () => NOW });
    const [incident] = emulator.control.addIncidents([{ severity: "high", alert_count: 1 }]);
    const id = incident?.incident_id ?? "";
    emulator.control.modifyIncident(id, { status: "under_investigation" });
    emulator.control.modifyIncident(id, { addAlerts: 4 });
    const resolved = emulator.control.modifyIncident(id, { status: "resolved_true_positive" });
    expect(resolved).toMatchObject({
      alert_count: 5,
      status: "resolved_true_positive",
      resolved_timestamp: resolved.modification_time,
    });
    expect(resolved.resolve_comment).toEqual(expect.any(String));
    const versions = emulator.control.versions().filter((version) => version.incident_id === id);
    expect(versions.map((version) => version.status)).toEqual([
      "new",
      "under_investigation",
      "under_investigation",
      "resolved_true_positive",
    ]);
    const times = versions.map((version) => version.modification_time);
    expect(new Set(times).size).toBe(4);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("modifies an incident plausibly when no change is given, and refuses an unknown id", async () => {
    const emulator = await start({ seed: "plausible", incidents: 5, now: () => NOW });
    const before = emulator.control.incidents()[0];
    const after = emulator.control.modifyIncident(before?.incident_id ?? "");
    expect(after.modification_time).toBeGreaterThan(before?.modification_time ?? Number.POSITIVE_INFINITY);
    expect(emulator.control.versions()).toHaveLength(6);
    expect(() => emulator.control.modifyIncident("1")).toThrow(/Incident 1 was not found/);
  });

  it("serves modified incidents to get_incidents with their new modification_time", async () => {
    const emulator = await start({ seed: "serve", incidents: 20, now: () => NOW });
    const target = emulator.control.incidents()[3];
    const modified = emulator.control.modifyIncident(target?.incident_id ?? "", {
      status: "resolved_duplicate",
    });
    const reply = await getIncidents(emulator.url, emulator.keys.standard, {
      filters: [{ field: "modification_time", operator: "gte", value: modified.modification_time }],
    });
    expect(reply.incidents.map((incident) => incident.incident_id)).toEqual([modified.incident_id]);
    expect(reply.incidents[0]?.status).toBe("resolved_duplicate");
  });

  it("keeps adding and modifying incidents in live mode, until closed", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    let clock = NOW;
    const emulator = await start({
      seed: "live",
      incidents: 10,
      now: () => clock,
      live: { intervalMs: 1000, newPerTick: 2, modifiedPerTick: 1 },
    });
    clock += 1000;
    vi.advanceTimersByTime(1000);
    clock += 1000;
    vi.advanceTimersByTime(1000);
    expect(emulator.control.incidents()).toHaveLength(14);
    expect(emulator.control.versions()).toHaveLength(10 + 2 * 3);
    await emulator.close();
    vi.advanceTimersByTime(5000);
    expect(emulator.control.incidents()).toHaveLength(14);
  });
});
