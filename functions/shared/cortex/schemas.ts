// Zod schemas for Cortex replies, lenient where real payloads vary (see API-FACTS.md): unknown fields are
// kept, null is accepted wherever reality sends it. Strict only on what the pipeline needs from an incident.
import { z } from "zod";
import type {
  BatchExtraDataResult,
  ExtraDataResult,
  IncidentSummary,
  MalformedListedIncident,
} from "./api.ts";

/** A string, or a list of strings: alert `tags` arrive both ways. */
export const stringOrList = z.union([z.string(), z.array(z.string())]);

// Ids are strings in practice; a number is accepted and turned into its string form.
const incidentId = z.union([z.string().trim().min(1), z.number().int().nonnegative().transform(String)]);

export const incidentSummarySchema = z.looseObject({
  incident_id: incidentId,
  modification_time: z.number().int(),
  creation_time: z.number().int(),
  severity: z.string(),
  status: z.string(),
  // Display fields: an odd value must never fail a whole page, so they fall back to null.
  incident_name: z.string().nullish().catch(null),
  alert_count: z.number().nullish().catch(null),
  tags: stringOrList.nullish().catch(null),
  original_tags: stringOrList.nullish().catch(null),
});

const countOrNull = z.number().int().nonnegative().nullish();

export const getIncidentsReplySchema = z.looseObject({
  total_count: countOrNull,
  result_count: countOrNull,
  // Items are checked one by one (parseGetIncidentsReply) so an error can name the item.
  incidents: z.array(z.unknown()).nullable(),
});

/** See api.ts. */
export type MalformedIncident = MalformedListedIncident;

export interface GetIncidentsReply {
  total_count: number | null | undefined;
  result_count: number | null | undefined;
  incidents: IncidentSummary[];
  /** Items that failed the schema: set aside, so one bad record never blocks the good ones. */
  malformed: MalformedIncident[];
  [field: string]: unknown;
}

export interface ReplyProblem {
  message: string;
}

/**
 * Parses a get_incidents `reply`: a broken envelope is a problem; a broken item is set aside in `malformed`
 * with the index and field named, never dropped and never blocking the rest of the page.
 */
export function parseGetIncidentsReply(reply: unknown): GetIncidentsReply | ReplyProblem {
  const envelope = getIncidentsReplySchema.safeParse(reply);
  if (!envelope.success) {
    return { message: `get_incidents reply: ${formatIssues(envelope.error).join("; ")}` };
  }
  const incidents: IncidentSummary[] = [];
  const malformed: MalformedIncident[] = [];
  for (const [index, item] of (envelope.data.incidents ?? []).entries()) {
    const parsed = incidentSummarySchema.safeParse(item);
    if (parsed.success) incidents.push(parsed.data as IncidentSummary);
    else {
      const problem = `get_incidents reply item ${index}${describeId(item)}: ${formatIssues(parsed.error).join("; ")}`;
      malformed.push({ index, item, problem });
    }
  }
  return {
    ...envelope.data,
    total_count: envelope.data.total_count,
    result_count: envelope.data.result_count,
    incidents,
    malformed,
  };
}

function describeId(item: unknown): string {
  if (typeof item === "object" && item !== null && "incident_id" in item) {
    const id = (item as { incident_id: unknown }).incident_id;
    if (typeof id === "string" || typeof id === "number") return ` (incident_id ${id})`;
  }
  return "";
}

const countOrAbsent = (value: unknown): boolean =>
  value === undefined ||
  value === null ||
  (typeof value === "number" && Number.isInteger(value) && value >= 0);

/** `{total_count, data: [...]}` as the extra-data parts nest it; problems are named by `part`. */
function sectionIssues(value: unknown, part: string, dataRequired: boolean): string[] {
  if (!isRecord(value)) return [`${part}: expected object`];
  const issues: string[] = [];
  if (!countOrAbsent(value.total_count)) issues.push(`${part}.total_count: expected a non-negative integer`);
  const data = value.data;
  if (!(Array.isArray(data) || (!dataRequired && (data === undefined || data === null)))) {
    issues.push(`${part}.data: expected array`);
  }
  return issues;
}

/**
 * Checks a get_incident_extra_data `reply` (or one element of a batch reply) without ever throwing: returned
 * exactly as received, for the archive, with its problems listed and a lenient view of what the enricher
 * reads. Only what the pipeline uses is checked (the incident's summary, the shape of the alert and artifact
 * lists), never each alert: alerts are archived, not read, and checking them costs more than gzipping them.
 */
export function parseExtraDataReply(reply: Record<string, unknown>): ExtraDataResult {
  const incident = incidentSummarySchema.safeParse(reply.incident);
  const schemaIssues = [
    ...(incident.success ? [] : formatIssues(incident.error).map((issue) => `incident.${issue}`)),
    ...sectionIssues(reply.alerts, "alerts", true),
    ...sectionIssues(reply.network_artifacts, "network_artifacts", false),
    ...sectionIssues(reply.file_artifacts, "file_artifacts", false),
  ];
  const alerts = reply.alerts;
  const alertData = isRecord(alerts) ? alerts.data : undefined;
  const alertTotal = isRecord(alerts) ? alerts.total_count : undefined;
  return {
    reply,
    schemaIssues,
    incident: incident.success ? (incident.data as IncidentSummary) : undefined,
    alertsReturned: Array.isArray(alertData) ? alertData.length : 0,
    alertsTotal: typeof alertTotal === "number" ? alertTotal : null,
  };
}

/** The incident id an extra-data element names, even when the element breaks the schema. */
export function elementIncidentId(result: ExtraDataResult): string | undefined {
  if (result.incident !== undefined) return result.incident.incident_id;
  const incident = result.reply.incident;
  const id = isRecord(incident) ? incident.incident_id : undefined;
  if (typeof id === "string" && id.trim() !== "") return id.trim();
  return typeof id === "number" && Number.isInteger(id) ? String(id) : undefined;
}

/**
 * Parses a get_multiple_incidents_extra_data `reply`: each element as a single reply would be, untouched.
 * Returns a problem (retried like any unusable body) only when the list itself is missing.
 */
export function parseBatchExtraDataReply(
  reply: Record<string, unknown>,
): BatchExtraDataResult | ReplyProblem {
  const incidents = reply.incidents;
  if (!Array.isArray(incidents)) {
    return { message: "get_multiple_incidents_extra_data reply: incidents: expected array" };
  }
  const elements: ExtraDataResult[] = [];
  const unidentified: unknown[] = [];
  for (const element of incidents) {
    const parsed = isRecord(element) ? parseExtraDataReply(element) : undefined;
    if (parsed === undefined || elementIncidentId(parsed) === undefined) unidentified.push(element);
    else elements.push(parsed);
  }
  const cap = reply.alerts_limit_per_incident;
  return {
    elements,
    unidentified,
    alertsLimitPerIncident: typeof cap === "number" && Number.isInteger(cap) && cap > 0 ? cap : undefined,
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "alerts.data.3.tags: Invalid input" — paths and zod's messages, never the offending values. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
}
