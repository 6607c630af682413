import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { getIncidents, INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

const T = Date.UTC(2026, 0, 15, 12, 0, 0);

/** Ten incidents whose fields the filter tests can reason about without reading the generator. */
const FIXTURE = [
  { creation_time: T + 1, modification_time: T + 50, status: "new", description: "Phishing email opened" },
  {
    creation_time: T + 2,
    modification_time: T + 40,
    status: "under_investigation",
    description: "Port scan",
  },
  {
    creation_time: T + 3,
    modification_time: T + 30,
    status: "resolved_false_positive",
    description: "Port scan",
  },
  {
    creation_time: T + 4,
    modification_time: T + 30,
    status: "resolved_threat_handled",
    description: "Ransomware",
  },
  {
    creation_time: T + 5,
    modification_time: T + 30,
    status: "resolved_auto_resolve",
    description: "DNS tunnel",
  },
  { creation_time: T + 5, modification_time: T + 20, status: "new", description: "phishing link clicked" },
  { creation_time: T + 7, modification_time: T + 10, status: "new", description: "Credential dumping" },
  {
    creation_time: T + 8,
    modification_time: T + 60,
    status: "under_investigation",
    description: "Lateral movement",
  },
  { creation_time: T + 9, modification_time: T + 70, status: "new", description: "Exfiltration" },
  { creation_time: T + 10, modification_time: T + 80, status: "resolved_other", description: "Port scan" },
].map((incident, i) => ({
  ...incident,
  incident_sources: i % 2 === 0 ? ["XDR Agent"] : ["PAN NGFW"],
  cloud_management_status: i < 5 ? "Managed Cloud" : "Unmanaged Cloud",
  integration_source: i < 3 ? "AWS" : "AZURE",
  starred: i === 0,
}));

describe("Cortex emulator: get_incidents filters, sort and paging", () => {
  let xdr: CortexEmulator;
  let xpanse: CortexEmulator;
  let ids: string[];
  const ask = (requestData: Record<string, unknown>) => getIncidents(xdr.url, xdr.keys.standard, requestData);
  const idsOf = (reply: { incidents: { incident_id: string }[] }) =>
    reply.incidents.map((i) => i.incident_id);
  const byIndex = (...indexes: number[]) => indexes.map((i) => ids[i]);

  beforeAll(async () => {
    const options = {
      seed: "query",
      incidents: 0,
      rateLimits: { tenant: { requests: 10_000, windowMs: 1000 } },
    };
    xdr = await startCortexEmulator(options);
    xpanse = await startCortexEmulator({ ...options, product: "xpanse" });
    ids = xdr.control.addIncidents(FIXTURE).map((incident) => incident.incident_id);
    xpanse.control.addIncidents(FIXTURE);
  });
  afterAll(async () => {
    await xdr.close();
    await xpanse.close();
  });

  const filter = (field: string, operator: string, value: unknown) => ({
    filters: [{ field, operator, value }],
  });
  const ascById = { sort: { field: "incident_id", keyword: "asc" } };

  it("returns everything for an empty request_data, newest creation first by default", async () => {
    const reply = await ask({});
    expect(reply.total_count).toBe(10);
    expect(reply.result_count).toBe(10);
    const creationTimes = reply.incidents.map((i) => i.creation_time);
    expect(creationTimes).toEqual([...creationTimes].sort((a, b) => b - a));
  });

  it("filters incident_id_list with in", async () => {
    const reply = await ask({ ...filter("incident_id_list", "in", byIndex(1, 4, 9)), ...ascById });
    expect(idsOf(reply)).toEqual(byIndex(1, 4, 9));
  });

  it("filters alert_sources with in", async () => {
    const reply = await ask({ ...filter("alert_sources", "in", ["PAN NGFW"]), ...ascById });
    expect(idsOf(reply)).toEqual(byIndex(1, 3, 5, 7, 9));
  });

  it("filters description with in (exact) and contains (case-insensitive substring)", async () => {
    expect(idsOf(await ask({ ...filter("description", "in", ["Port scan"]), ...ascById }))).toEqual(
      byIndex(1, 2, 9),
    );
    expect(idsOf(await ask({ ...filter("description", "contains", "phishing"), ...ascById }))).toEqual(
      byIndex(0, 5),
    );
  });

  it("filters creation_time and modification_time with gte and lte, bounds included", async () => {
    const created = await ask({ ...filter("creation_time", "gte", T + 5), ...ascById });
    expect(idsOf(created)).toEqual(byIndex(4, 5, 6, 7, 8, 9));
    const modified = await ask({ ...filter("modification_time", "lte", T + 30), ...ascById });
    expect(idsOf(modified)).toEqual(byIndex(2, 3, 4, 5, 6));
  });

  it("matches every resolved_* form with status eq resolved, and excludes them with neq", async () => {
    expect(idsOf(await ask({ ...filter("status", "eq", "resolved"), ...ascById }))).toEqual(
      byIndex(2, 3, 4, 9),
    );
    expect(idsOf(await ask({ ...filter("status", "neq", "resolved"), ...ascById }))).toEqual(
      byIndex(0, 1, 5, 6, 7, 8),
    );
    expect(idsOf(await ask({ ...filter("status", "eq", "new"), ...ascById }))).toEqual(byIndex(0, 5, 6, 8));
  });

  it("combines filters with AND", async () => {
    const reply = await ask({
      filters: [
        { field: "modification_time", operator: "gte", value: T + 30 },
        { field: "modification_time", operator: "lte", value: T + 60 },
        { field: "status", operator: "eq", value: "resolved" },
        { field: "alert_sources", operator: "in", value: ["XDR Agent"] },
      ],
      ...ascById,
    });
    expect(idsOf(reply)).toEqual(byIndex(2, 4));
  });

  it("sorts on each allowed field with the keyword in either case", async () => {
    for (const keyword of ["ASC", "asc"]) {
      const reply = await ask({ sort: { field: "modification_time", keyword } });
      const times = reply.incidents.map((i) => i.modification_time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    for (const keyword of ["DESC", "desc"]) {
      const reply = await ask({ sort: { field: "incident_id", keyword } });
      expect(idsOf(reply)).toEqual([...ids].reverse());
    }
    const byCreation = await ask({ sort: { field: "creation_time", keyword: "asc" } });
    expect(byCreation.incidents.map((i) => i.creation_time)).toEqual(FIXTURE.map((i) => i.creation_time));
  });

  it("orders incidents with equal sort keys by incident id, whatever the direction", async () => {
    const asc = await ask({
      ...filter("modification_time", "lte", T + 30),
      sort: { field: "modification_time", keyword: "asc" },
    });
    expect(idsOf(asc)).toEqual(byIndex(6, 5, 2, 3, 4));
    const desc = await ask({
      ...filter("modification_time", "lte", T + 30),
      sort: { field: "modification_time", keyword: "desc" },
    });
    expect(idsOf(desc)).toEqual(byIndex(2, 3, 4, 5, 6));
  });

  it("pages with search_from/search_to: total_count counts all matches, result_count this page", async () => {
    const page = await ask({ search_from: 3, search_to: 7, ...ascById });
    expect(page).toMatchObject({ total_count: 10, result_count: 4 });
    expect(idsOf(page)).toEqual(byIndex(3, 4, 5, 6));
    const past = await ask({ search_from: 20, search_to: 30 });
    expect(past).toMatchObject({ total_count: 10, result_count: 0, incidents: [] });
  });

  it("returns incident_id as a string and keeps the flat shape", async () => {
    const [first] = (await ask({ search_to: 1 })).incidents;
    expect(typeof first?.incident_id).toBe("string");
    expect(first).not.toHaveProperty("alerts");
  });

  it.each([
    ["an unknown field", { field: "severity", operator: "eq", value: "high" }],
    ["an operator the field does not take", { field: "creation_time", operator: "in", value: [T] }],
    ["contains on incident_id_list", { field: "incident_id_list", operator: "contains", value: "1" }],
    [
      "an Xpanse-only field on XDR",
      { field: "cloud_management_status", operator: "in", value: ["Managed Cloud"] },
    ],
    ["a non-numeric timestamp", { field: "modification_time", operator: "gte", value: "yesterday" }],
    ["an unknown status", { field: "status", operator: "eq", value: "closed" }],
    [
      "more than 100 ids",
      { field: "incident_id_list", operator: "in", value: Array.from({ length: 101 }, (_, i) => String(i)) },
    ],
  ])("XDR answers 500 with the generic envelope for %s", async (_name, badFilter) => {
    const answer = await post(
      xdr.url,
      INCIDENTS_PATH,
      { request_data: { filters: [badFilter] } },
      standardHeaders(xdr.keys.standard),
    );
    expect(answer.status).toBe(500);
    const { reply } = answer.json();
    expect(reply.err_code).toBe(500);
    expect(reply.err_msg).toBe("An error occurred while processing XDR public API");
    expect(typeof reply.err_extra).toBe("string");
  });

  it("XDR answers 500 for a sort field or keyword outside the enum", async () => {
    const headers = standardHeaders(xdr.keys.standard);
    for (const sort of [
      { field: "severity", keyword: "asc" },
      { field: "creation_time", keyword: "up" },
    ]) {
      expect((await post(xdr.url, INCIDENTS_PATH, { request_data: { sort } }, headers)).status).toBe(500);
    }
  });

  it("Xpanse answers 422 {code, status, message, errors} for an invalid filter", async () => {
    const body = {
      request_data: { filters: [{ field: "creation_time", operator: "contains", value: "x" }] },
    };
    const answer = await post(xpanse.url, INCIDENTS_PATH, body, standardHeaders(xpanse.keys.standard));
    expect(answer.status).toBe(422);
    const json = answer.json();
    expect(json).toMatchObject({ code: 422, status: "Unprocessable Entity" });
    expect(typeof json.message).toBe("string");
    expect(json.errors).toHaveProperty("creation_time");
  });

  it("Xpanse filters on its own fields and carries its fields and restricted_incident_ids", async () => {
    const key = xpanse.keys.standard;
    const managed = await getIncidents(
      xpanse.url,
      key,
      filter("cloud_management_status", "in", ["Managed Cloud"]),
    );
    expect(managed.total_count).toBe(5);
    const aws = await getIncidents(xpanse.url, key, filter("integration_source", "in", ["AWS"]));
    expect(aws.total_count).toBe(3);
    const starred = await getIncidents(xpanse.url, key, filter("starred", "eq", true));
    expect(starred.total_count).toBe(1);
    const one = await getIncidents(
      xpanse.url,
      key,
      filter("incident_id", "eq", managed.incidents[0]?.incident_id),
    );
    expect(one.total_count).toBe(1);
    const reply = (await post(xpanse.url, INCIDENTS_PATH, { request_data: {} }, standardHeaders(key))).json()
      .reply;
    expect(reply.restricted_incident_ids).toEqual([]);
    for (const field of [
      "xpanse_risk_score",
      "xpanse_risk_explainer",
      "ipv4_addresses",
      "asset_ids",
      "last_observed",
    ]) {
      expect(reply.incidents[0]).toHaveProperty(field);
    }
  });
});

describe("Cortex emulator: the 100-incident page limit", () => {
  let emulator: CortexEmulator;
  beforeAll(async () => {
    emulator = await startCortexEmulator({ seed: "paging", incidents: 250 });
  });
  afterAll(() => emulator.close());

  it("caps a window wider than 100 to its first 100 incidents instead of rejecting it", async () => {
    const reply = await getIncidents(emulator.url, emulator.keys.standard, {
      search_from: 0,
      search_to: 250,
    });
    expect(reply.total_count).toBe(250);
    expect(reply.result_count).toBe(100);
    expect(reply.incidents).toHaveLength(100);
  });

  it("defaults to the first 100 when search_to is absent", async () => {
    const reply = await getIncidents(emulator.url, emulator.keys.standard, { search_from: 200 });
    expect(reply).toMatchObject({ total_count: 250, result_count: 50 });
  });

  it("walks every incident exactly once with offset pages when nothing changes", async () => {
    const seen: string[] = [];
    for (let from = 0; from < 250; from += 100) {
      const reply = await getIncidents(emulator.url, emulator.keys.standard, {
        search_from: from,
        search_to: from + 100,
        sort: { field: "modification_time", keyword: "asc" },
      });
      seen.push(...reply.incidents.map((incident) => incident.incident_id));
    }
    expect(new Set(seen).size).toBe(250);
    expect(seen).toHaveLength(250);
  });
});
