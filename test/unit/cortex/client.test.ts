import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CortexClient } from "../../../functions/shared/cortex/client.ts";
import { CortexConfigurationError, isCortexError } from "../../../functions/shared/cortex/errors.ts";
import {
  type FakeCortex,
  type FakeReply,
  incident,
  STANDARD_KEY,
  startFakeCortex,
  testClient,
} from "./fake-cortex-server.ts";

let next: FakeReply = {};
let server: FakeCortex;
beforeAll(async () => {
  server = await startFakeCortex(() => next);
});
afterAll(async () => {
  await server.close();
});

/** An extra-data reply shaped like the real ones in API-FACTS.md, quirks included. */
function extraDataReply() {
  return {
    reply: {
      incident: {
        ...incident("893", 1_603_184_209_710, { severity: "critical" }),
        incident_name: null,
        detection_time: null,
        predicted_score: 71,
        users: [],
        mitre_techniques_ids_and_names: null,
      },
      alerts: {
        total_count: 1_500,
        data: [
          {
            alert_id: "1",
            case_id: 893,
            tags: "DS:PANW/XDR Agent",
            host_ip: "1.1.1.1, 2.2.2.2",
            is_whitelisted: "No",
          },
          { alert_id: "2", case_id: 893, tags: ["XDR Agent"], original_tags: "None", is_whitelisted: false },
        ],
      },
      network_artifacts: { total_count: 0, data: [] },
      file_artifacts: { total_count: null, data: null },
      alerts_limit_per_incident: 1000,
    },
  };
}

describe("getIncidents", () => {
  it("posts request_data to get_incidents and keeps every field it does not know", async () => {
    next = {
      json: {
        reply: {
          total_count: null,
          result_count: null,
          restricted_incident_ids: [],
          incidents: [
            incident("893", 5, { severity: "informational", xpanse_risk_score: null, tags: ["a"] }),
            { ...incident("x", 6, { severity: "unknown" }), incident_id: 42 },
          ],
        },
      },
    };
    const { client } = testClient(server.url);
    const reply = await client.getIncidents({
      filters: [{ field: "creation_time", operator: "gte", value: 1 }],
      sort: { field: "creation_time", keyword: "DESC" },
      search_from: 100,
      search_to: 200,
    });
    await client.close();
    expect(server.requests.at(-1)?.path).toBe("/public_api/v1/incidents/get_incidents/");
    expect(server.requests.at(-1)?.body).toEqual({
      request_data: {
        filters: [{ field: "creation_time", operator: "gte", value: 1 }],
        sort: { field: "creation_time", keyword: "DESC" },
        search_from: 100,
        search_to: 200,
      },
    });
    expect(reply.total_count).toBeNull();
    expect(reply.restricted_incident_ids).toEqual([]);
    expect(reply.incidents[0]).toMatchObject({
      incident_id: "893",
      severity: "informational",
      xpanse_risk_score: null,
    });
    expect(reply.incidents[1]?.incident_id).toBe("42");
  });

  it("decodes a gzip reply", async () => {
    next = {
      gzip: true,
      json: { reply: { total_count: 1, result_count: 1, incidents: [incident("7", 9)] } },
    };
    const { client } = testClient(server.url);
    const reply = await client.getIncidents({});
    await client.close();
    expect(reply.incidents.map((i) => i.incident_id)).toEqual(["7"]);
  });
});

describe("getIncidentExtraData", () => {
  it("asks for 1000 alerts by default and returns the reply exactly as received", async () => {
    next = { gzip: true, json: extraDataReply() };
    const { client } = testClient(server.url);
    const result = await client.getIncidentExtraData("893");
    await client.close();
    expect(server.requests.at(-1)?.path).toBe("/public_api/v1/incidents/get_incident_extra_data/");
    expect(server.requests.at(-1)?.body).toEqual({
      request_data: { incident_id: "893", alerts_limit: 1000 },
    });
    expect(result.reply).toEqual(extraDataReply().reply);
    expect(result.schemaIssues).toEqual([]);
    expect(result.incident?.severity).toBe("critical");
    expect(result.alertsReturned).toBe(2);
    expect(result.alertsTotal).toBe(1_500);
  });

  it("returns a reply that breaks the schema with its issues listed instead of throwing", async () => {
    const broken = extraDataReply();
    const odd = { ...broken.reply, alerts: { total_count: "many", data: [{ tags: 5 }] } } as Record<
      string,
      unknown
    >;
    delete (odd.incident as Record<string, unknown>).status;
    next = { json: { reply: odd } };
    const { client } = testClient(server.url);
    const result = await client.getIncidentExtraData("893", { alertsLimit: 50 });
    await client.close();
    expect(server.requests.at(-1)?.body.request_data.alerts_limit).toBe(50);
    expect(result.reply).toEqual(odd);
    expect(result.schemaIssues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^incident\.status: /),
        expect.stringMatching(/^alerts\.total_count: /),
      ]),
    );
    // Alerts are archived, not read: their fields are not checked (and cost nothing to check).
    expect(result.schemaIssues.some((issue) => issue.startsWith("alerts.data"))).toBe(false);
    expect(result.incident).toBeUndefined();
    expect(result.alertsReturned).toBe(1);
    expect(result.alertsTotal).toBeNull();
  });

  it("rejects an empty id or a bad alerts limit without calling the API", async () => {
    const before = server.requests.length;
    const { client } = testClient(server.url);
    await expect(client.getIncidentExtraData("")).rejects.toSatisfy((e) =>
      isCortexError(e, "invalid_request"),
    );
    await expect(client.getIncidentExtraData("1", { alertsLimit: 0 })).rejects.toSatisfy((e) =>
      isCortexError(e, "invalid_request"),
    );
    await client.close();
    expect(server.requests.length).toBe(before);
  });
});

describe("configuration", () => {
  it("accepts https anywhere and plain http only to a loopback host", () => {
    const make = (baseUrl: string) =>
      new CortexClient({ baseUrl, product: "xdr", credentials: STANDARD_KEY });
    for (const ok of [
      "https://api-acme.xdr.eu.paloaltonetworks.com",
      "http://127.0.0.1:8080",
      "http://127.9.0.1",
      "http://localhost:3000",
      "http://[::1]:3000",
    ]) {
      expect(() => make(ok)).not.toThrow();
    }
    for (const bad of [
      "http://api-acme.xdr.eu.paloaltonetworks.com",
      "http://10.0.0.5",
      "ftp://x",
      "not a url",
    ]) {
      expect(() => make(bad)).toThrow(CortexConfigurationError);
    }
    expect(() => make("https://user:pw@api-acme.xdr.eu.paloaltonetworks.com")).toThrow(/credentials/);
  });

  it("refuses Xpanse-only filters on an XDR client, in types and at run time, before any call", async () => {
    const before = server.requests.length;
    const { client } = testClient(server.url, { product: "xdr" });
    const request = client.getIncidents({
      // @ts-expect-error integration_source is an Xpanse-only field
      filters: [{ field: "integration_source", operator: "in", value: ["AWS"] }],
    });
    await expect(request).rejects.toThrow(/integration_source.*Cortex Xpanse only/);
    await client.close();
    expect(server.requests.length).toBe(before);
  });

  it("reads credentials from a provider function on every attempt", async () => {
    next = { json: { reply: { incidents: [] } } };
    let reads = 0;
    const { client } = testClient(server.url, {
      credentials: async () => {
        reads++;
        return STANDARD_KEY;
      },
    });
    await client.getIncidents({});
    await client.getIncidents({});
    await client.close();
    expect(reads).toBe(2);
  });
});
