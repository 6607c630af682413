import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

describe("Cortex emulator: control API over HTTP under /_emulator/", () => {
  let emulator: CortexEmulator;
  const admin = (method: "GET" | "POST" | "PUT" | "DELETE", route: string, body?: unknown) =>
    post(emulator.url, `/_emulator/${route}`, body, {}, method);

  beforeAll(async () => {
    emulator = await startCortexEmulator({ seed: "admin", incidents: 5, now: () => NOW });
  });
  afterAll(() => emulator.close());

  it("lists incidents and versions", async () => {
    expect((await admin("GET", "incidents")).json()).toEqual(emulator.control.incidents());
    expect((await admin("GET", "versions")).json()).toHaveLength(5);
  });

  it("adds incidents by count, by fields, and as a burst", async () => {
    expect((await admin("POST", "incidents", { count: 2 })).json()).toHaveLength(2);
    const [chosen] = (
      await admin("POST", "incidents", { incidents: [{ severity: "critical", alert_count: 3 }] })
    ).json();
    expect(chosen).toMatchObject({ severity: "critical", alert_count: 3 });
    const burst = (await admin("POST", "burst", { count: 4, modificationTime: NOW + 9 })).json();
    expect(burst.map((incident: { modification_time: number }) => incident.modification_time)).toEqual(
      Array(4).fill(NOW + 9),
    );
  });

  it("modifies an incident, and answers 404 for an unknown one", async () => {
    const id = emulator.control.incidents()[0]?.incident_id ?? "";
    const modified = (await admin("POST", `incidents/${id}/modify`, { status: "resolved_other" })).json();
    expect(modified).toMatchObject({ incident_id: id, status: "resolved_other" });
    expect((await admin("POST", "incidents/1/modify", {})).status).toBe(404);
  });

  it("switches faults on and off", async () => {
    const headers = standardHeaders(emulator.keys.standard);
    expect((await admin("PUT", "faults", { serverErrorRate: 1 })).status).toBe(200);
    expect((await post(emulator.url, INCIDENTS_PATH, { request_data: {} }, headers)).status).toBe(500);
    expect((await admin("DELETE", "faults")).status).toBe(200);
    expect((await post(emulator.url, INCIDENTS_PATH, { request_data: {} }, headers)).status).toBe(200);
  });

  it("sets key entitlements", async () => {
    const { standard } = emulator.keys;
    await admin("PUT", `keys/${standard.id}/entitlements`, { permission: false });
    expect(
      (await post(emulator.url, INCIDENTS_PATH, { request_data: {} }, standardHeaders(standard))).status,
    ).toBe(403);
    await admin("PUT", `keys/${standard.id}/entitlements`, { permission: true });
    expect((await admin("PUT", "keys/nope/entitlements", { license: false })).status).toBe(404);
  });

  it("reports the request log and stats, without control calls and without keys", async () => {
    const requests = (await admin("GET", "requests")).json();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((entry: { path: string }) => entry.path.startsWith("/public_api/"))).toBe(true);
    expect(JSON.stringify(requests)).not.toContain(emulator.keys.standard.key);
    const stats = (await admin("GET", "stats")).json();
    expect(stats.endpoints.get_incidents.calls).toBe(requests.length);
  });

  it("answers 400 for a body that is not a JSON object and 404 for an unknown route", async () => {
    expect((await admin("POST", "incidents", "[1,2")).status).toBe(400);
    expect((await admin("GET", "nothing-here")).status).toBe(404);
  });
});
