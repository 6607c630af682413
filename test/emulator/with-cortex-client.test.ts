// The project's own Cortex client against the emulator: the two were written apart, so agreement here
// checks both (the raw-HTTP tests next to this one check the emulator alone).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CortexAuthType, IncidentCursor, IncidentSummary } from "../../functions/shared/cortex/api.ts";
import { CortexClient } from "../../functions/shared/cortex/client.ts";
import { isCortexError } from "../../functions/shared/cortex/errors.ts";
import { type CortexEmulator, type EmulatorKey, startCortexEmulator } from "../../local/emulator/index.ts";

const START = { modificationTime: 0, idsAtCursor: [] } satisfies IncidentCursor;
const GENEROUS = {
  extraData: { requests: 10_000, windowMs: 1000 },
  tenant: { requests: 10_000, windowMs: 1000 },
};

function clientFor(emulator: CortexEmulator, key: EmulatorKey, product: "xdr" | "xpanse" = "xdr") {
  const authType: CortexAuthType = key.type;
  return new CortexClient({
    baseUrl: emulator.url,
    product,
    credentials: { apiKey: key.key, apiKeyId: key.id, authType },
    // Retries without real waiting.
    sleep: async () => {},
    requestTimeoutMs: 10_000,
  });
}

async function walk(client: CortexClient, cursor: IncidentCursor = START) {
  const seen: IncidentSummary[] = [];
  let last = cursor;
  for await (const page of client.incidentsModifiedSince(cursor)) {
    seen.push(...page.incidents);
    last = page.cursor;
  }
  return { seen, cursor: last };
}

const versionKey = (incident: { incident_id: string; modification_time: number }) =>
  `${incident.incident_id}@${incident.modification_time}`;

describe.each(["standard", "advanced"] as const)(
  "the Cortex client against the emulator (%s key)",
  (keyType) => {
    let emulator: CortexEmulator;
    let client: CortexClient;
    let burstTime: number;

    beforeAll(async () => {
      emulator = await startCortexEmulator({
        seed: `client-${keyType}`,
        incidents: 120,
        rateLimits: GENEROUS,
      });
      burstTime = Math.max(...emulator.control.incidents().map((incident) => incident.modification_time)) + 1;
      emulator.control.addBurst({ count: 250, modificationTime: burstTime });
      emulator.control.addIncidents(5);
      client = clientFor(emulator, emulator.keys[keyType]);
    });
    afterAll(async () => {
      await client.close();
      await emulator.close();
    });

    it("walks every incident exactly once, including 250 that share one millisecond", async () => {
      const { seen, cursor } = await walk(client);
      const expected = emulator.control.incidents().map(versionKey).sort();
      expect(seen.map(versionKey).sort()).toEqual(expected);
      expect(new Set(seen.map((incident) => incident.incident_id)).size).toBe(seen.length);
      expect(seen.filter((incident) => incident.modification_time === burstTime)).toHaveLength(250);
      // Resuming from the last cursor finds nothing new until something changes.
      expect((await walk(client, cursor)).seen).toEqual([]);
      const modified = emulator.control.modifyIncident(seen[0]?.incident_id ?? "", {
        status: "resolved_other",
      });
      const again = await walk(client, cursor);
      expect(again.seen.map(versionKey)).toEqual([versionKey(modified)]);
    });

    it("gets extra data with alerts_limit, the real alert total, and no schema issues", async () => {
      const [big] = emulator.control.addIncidents([{ alert_count: 1100, severity: "high" }]);
      const result = await client.getIncidentExtraData(big?.incident_id ?? "", { alertsLimit: 7 });
      expect(result.alertsReturned).toBe(7);
      expect(result.alertsTotal).toBe(1100);
      expect(result.schemaIssues).toEqual([]);
      expect(result.incident?.incident_id).toBe(big?.incident_id);
      const full = await client.getIncidentExtraData(big?.incident_id ?? "");
      expect(full.alertsReturned).toBe(1000);
    });

    it("reports an unknown incident as incident_not_found", async () => {
      const failure = await client.getIncidentExtraData("424242").catch((error: unknown) => error);
      expect(isCortexError(failure, "incident_not_found")).toBe(true);
    });
  },
);

describe("the Cortex client against a misbehaving emulator", () => {
  let emulator: CortexEmulator;
  let client: CortexClient;

  beforeAll(async () => {
    emulator = await startCortexEmulator({ seed: "client-faults", incidents: 250, rateLimits: GENEROUS });
    client = clientFor(emulator, emulator.keys.standard);
  });
  afterAll(async () => {
    await client.close();
    await emulator.close();
  });

  it("retries through 429s, 5xx, HTML pages, resets and truncated bodies", async () => {
    const incidentId = emulator.control.incidents()[0]?.incident_id ?? "";
    emulator.control.setFaults({ throttleBurst: 2 });
    await expect(client.getIncidentExtraData(incidentId, { alertsLimit: 1 })).resolves.toBeDefined();
    const faults = [
      "serverErrorRate",
      "nonJsonBodyRate",
      "connectionResetRate",
      "truncatedBodyRate",
    ] as const;
    for (const fault of faults) {
      emulator.control.clearFaults();
      emulator.control.setFaults({ [fault]: 0.5 });
      for (let i = 0; i < 4; i++) {
        const result = await client.getIncidentExtraData(incidentId, { alertsLimit: 1 });
        expect(result.incident?.incident_id).toBe(incidentId);
      }
    }
    emulator.control.clearFaults();
    const struck = new Set(emulator.control.requests().map((entry) => entry.fault));
    for (const fault of ["throttleBurst", "serverError", "nonJsonBody", "connectionReset", "truncatedBody"]) {
      expect(struck).toContain(fault);
    }
  });

  it("loses no incident version when incidents change between pages", async () => {
    const before = emulator.control.versions().length;
    emulator.control.setFaults({ modifyBetweenPages: 3 });
    const first = await walk(client);
    emulator.control.clearFaults();
    expect(emulator.control.versions().length).toBeGreaterThan(before);
    // Changes made after the last page was served belong to the next run, which resumes from the cursor.
    const next = await walk(client, first.cursor);
    const yielded = new Set([...first.seen, ...next.seen].map(versionKey));
    const missing = emulator.control.incidents().filter((incident) => !yielded.has(versionKey(incident)));
    expect(missing).toEqual([]);
  });

  it("maps refused keys to bad_key, license and permission errors without retrying", async () => {
    const wrong = clientFor(emulator, { ...emulator.keys.standard, key: "wrong".repeat(20) });
    const failure = await wrong.getIncidentExtraData("1").catch((error: unknown) => error);
    expect(isCortexError(failure, "bad_key")).toBe(true);
    await wrong.close();
    emulator.control.setKeyEntitlements(emulator.keys.standard.id, { license: false });
    expect(isCortexError(await client.getIncidentExtraData("1").catch((e: unknown) => e), "license")).toBe(
      true,
    );
    emulator.control.setKeyEntitlements(emulator.keys.standard.id, { license: true, permission: false });
    expect(isCortexError(await client.getIncidentExtraData("1").catch((e: unknown) => e), "permission")).toBe(
      true,
    );
    emulator.control.setKeyEntitlements(emulator.keys.standard.id, { permission: true });
  });

  it("walks an Xpanse tenant with an Xpanse filter", async () => {
    const xpanse = await startCortexEmulator({
      seed: "client-xpanse",
      incidents: 80,
      product: "xpanse",
      rateLimits: GENEROUS,
    });
    const xpanseClient = clientFor(xpanse, xpanse.keys.advanced, "xpanse");
    try {
      const seen: IncidentSummary[] = [];
      const filters = [{ field: "integration_source", operator: "in", value: ["AWS"] }];
      for await (const page of xpanseClient.incidentsModifiedSince(START, { filters }))
        seen.push(...page.incidents);
      const expected = xpanse.control.incidents().filter((incident) => incident.integration_source === "AWS");
      expect(seen.map(versionKey).sort()).toEqual(expected.map(versionKey).sort());
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      await xpanseClient.close();
      await xpanse.close();
    }
  });
});
