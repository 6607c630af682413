// The project's Cortex client against the emulator's batch endpoint: each element as received, unknown
// ids absent, the cap read back, and every attempt (retries included) passing the caller's gate.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AttemptGate } from "../../functions/shared/cortex/api.ts";
import { CortexClient } from "../../functions/shared/cortex/client.ts";
import { isCortexError } from "../../functions/shared/cortex/errors.ts";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";

const GENEROUS = {
  extraData: { requests: 10_000, windowMs: 1000 },
  batchExtraData: { requests: 10_000, windowMs: 1000 },
  tenant: { requests: 10_000, windowMs: 1000 },
};

/** Counts the attempts it lets through; refuses once `allowed` is used up. */
function countingGate(allowed = Number.POSITIVE_INFINITY): AttemptGate & { passed: number } {
  const gate = {
    passed: 0,
    beforeAttempt: async () => {
      if (gate.passed >= allowed) return false;
      gate.passed += 1;
      return true;
    },
  };
  return gate;
}

describe("the Cortex client's batch extra-data call against the emulator", () => {
  let emulator: CortexEmulator;
  let client: CortexClient;

  beforeAll(async () => {
    emulator = await startCortexEmulator({ seed: "batch-client", incidents: 120, rateLimits: GENEROUS });
    const { key, id, type } = emulator.keys.standard;
    client = new CortexClient({
      baseUrl: emulator.url,
      product: "xdr",
      credentials: { apiKey: key, apiKeyId: id, authType: type },
      sleep: async () => {},
    });
  });
  afterAll(async () => {
    await client.close();
    await emulator.close();
  });
  beforeEach(() => emulator.control.clearFaults());

  it("returns each requested incident's element exactly as the tenant sent it, and the per-incident cap", async () => {
    const ids = emulator.control
      .incidents()
      .slice(0, 100)
      .map((incident) => incident.incident_id);
    const result = await client.getMultipleIncidentsExtraData(ids);
    expect(result.alertsLimitPerIncident).toBe(50);
    expect(result.unidentified).toEqual([]);
    expect(result.elements.map((element) => element.incident?.incident_id).sort()).toEqual([...ids].sort());
    const sent = emulator.control.requests().at(-1);
    expect(sent?.endpoint).toBe("get_multiple_incidents_extra_data");
    expect(sent?.requestData).toMatchObject({
      filters: [{ field: "incident_id_list", operator: "in", value: ids }],
    });
    for (const element of result.elements) {
      expect(element.schemaIssues).toEqual([]);
      expect(element.reply).toHaveProperty("incident.incident_domain", "DOMAIN_SECURITY");
      expect(element.alertsReturned).toBe(Math.min(50, element.alertsTotal ?? 0));
    }
  });

  it("leaves ids the tenant does not know out, without failing the call", async () => {
    const known = emulator.control.incidents()[0]?.incident_id ?? "";
    const result = await client.getMultipleIncidentsExtraData([known, "987654321"]);
    expect(result.elements.map((element) => element.incident?.incident_id)).toEqual([known]);
  });

  it("refuses more than 100 ids before sending anything", async () => {
    const before = emulator.control.requests().length;
    const ids = Array.from({ length: 101 }, (_, index) => String(index + 1));
    await expect(client.getMultipleIncidentsExtraData(ids)).rejects.toSatisfy((error) =>
      isCortexError(error, "invalid_request"),
    );
    expect(emulator.control.requests().length).toBe(before);
  });

  it("keeps an element that breaks the schema, with its issues, rather than failing the batch", async () => {
    emulator.control.setFaults({
      schemaViolationRate: { rate: 1, endpoint: "get_multiple_incidents_extra_data" },
    });
    const ids = emulator.control
      .incidents()
      .slice(0, 3)
      .map((incident) => incident.incident_id);
    const result = await client.getMultipleIncidentsExtraData(ids);
    const flagged = result.elements.filter((element) => element.schemaIssues.length > 0);
    expect(flagged.length + result.unidentified.length).toBe(1);
    expect(result.elements.length + result.unidentified.length).toBe(3);
  });

  it("answers a tenant without the endpoint with the typed 404", async () => {
    emulator.control.setFaults({ withoutBatchEndpoint: true });
    await expect(client.getMultipleIncidentsExtraData(["1"])).rejects.toSatisfy(
      (error) => isCortexError(error, "not_found") && error.status === 404,
    );
  });

  it("passes every attempt, retries included, through the caller's gate", async () => {
    emulator.control.setFaults({
      serverErrorRate: { rate: 1, endpoint: "get_multiple_incidents_extra_data" },
    });
    const gate = countingGate();
    const before = emulator.control.stats().endpoints.get_multiple_incidents_extra_data.calls;
    await expect(
      client.getMultipleIncidentsExtraData([emulator.control.incidents()[0]?.incident_id ?? ""], { gate }),
    ).rejects.toSatisfy((error) => isCortexError(error, "server_error") && error.attempts === 5);
    const sent = emulator.control.stats().endpoints.get_multiple_incidents_extra_data.calls - before;
    expect(sent).toBe(5);
    expect(gate.passed).toBe(sent);
  });

  it("stops retrying when the gate has no slot left, saying how many attempts were sent", async () => {
    emulator.control.setFaults({ truncatedBodyRate: { rate: 1, endpoint: "get_incident_extra_data" } });
    const gate = countingGate(2);
    const id = emulator.control.incidents()[0]?.incident_id ?? "";
    await expect(client.getIncidentExtraData(id, { gate })).rejects.toSatisfy(
      (error) => isCortexError(error) && error.kind !== "timeout" && error.attempts === 2,
    );
    await expect(client.getIncidentExtraData(id, { gate: countingGate(0) })).rejects.toSatisfy(
      (error) => isCortexError(error, "timeout") && error.attempts === 0,
    );
  });

  it("lists incidents by id through get_incidents", async () => {
    const [first, second] = emulator.control.incidents();
    const listed = await client.listIncidentsById([
      first?.incident_id ?? "",
      "987654321",
      second?.incident_id ?? "",
    ]);
    expect(listed.map((incident) => incident.incident_id).sort()).toEqual(
      [first?.incident_id, second?.incident_id].sort(),
    );
  });
});
