// The named queries over the archive table (archive-table.ts), in one place: the stack makes each an Athena
// named query (lib/pipeline/analytics.ts) and `npm run query` runs the same text on DuckDB (local/query/).
// Written in the SQL both engines share; DuckDB gets two Trino functions as macros (DUCKDB_TRINO_MACROS).
// A query that cannot be shared keeps its two forms side by side, and the tests run the DuckDB one.
import { ARCHIVE_TABLE, CREATION_DATE_PARTITION } from "./archive-table.ts";
import { INCIDENT_SEVERITIES, SEVERITY_RANK } from "./cortex/vocabulary.ts";

export interface ArchiveQuery {
  name: string;
  description: string;
  /** One text for both engines, or the two forms where they differ. */
  sql: string | { athena: string; duckdb: string };
}

export type QueryEngine = "athena" | "duckdb";

export function querySql(query: ArchiveQuery, engine: QueryEngine): string {
  return typeof query.sql === "string" ? query.sql : query.sql[engine];
}

/** Trino functions the queries use that DuckDB spells differently; run before any query on DuckDB. */
export const DUCKDB_TRINO_MACROS = [
  "CREATE OR REPLACE MACRO from_unixtime(seconds) AS to_timestamp(seconds)",
  "CREATE OR REPLACE MACRO date_format(value, format) AS strftime(value, format)",
];

// --- The vocabulary's rules (functions/shared/cortex/vocabulary.ts) as SQL, generated so they cannot drift.

/** normalizeSeverity: any case, either spelling (SEV_050_CRITICAL), `info` for informational; NULL otherwise. */
export function severityNameSql(value: string): string {
  const bare = `regexp_replace(lower(trim(${value})), '^sev_[0-9]{3}_', '')`;
  const names = INCIDENT_SEVERITIES.map((s) => `WHEN '${s}' THEN '${s}'`).join(" ");
  return `(CASE ${bare} ${names} WHEN 'info' THEN 'informational' END)`;
}

/** SEVERITY_RANK of a value; -1 when it names no severity the pipeline knows. */
export function severityRankSql(value: string): string {
  const ranks = INCIDENT_SEVERITIES.map((s) => `WHEN '${s}' THEN ${SEVERITY_RANK[s]}`).join(" ");
  return `(CASE ${severityNameSql(value)} ${ranks} ELSE -1 END)`;
}

/** effectiveSeverity: the higher of `severity` and `manual_severity`, named as the vocabulary names it. */
export function effectiveSeveritySql(incident: string): string {
  const detected = `${incident}.severity`;
  const manual = `${incident}.manual_severity`;
  return `(CASE WHEN ${severityRankSql(manual)} > ${severityRankSql(detected)} THEN ${severityNameSql(manual)} ELSE coalesce(${severityNameSql(detected)}, ${detected}) END)`;
}

/** isResolvedStatus: resolved, resolved_*, in either spelling (STATUS_025_RESOLVED). */
export function resolvedStatusSql(status: string): string {
  const bare = `regexp_replace(lower(trim(${status})), '^status_[0-9]{3}_', '')`;
  return `(${bare} = 'resolved' OR starts_with(${bare}, 'resolved_'))`;
}

// --- Building blocks.

const table = ARCHIVE_TABLE;
const partition = CREATION_DATE_PARTITION.name;
const severity = effectiveSeveritySql("incident");
const created = "from_unixtime(incident.creation_time / 1000)";

/** Every incident's newest archived version, with its object ("$path": Athena's pseudo-column, a view column in DuckDB). */
function latestVersions(where = ""): string {
  return `latest AS (
  SELECT *
  FROM (
    SELECT v.*, v."$path" AS object, row_number() OVER (PARTITION BY incident.incident_id ORDER BY incident.modification_time DESC) AS newest_first
    FROM ${table} v${where === "" ? "" : `\n    WHERE ${where}`}
  ) ranked
  WHERE newest_first = 1
)`;
}

/** The partition filter for "created in the last N days", so Athena reads only those days' prefixes. */
function createdInLastDays(days: number): string {
  return `${partition} >= date_format(current_date - INTERVAL '${days}' DAY, '%Y/%m/%d')`;
}

export const ARCHIVE_QUERIES: readonly ArchiveQuery[] = [
  {
    name: "criticals-last-7-days",
    description:
      "Incidents created in the last 7 days whose newest version is critical (severity or manual severity)",
    sql: `WITH ${latestVersions(createdInLastDays(7))}
SELECT incident.incident_id, incident.incident_name, ${severity} AS severity, incident.status,
  incident.alert_count, ${created} AS created
FROM latest
WHERE ${severity} = 'critical' AND ${created} >= current_timestamp - INTERVAL '7' DAY
ORDER BY incident.creation_time DESC, incident.incident_id`,
  },
  {
    name: "versions-per-severity-per-day",
    description: "Archived versions per day of modification (UTC) and severity",
    sql: `SELECT date_format(from_unixtime(incident.modification_time / 1000), '%Y-%m-%d') AS day,
  ${severity} AS severity, count(*) AS versions
FROM ${table}
GROUP BY 1, 2
ORDER BY 1, 2`,
  },
  {
    name: "open-incidents-by-age",
    description: "Incidents whose newest version is not resolved, oldest first, with their age in days",
    sql: `WITH ${latestVersions()}
SELECT incident.incident_id, incident.incident_name, ${severity} AS severity, incident.status,
  date_diff('day', ${created}, current_timestamp) AS age_days, ${created} AS created
FROM latest
WHERE NOT ${resolvedStatusSql("incident.status")}
ORDER BY incident.creation_time, incident.incident_id`,
  },
  {
    name: "top-hosts",
    description: "Hosts in the most incidents (newest versions), with how many of those are still open",
    sql: `WITH ${latestVersions()}
SELECT split_part(host, ':', 1) AS host_name, count(DISTINCT incident.incident_id) AS incidents,
  count(DISTINCT CASE WHEN NOT ${resolvedStatusSql("incident.status")} THEN incident.incident_id END) AS open_incidents
FROM latest
CROSS JOIN UNNEST(incident.hosts) AS h(host)
GROUP BY 1
ORDER BY incidents DESC, host_name
LIMIT 20`,
  },
  {
    name: "top-alert-names",
    description:
      "Alert names seen most across incidents (newest versions), with the incidents they appear in",
    // Trino's UNNEST spreads an array of rows into one column per field; DuckDB's keeps a struct column.
    sql: {
      athena: `WITH ${latestVersions()}
SELECT alert_name, count(*) AS alerts, count(DISTINCT incident.incident_id) AS incidents
FROM latest
CROSS JOIN UNNEST(transform(alerts.data, a -> trim(a.name))) AS t(alert_name)
GROUP BY 1
ORDER BY alerts DESC, alert_name
LIMIT 20`,
      duckdb: `WITH ${latestVersions()}
SELECT trim(alert.name) AS alert_name, count(*) AS alerts, count(DISTINCT incident.incident_id) AS incidents
FROM latest
CROSS JOIN UNNEST(alerts.data) AS t(alert)
GROUP BY 1
ORDER BY alerts DESC, alert_name
LIMIT 20`,
    },
  },
  {
    name: "latest-versions",
    description: "Each incident's newest archived version and where its object is",
    sql: `WITH ${latestVersions()}
SELECT incident.incident_id, incident.incident_name, ${severity} AS severity, incident.status,
  incident.alert_count, incident.modification_time, object
FROM latest
ORDER BY incident.incident_id`,
  },
];

export function findArchiveQuery(name: string): ArchiveQuery | undefined {
  return ARCHIVE_QUERIES.find((query) => query.name === name);
}
