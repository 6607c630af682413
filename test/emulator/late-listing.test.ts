// get_incidents as a search index that can trail the tenant (API-FACTS "Late listing"), and the listing
// faults the poller must survive: raw HTTP only, with one injected clock.
import { afterEach, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { EXTRA_DATA_PATH, getIncidents, post, standardHeaders } from "./raw-http.ts";

const T = Date.UTC(2026, 2, 1, 9, 0, 0);
const MINUTE = 60_000;

const emulators: CortexEmulator[] = [];
afterEach(async () => {
  for (const emulator of emulators.splice(0)) await emulator.close();
});

async function tenant(seed = "late", incidents = 0) {
  let now = T;
  const emulator = await startCortexEmulator({
    seed,
    incidents,
    now: () => now,
    rateLimits: { tenant: { requests: 100_000, windowMs: 1000 } },
  });
  emulators.push(emulator);
  const listed = async (requestData: Record<string, unknown> = {}) =>
    (
      await getIncidents(emulator.url, emulator.keys.standard, {
        sort: { field: "modification_time", keyword: "asc" },
        ...requestData,
      })
    ).incidents;
  const timeOf = async (id: string) =>
    (await listed({ filters: [{ field: "incident_id_list", operator: "in", value: [id] }] }))[0]
      ?.modification_time;
  return {
    emulator,
    listed,
    timeOf,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("Cortex emulator: late listing", () => {
  it("lists a delayed change only from modification_time + delay, the previous version until then", async () => {
    const { emulator, timeOf, advance } = await tenant();
    const [incident] = emulator.control.addIncidents(1);
    const id = incident?.incident_id ?? "";
    advance(1_000);
    const changed = emulator.control.modifyIncident(id, {
      status: "under_investigation",
      listingDelayMs: 2 * MINUTE,
    });

    expect(await timeOf(id)).toBe(incident?.modification_time);
    advance(2 * MINUTE - 1);
    expect(await timeOf(id)).toBe(incident?.modification_time);
    advance(1);
    expect(await timeOf(id)).toBe(changed.modification_time);
    expect(emulator.control.versions().at(-1)).toMatchObject({
      incident_id: id,
      modification_time: changed.modification_time,
      listing_delay_ms: 2 * MINUTE,
    });
  });

  it("does not list a late new incident at all until it is due, while extra data already serves it", async () => {
    const { emulator, listed, advance } = await tenant();
    const [late] = emulator.control.addIncidents(1, { listingDelayMs: 30_000 });
    const id = late?.incident_id ?? "";
    expect((await listed()).map((i) => i.incident_id)).not.toContain(id);
    const extra = await post(
      emulator.url,
      EXTRA_DATA_PATH,
      { request_data: { incident_id: id } },
      standardHeaders(emulator.keys.standard),
    );
    expect(extra.status).toBe(200);
    advance(30_000);
    expect((await listed()).map((i) => i.incident_id)).toContain(id);
  });

  it("never lists an older version once a newer one is indexed", async () => {
    const { emulator, timeOf, advance } = await tenant();
    const id = emulator.control.addIncidents(1)[0]?.incident_id ?? "";
    advance(1_000);
    emulator.control.modifyIncident(id, { addAlerts: 1, listingDelayMs: 4 * MINUTE });
    advance(1_000);
    const newest = emulator.control.modifyIncident(id, { addAlerts: 1, listingDelayMs: 0 });
    expect(await timeOf(id)).toBe(newest.modification_time);
    advance(5 * MINUTE);
    expect(await timeOf(id)).toBe(newest.modification_time);
  });

  it("keeps listing a late change's previous version to modification_time filters", async () => {
    const { emulator, listed, advance } = await tenant();
    const id = emulator.control.addIncidents(1)[0]?.incident_id ?? "";
    advance(10_000);
    const changed = emulator.control.modifyIncident(id, { addAlerts: 2, listingDelayMs: MINUTE });
    const since = {
      filters: [{ field: "modification_time", operator: "gte", value: changed.modification_time }],
    };
    expect(await listed(since)).toEqual([]);
    advance(MINUTE);
    expect((await listed(since)).map((i) => i.incident_id)).toEqual([id]);
  });

  it("delays a share of live changes with the lateListing fault, the same ones for the same seed", async () => {
    const delays = async () => {
      const { emulator, advance } = await tenant("late-fault", 50);
      emulator.control.setFaults({ lateListing: { rate: 0.3, delayMs: [30_000, 4 * MINUTE] } });
      const ids = emulator.control.incidents().map((i) => i.incident_id);
      for (let i = 0; i < 100; i++) {
        advance(1_000);
        emulator.control.modifyIncident(ids[i % ids.length] ?? "");
      }
      emulator.control.clearFaults();
      return emulator.control
        .versions()
        .slice(50)
        .map((v) => v.listing_delay_ms ?? 0);
    };
    const first = await delays();
    expect(await delays()).toEqual(first);
    const late = first.filter((ms) => ms > 0);
    expect(late.length).toBeGreaterThan(15);
    expect(late.length).toBeLessThan(45);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(30_000);
    expect(Math.max(...late)).toBeLessThanOrEqual(4 * MINUTE);
  });

  it("takes a listing delay through the control API over HTTP", async () => {
    const { emulator, advance } = await tenant();
    const added = await post(emulator.url, "/_emulator/incidents", { count: 1, listingDelayMs: 5_000 }, {});
    const id = added.json()[0].incident_id;
    const listedIds = async () =>
      (await post(emulator.url, "/_emulator/listed", undefined, {}, "GET"))
        .json()
        .map((i: { incident_id: string }) => i.incident_id);
    expect(await listedIds()).not.toContain(id);
    advance(5_000);
    expect(await listedIds()).toContain(id);
  });
});

describe("Cortex emulator: listing faults", () => {
  it("lists chosen incidents without a numeric modification_time, missing or as a string", async () => {
    const { emulator, listed } = await tenant("malformed", 5);
    const [bad, other] = emulator.control.incidents().map((i) => i.incident_id);
    emulator.control.setFaults({
      malformedListing: { incidentIds: [bad ?? ""], modificationTime: "missing" },
    });
    const items = await listed();
    expect(items.find((i) => i.incident_id === bad)).not.toHaveProperty("modification_time");
    expect(typeof items.find((i) => i.incident_id === other)?.modification_time).toBe("number");
    emulator.control.setFaults({
      malformedListing: { incidentIds: [bad ?? ""], modificationTime: "string" },
    });
    expect(typeof (await listed()).find((i) => i.incident_id === bad)?.modification_time).toBe("string");
  });

  it("leaves restricted incidents out and names them in restricted_incident_ids", async () => {
    const { emulator } = await tenant("restricted", 5);
    const [hidden] = emulator.control.incidents().map((i) => i.incident_id);
    emulator.control.setFaults({ restrictedIncidentIds: [hidden ?? ""] });
    const reply = (await getIncidents(emulator.url, emulator.keys.standard, {})) as {
      incidents: { incident_id: string }[];
      restricted_incident_ids?: string[];
    };
    expect(reply.incidents.map((i) => i.incident_id)).not.toContain(hidden);
    expect(reply.incidents).toHaveLength(4);
    expect(reply.restricted_incident_ids).toEqual([hidden]);
  });

  it("lists a stale copy of an incident at its previous modification_time beside the current one", async () => {
    const { emulator, listed, advance } = await tenant("stale");
    const first = emulator.control.addIncidents(1)[0];
    const id = first?.incident_id ?? "";
    advance(1_000);
    const current = emulator.control.modifyIncident(id, { addAlerts: 1 });
    emulator.control.setFaults({ staleListing: [id] });
    const times = (await listed()).filter((i) => i.incident_id === id).map((i) => i.modification_time);
    expect(times).toEqual([first?.modification_time, current.modification_time]);
  });
});
