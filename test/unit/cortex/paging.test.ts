// The keyset walk against a tiny in-test tenant that implements get_incidents filters (in, gte, lte, eq,
// neq), sort and search_from/search_to over an in-memory list, breaking ties in a different random order
// on every request as a real tenant may.
import { afterEach, describe, expect, it } from "vitest";
import type { IncidentCursor, IncidentPage } from "../../../functions/shared/cortex/api.ts";
import { type CortexApiError, isCortexError } from "../../../functions/shared/cortex/errors.ts";
import {
  type FakeCortex,
  incident,
  incidentsReply,
  type RecordedRequest,
  startFakeCortex,
  testClient,
} from "./fake-cortex-server.ts";

interface StoredIncident {
  incident_id: string;
  modification_time: number;
  creation_time: number;
  severity: string;
  status: string;
}

interface Filter {
  field: keyof StoredIncident | "incident_id_list";
  operator: string;
  value: unknown;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure replays. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class FakeTenant {
  readonly incidents = new Map<string, StoredIncident>();
  readonly #random: () => number;
  /** Runs before each get_incidents is answered: the place to modify incidents mid-walk. */
  beforeAnswer: (request: RecordedRequest, index: number) => void = () => {};

  constructor(seed: number) {
    this.#random = seeded(seed);
  }

  add(id: string, modificationTime: number): void {
    this.incidents.set(id, incident(id, modificationTime) as StoredIncident);
  }

  modify(id: string, modificationTime: number): void {
    const stored = this.incidents.get(id);
    if (stored) stored.modification_time = modificationTime;
  }

  answer(request: RecordedRequest, index: number): StoredIncident[] {
    this.beforeAnswer(request, index);
    const data = request.body.request_data as {
      filters: Filter[];
      sort?: { field: keyof StoredIncident; keyword: string };
      search_from: number;
      search_to: number;
    };
    const rows = [...this.incidents.values()]
      .filter((row) => data.filters.every((filter) => this.#matches(row, filter)))
      .map((row) => ({ row, tie: this.#random() }));
    const sort = data.sort ?? { field: "creation_time", keyword: "desc" };
    const direction = sort.keyword.toLowerCase() === "asc" ? 1 : -1;
    rows.sort((a, b) => {
      const left = a.row[sort.field];
      const right = b.row[sort.field];
      const order =
        sort.field === "incident_id" ? Number(left) - Number(right) : (left as number) - (right as number);
      return order !== 0 ? direction * order : a.tie - b.tie;
    });
    return rows.slice(data.search_from, data.search_to).map(({ row }) => ({ ...row }));
  }

  #matches(row: StoredIncident, filter: Filter): boolean {
    if (filter.field === "incident_id_list") return (filter.value as string[]).includes(row.incident_id);
    const value = row[filter.field];
    switch (filter.operator) {
      case "gte":
        return (value as number) >= (filter.value as number);
      case "lte":
        return (value as number) <= (filter.value as number);
      case "eq":
        return value === filter.value;
      case "neq":
        return value !== filter.value;
      case "in":
        return (filter.value as unknown[]).includes(value);
      default:
        throw new Error(`fake tenant: unsupported operator ${filter.operator}`);
    }
  }
}

let server: FakeCortex | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serveTenant(tenant: FakeTenant): Promise<FakeCortex> {
  server = await startFakeCortex((request, index) => ({
    json: incidentsReply(tenant.answer(request, index)),
  }));
  return server;
}

async function walk(
  url: string,
  cursor: IncidentCursor,
  options: Parameters<ReturnType<typeof testClient>["client"]["incidentsModifiedSince"]>[1] = {},
  now?: () => number,
): Promise<IncidentPage[]> {
  const { client } = testClient(url, now ? { now } : {});
  const pages: IncidentPage[] = [];
  try {
    for await (const page of client.incidentsModifiedSince(cursor, options)) pages.push(page);
  } finally {
    await client.close();
  }
  return pages;
}

const START: IncidentCursor = { modificationTime: 0, idsAtCursor: [] };
const versions = (pages: IncidentPage[]) =>
  pages.flatMap((page) => page.incidents.map((i) => `${i.incident_id}@${i.modification_time}`));

/** 30 incidents before ms 1000, 250 sharing ms 1000, 120 after. */
function crowdedTenant(seed: number): FakeTenant {
  const tenant = new FakeTenant(seed);
  let id = 1;
  for (let ms = 1; ms <= 30; ms++) tenant.add(String(id++), ms);
  for (let n = 0; n < 250; n++) tenant.add(String(id++), 1_000);
  for (let ms = 2_000; ms < 2_120; ms++) tenant.add(String(id++), ms);
  return tenant;
}

describe("incidentsModifiedSince", () => {
  it("does not lose or repeat incidents when 250 share one millisecond", async () => {
    const tenant = crowdedTenant(1);
    const fake = await serveTenant(tenant);
    const pages = await walk(fake.url, START);

    const seen = versions(pages);
    expect(seen).toHaveLength(400);
    expect(new Set(seen).size).toBe(400);
    expect(new Set(pages.flatMap((p) => p.incidents.map((i) => i.incident_id)))).toEqual(
      new Set(tenant.incidents.keys()),
    );
    // The cursor saved after the crowded millisecond names it and all 250 ids: never 1001.
    const crowded = pages.find(
      (p) => p.cursor.modificationTime === 1_000 && p.cursor.idsAtCursor.length === 250,
    );
    expect(crowded).toBeDefined();
    expect(pages.some((p) => p.cursor.modificationTime === 1_001)).toBe(false);
    expect(pages.at(-1)?.cursor).toEqual({ modificationTime: 2_119, idsAtCursor: ["400"] });
  });

  it("resumes from any saved cursor without losing or repeating an incident", async () => {
    const tenant = crowdedTenant(2);
    const fake = await serveTenant(tenant);
    const pages = await walk(fake.url, START);
    expect(pages.length).toBeGreaterThan(3);
    for (const [index, page] of pages.entries()) {
      const before = versions(pages.slice(0, index + 1));
      const after = versions(await walk(fake.url, page.cursor));
      expect(new Set([...before, ...after]).size).toBe(400);
      expect(before.length + after.length).toBe(400);
    }
  });

  it("yields only the unseen rest of a crowded millisecond when resuming inside it", async () => {
    const tenant = crowdedTenant(3);
    const fake = await serveTenant(tenant);
    const seenAtCrowd = Array.from({ length: 70 }, (_, n) => String(31 + n * 2));
    const pages = await walk(fake.url, { modificationTime: 1_000, idsAtCursor: seenAtCrowd });
    const ids = pages.flatMap((p) => p.incidents.map((i) => i.incident_id));
    expect(ids).toHaveLength(180 + 120);
    expect(ids.some((id) => seenAtCrowd.includes(id))).toBe(false);
    expect(ids.some((id) => Number(id) <= 30)).toBe(false);
  });

  it("yields every incident's latest version when incidents are modified while it pages", async () => {
    const tenant = new FakeTenant(4);
    // 600 incidents over 200 ms (three per ms) plus 150 sharing ms 500.
    for (let n = 0; n < 600; n++) tenant.add(String(n + 1), 1 + Math.floor(n / 3));
    for (let n = 0; n < 150; n++) tenant.add(String(1_000 + n), 500);
    const random = seeded(99);
    let clock = 10_000;
    let requests = 0;
    tenant.beforeAnswer = () => {
      // During the first 12 requests, modify 6 random incidents each time (seen and unseen alike,
      // crowded-millisecond ones included): each moves to a later millisecond.
      if (++requests > 12) return;
      const ids = [...tenant.incidents.keys()];
      for (let n = 0; n < 6; n++) tenant.modify(ids[Math.floor(random() * ids.length)] as string, clock++);
    };
    const fake = await serveTenant(tenant);
    const pages = await walk(fake.url, START);

    const seen = versions(pages);
    expect(new Set(seen).size).toBe(seen.length);
    for (const stored of tenant.incidents.values()) {
      expect(seen).toContain(`${stored.incident_id}@${stored.modification_time}`);
    }
    // Every page moves forward: no yielded version is older than the cursor before it.
    let previous = START.modificationTime;
    for (const page of pages) {
      for (const i of page.incidents) expect(i.modification_time).toBeGreaterThanOrEqual(previous);
      previous = page.cursor.modificationTime;
    }
  });

  it("keeps draining a crowded millisecond correctly while some of it moves away", async () => {
    const tenant = new FakeTenant(5);
    for (let n = 0; n < 300; n++) tenant.add(String(n + 1), 700);
    let clock = 5_000;
    tenant.beforeAnswer = (request) => {
      const data = request.body.request_data as { sort?: { field: string } };
      // While the drain pages by id, move the 8 lowest ids (already returned) out of the millisecond before
      // each page: every later offset shifts down by 8, which only overlapping pages survive.
      if (data.sort?.field !== "incident_id") return;
      const atMs = [...tenant.incidents.values()].filter((i) => i.modification_time === 700);
      for (const moved of atMs.slice(0, 8)) tenant.modify(moved.incident_id, clock++);
    };
    const fake = await serveTenant(tenant);
    const seen = versions(await walk(fake.url, START));
    expect(new Set(seen).size).toBe(seen.length);
    for (const stored of tenant.incidents.values()) {
      expect(seen).toContain(`${stored.incident_id}@${stored.modification_time}`);
    }
  });

  it("fails instead of looping forever when the tenant ignores search_from in a crowded millisecond", async () => {
    const same = Array.from({ length: 100 }, (_, n) => incident(String(n + 1), 42));
    server = await startFakeCortex(() => ({ json: incidentsReply(same) }));
    const error = (await walk(server.url, START).catch((e: unknown) => e)) as CortexApiError;
    expect(isCortexError(error, "unparseable_reply")).toBe(true);
    expect(error.message).toContain("search_from 90");
    // One walk page, then drain pages at offsets 0 and 90; the second adds nothing new.
    expect(server.requests).toHaveLength(3);
  });

  it("fails instead of skipping incidents when the tenant ignores the sort", async () => {
    server = await startFakeCortex(() => ({ json: incidentsReply([incident("1", 9), incident("2", 3)]) }));
    const error = (await walk(server.url, START).catch((e: unknown) => e)) as CortexApiError;
    expect(isCortexError(error, "unparseable_reply")).toBe(true);
    expect(error.message).toContain("ignored sort");
  });

  it("ANDs configured filters with the cursor filter and sorts by modification_time ascending", async () => {
    const tenant = new FakeTenant(6);
    for (let n = 0; n < 10; n++) tenant.add(String(n + 1), 100 + n);
    tenant.modify("3", 100 + 2);
    (tenant.incidents.get("3") as StoredIncident).status = "resolved_known_issue";
    const fake = await serveTenant(tenant);
    const pages = await walk(fake.url, START, {
      filters: [{ field: "status", operator: "neq", value: "resolved_known_issue" }],
    });
    expect(versions(pages)).not.toContain("3@102");
    expect(versions(pages)).toHaveLength(9);
    expect(fake.requests[0]?.body.request_data).toEqual({
      filters: [
        { field: "status", operator: "neq", value: "resolved_known_issue" },
        { field: "modification_time", operator: "gte", value: 0 },
      ],
      sort: { field: "modification_time", keyword: "asc" },
      search_from: 0,
      search_to: 100,
    });
  });

  it("rejects an invalid configured filter before sending anything", async () => {
    const fake = await serveTenant(new FakeTenant(7));
    const error = (await walk(fake.url, START, {
      filters: [{ field: "cloud_management_status", operator: "in", value: ["Managed Cloud"] }],
    }).catch((e: unknown) => e)) as CortexApiError;
    expect(isCortexError(error, "invalid_request")).toBe(true);
    expect(error.message).toContain("cloud_management_status");
    expect(fake.requests).toHaveLength(0);
  });

  it("stops without error at the deadline, and the last cursor resumes where it stopped", async () => {
    const tenant = crowdedTenant(8);
    const fake = await serveTenant(tenant);
    let clock = Date.parse("2026-11-21T05:00:00Z");
    const deadline = clock + 25_000;
    // Each page request the tenant answers takes ten seconds of the injected clock.
    tenant.beforeAnswer = () => {
      clock += 10_000;
    };
    const first = await walk(fake.url, START, { deadline }, () => clock);
    expect(fake.requests).toHaveLength(3);
    expect(versions(first).length).toBeGreaterThan(0);
    expect(versions(first).length).toBeLessThan(400);
    const rest = await walk(fake.url, first.at(-1)?.cursor ?? START);
    const all = [...versions(first), ...versions(rest)];
    expect(all).toHaveLength(400);
    expect(new Set(all).size).toBe(400);
  });
});
