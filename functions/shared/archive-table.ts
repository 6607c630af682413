// The archive as a table: the columns a query can read from each archived object (archive.ts), declared
// once and rendered both as the Glue table's Hive types (lib/pipeline/analytics.ts) and as the DuckDB
// read_json columns of `npm run query` (local/query/), so a query that runs locally names only what Athena has.
// Only the fields worth querying are declared; the JSON SerDe and DuckDB skip the rest (still in the object).
// A field whose JSON type varies between payloads (API-FACTS.md: tags, host_ip, is_whitelisted) is a string.
// Field names are lower case: Athena's JSON SerDe matches keys case-insensitively, DuckDB exactly (so the
// artifacts' `File_sha256` is left out rather than read differently by the two).
import { ARCHIVE_PREFIX } from "./archive.ts";

export type ColumnType =
  | "string"
  | "bigint"
  | "int"
  | "boolean"
  | { readonly array: ColumnType }
  | { readonly struct: Readonly<Record<string, ColumnType>> };

const list = (of: ColumnType): ColumnType => ({ array: of });
const struct = (fields: Record<string, ColumnType>): ColumnType => ({ struct: fields });

const incidentColumn = struct({
  incident_id: "string",
  incident_name: "string",
  creation_time: "bigint",
  modification_time: "bigint",
  detection_time: "bigint",
  status: "string",
  severity: "string",
  manual_severity: "string",
  description: "string",
  assigned_user_mail: "string",
  assigned_user_pretty_name: "string",
  alert_count: "int",
  low_severity_alert_count: "int",
  med_severity_alert_count: "int",
  high_severity_alert_count: "int",
  critical_severity_alert_count: "int",
  user_count: "int",
  host_count: "int",
  resolve_comment: "string",
  resolved_timestamp: "bigint",
  xdr_url: "string",
  starred: "boolean",
  hosts: list("string"),
  users: list("string"),
  incident_sources: list("string"),
  rule_based_score: "int",
  aggregated_score: "int",
});

const alertColumn = struct({
  alert_id: "string",
  name: "string",
  category: "string",
  source: "string",
  severity: "string",
  description: "string",
  detection_timestamp: "bigint",
  host_name: "string",
  host_ip: "string",
  endpoint_id: "string",
  user_name: "string",
  action: "string",
  action_pretty: "string",
  mitre_tactic_id_and_name: "string",
  mitre_technique_id_and_name: "string",
  tags: "string",
});

const networkArtifactColumn = struct({
  type: "string",
  alert_count: "int",
  network_domain: "string",
  network_remote_ip: "string",
  network_remote_port: "string",
  network_country: "string",
});

const fileArtifactColumn = struct({
  type: "string",
  alert_count: "int",
  file_name: "string",
  file_wildfire_verdict: "string",
  file_signature_status: "string",
});

const counted = (of: ColumnType): ColumnType => struct({ total_count: "int", data: list(of) });

/** The top-level fields of an archived object: the `reply` of get_incident_extra_data. */
export const ARCHIVE_COLUMNS: Readonly<Record<string, ColumnType>> = {
  incident: incidentColumn,
  alerts: counted(alertColumn),
  network_artifacts: counted(networkArtifactColumn),
  file_artifacts: counted(fileArtifactColumn),
};

/** The table every named query reads, in Glue and in DuckDB alike. */
export const ARCHIVE_TABLE = "incident_versions";

/**
 * The partition: the key's creation date (incidents/<YYYY>/<MM>/<DD>/...), as the string `YYYY/MM/DD`, so
 * Athena's partition projection maps it straight onto the key and string order is date order.
 */
export const CREATION_DATE_PARTITION = {
  name: "creation_date",
  /** Java DateTimeFormatter pattern, as Athena's projection reads it. */
  projectionFormat: "yyyy/MM/dd",
  /** The same layout as a key segment: archive.ts writes it, the DuckDB view parses it. */
  keyPattern: `${ARCHIVE_PREFIX}(\\d{4}/\\d{2}/\\d{2})/`,
  /** The earliest creation date the projection enumerates; Cortex XDR did not exist before. */
  firstDate: "2018/01/01",
} as const;

/** Hive DDL type, as Glue stores it: struct<a:string,b:array<int>>. */
export function hiveType(type: ColumnType): string {
  if (typeof type === "string") return type;
  if ("array" in type) return `array<${hiveType(type.array)}>`;
  const fields = Object.entries(type.struct).map(([name, field]) => `${name}:${hiveType(field)}`);
  return `struct<${fields.join(",")}>`;
}

const DUCKDB_SCALARS = { string: "VARCHAR", bigint: "BIGINT", int: "INTEGER", boolean: "BOOLEAN" } as const;

/** DuckDB type: STRUCT("a" VARCHAR, "b" INTEGER[]). */
export function duckdbType(type: ColumnType): string {
  if (typeof type === "string") return DUCKDB_SCALARS[type];
  if ("array" in type) return `${duckdbType(type.array)}[]`;
  const fields = Object.entries(type.struct).map(([name, field]) => `"${name}" ${duckdbType(field)}`);
  return `STRUCT(${fields.join(", ")})`;
}
