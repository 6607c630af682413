// Every named query, run with DuckDB over an archive the real pipeline made from the emulator (the local
// runner's archive copy, as `npm start` leaves it), checked against the emulator's own version history;
// and the change event the enrichers sent for each archived version (to an in-memory target: there is no
// EventBridge to run locally).
// The tenant changes between two runs (escalation, de-escalation, resolution, reopening, a new incident),
// so the archive holds several versions of some incidents and "newest version" has to be found.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey } from "../../functions/shared/archive.ts";
import { ARCHIVE_QUERIES, findArchiveQuery, querySql } from "../../functions/shared/archive-queries.ts";
import type { ChangeEventDetail } from "../../functions/shared/change-events.ts";
import { isResolvedStatus, normalizeSeverity } from "../../functions/shared/cortex/vocabulary.ts";
import type { EmulatedIncident, IncidentVersion } from "../../local/emulator/index.ts";
import { PipelineHarness } from "../../local/pipeline-harness.ts";
import { ArchiveDatabase } from "../../local/query/archive-db.ts";

let harness: PipelineHarness;
let db: ArchiveDatabase;
let history: IncidentVersion[];
let incidents: Map<string, EmulatedIncident>;
/** Trimmed alert names of every incident's current version, as the emulator serves them. */
let alertNames: Map<string, string[]>;
const events: ChangeEventDetail[] = [];
const changed: Record<string, string> = {};

async function runPipelineOnce(): Promise<void> {
  const summary = await harness.runOnce({
    poll: harness.createPoller(),
    enricherHandlers: [harness.createEnricher(), harness.createEnricher()],
  });
  expect(summary.dead_lettered).toBe(0);
}

async function rows(name: string): Promise<Record<string, unknown>[]> {
  const query = findArchiveQuery(name);
  if (query === undefined) throw new Error(`no named query ${name}`);
  return (await db.query(querySql(query, "duckdb"))).rows;
}

/** The newest version of each incident in the emulator's history. */
function newestVersions(): Map<string, IncidentVersion> {
  const newest = new Map<string, IncidentVersion>();
  for (const version of history) {
    const seen = newest.get(version.incident_id);
    if (seen === undefined || version.modification_time > seen.modification_time)
      newest.set(version.incident_id, version);
  }
  return newest;
}

beforeAll(async () => {
  harness = await PipelineHarness.start({
    seed: 16,
    incidents: 14,
    extraDataLimit: { requests: 40, windowMs: 500 },
    functionTimeoutMs: 5_000,
    visibilityTimeoutSeconds: 5,
    enricherDeadlineMarginMs: 800,
    changeEvents: {
      put: async (entries) => {
        events.push(...entries.map((entry) => JSON.parse(entry.Detail) as ChangeEventDetail));
        return [];
      },
    },
  });
  await runPipelineOnce();
  const { control } = harness.emulator;
  const [first, second, third, fourth] = control
    .incidents()
    .filter(
      (incident) => !["critical", "low"].includes(incident.severity) && !isResolvedStatus(incident.status),
    )
    .map((incident) => incident.incident_id);
  Object.assign(changed, { escalated: first, deescalated: second, resolved: third, reopened: fourth });
  control.modifyIncident(first ?? "", { severity: "critical" });
  control.modifyIncident(second ?? "", { severity: "low" });
  control.modifyIncident(third ?? "", { status: "resolved_true_positive" });
  control.modifyIncident(fourth ?? "", { status: "resolved_false_positive" });
  control.addIncidents([{ severity: "critical" }]);
  await runPipelineOnce();
  // Reopened after a run archived its resolution, so both versions are in the archive.
  control.modifyIncident(fourth ?? "", { status: "under_investigation" });
  await runPipelineOnce();

  history = control.versions();
  incidents = new Map(control.incidents().map((incident) => [incident.incident_id, incident]));
  const client = harness.cortexClient();
  alertNames = new Map();
  for (const id of incidents.keys()) {
    const { reply } = await client.getIncidentExtraData(id, { alertsLimit: 1000 });
    const data = (reply.alerts as { data: { name: string }[] }).data;
    alertNames.set(
      id,
      data.map((alert) => alert.name.trim()),
    );
  }
  db = await ArchiveDatabase.open(harness.outDir);
}, 120_000);

afterAll(async () => {
  db?.close();
  await harness?.close();
});

describe("the named queries over a real archive, with DuckDB", () => {
  it("has every version the tenant made in the archive copy, the fourth incident's reopening included", async () => {
    const archived = (await harness.archive()).map((object) => object.key).sort();
    const expected = history
      .map((v) =>
        archiveKey(v.incident_id, incidents.get(v.incident_id)?.creation_time ?? 0, v.modification_time),
      )
      .sort();
    expect(archived).toEqual(expected);
    expect(history.length).toBeGreaterThan(incidents.size);
  });

  it("latest-versions: each incident once, at its newest modification time, with that object", async () => {
    const result = await rows("latest-versions");
    const newest = newestVersions();
    expect(result.map((row) => row.incident_id).sort()).toEqual([...newest.keys()].sort());
    for (const row of result) {
      const version = newest.get(String(row.incident_id));
      const incident = incidents.get(String(row.incident_id));
      expect(Number(row.modification_time)).toBe(version?.modification_time);
      expect(row.status).toBe(version?.status);
      expect(row.severity).toBe(normalizeSeverity(version?.severity));
      expect(String(row.object)).toMatch(
        new RegExp(
          `${archiveKey(incident?.incident_id ?? "", incident?.creation_time ?? 0, version?.modification_time ?? 0)}$`,
        ),
      );
    }
  });

  it("criticals-last-7-days: the incidents whose newest version is critical, newest first", async () => {
    const result = await rows("criticals-last-7-days");
    const expected = [...newestVersions().values()]
      .filter((version) => normalizeSeverity(version.severity) === "critical")
      .map((version) => incidents.get(version.incident_id) as EmulatedIncident)
      .sort((a, b) => b.creation_time - a.creation_time || a.incident_id.localeCompare(b.incident_id))
      .map((incident) => incident.incident_id);
    expect(expected.length).toBeGreaterThanOrEqual(2); // the escalated one and the new one at least
    expect(result.map((row) => row.incident_id)).toEqual(expected);
  });

  it("versions-per-severity-per-day: one count per UTC day and severity, adding up to every version", async () => {
    const counts = new Map<string, number>();
    for (const version of history) {
      const day = new Date(version.modification_time).toISOString().slice(0, 10);
      const key = `${day} ${normalizeSeverity(version.severity)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const result = await rows("versions-per-severity-per-day");
    expect(new Map(result.map((row) => [`${row.day} ${row.severity}`, Number(row.versions)]))).toEqual(
      counts,
    );
  });

  it("open-incidents-by-age: the unresolved ones (the reopened one included), oldest first", async () => {
    const result = await rows("open-incidents-by-age");
    const expected = [...newestVersions().values()]
      .filter((version) => !isResolvedStatus(version.status))
      .map((version) => incidents.get(version.incident_id) as EmulatedIncident)
      .sort((a, b) => a.creation_time - b.creation_time || a.incident_id.localeCompare(b.incident_id))
      .map((incident) => incident.incident_id);
    expect(result.map((row) => row.incident_id)).toEqual(expected);
    const ages = result.map((row) => Number(row.age_days));
    expect(ages.every((age, i) => age >= 0 && age >= (ages[i + 1] ?? 0))).toBe(true);
  });

  it("top-hosts: incidents and open incidents per host name, most first", async () => {
    const expected = new Map<string, { incidents: number; open: number }>();
    for (const incident of incidents.values()) {
      for (const name of new Set((incident.hosts as string[]).map((host) => host.split(":")[0] ?? ""))) {
        const entry = expected.get(name) ?? { incidents: 0, open: 0 };
        entry.incidents += 1;
        if (!isResolvedStatus(incident.status)) entry.open += 1;
        expected.set(name, entry);
      }
    }
    const result = await rows("top-hosts");
    expect(expected.size).toBeGreaterThan(0);
    expect(result.length).toBe(Math.min(20, expected.size));
    for (const row of result) {
      const entry = expected.get(String(row.host_name));
      expect([Number(row.incidents), Number(row.open_incidents)]).toEqual([entry?.incidents, entry?.open]);
    }
    const counts = result.map((row) => Number(row.incidents));
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
  });

  it("top-alert-names: alerts and incidents per trimmed alert name, most first", async () => {
    const expected = new Map<string, { alerts: number; incidents: Set<string> }>();
    for (const [id, names] of alertNames) {
      for (const name of names) {
        const entry = expected.get(name) ?? { alerts: 0, incidents: new Set<string>() };
        entry.alerts += 1;
        entry.incidents.add(id);
        expected.set(name, entry);
      }
    }
    const result = await rows("top-alert-names");
    expect(result.length).toBe(Math.min(20, expected.size));
    for (const row of result) {
      const entry = expected.get(String(row.alert_name));
      expect([Number(row.alerts), Number(row.incidents)]).toEqual([entry?.alerts, entry?.incidents.size]);
    }
  });

  it("sent one change event per archived version, each kind judged against the version before", () => {
    expect(events.map((event) => event.version_id).sort()).toEqual(
      history.map((version) => `${version.incident_id}:${version.modification_time}`).sort(),
    );
    const kindsOf = (id: string | undefined) =>
      events
        .filter((event) => event.incident_id === id)
        .sort((a, b) => a.modification_time - b.modification_time)
        .map((event) => event.change);
    expect(kindsOf(changed.escalated)).toEqual(["created", "escalated"]);
    expect(kindsOf(changed.deescalated)).toEqual(["created", "deescalated"]);
    expect(kindsOf(changed.resolved)).toEqual(["created", "resolved"]);
    expect(kindsOf(changed.reopened)).toEqual(["created", "resolved", "reopened"]);
    const escalation = events.find(
      (event) => event.incident_id === changed.escalated && event.change === "escalated",
    );
    expect(escalation).toMatchObject({ severity: "critical", previous: { status: expect.any(String) } });
    expect(escalation?.archive.key).toMatch(
      new RegExp(`/${changed.escalated}/${escalation?.modification_time}\\.json\\.gz$`),
    );
  });

  it("runs every named query (none is left untested above)", () => {
    const tested = [
      "latest-versions",
      "criticals-last-7-days",
      "versions-per-severity-per-day",
      "open-incidents-by-age",
      "top-hosts",
      "top-alert-names",
    ];
    expect(ARCHIVE_QUERIES.map((query) => query.name).sort()).toEqual(tested.sort());
  });
});
