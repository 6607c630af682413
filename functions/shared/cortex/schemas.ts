// Zod schemas for Cortex replies, lenient where real payloads vary (see API-FACTS.md): unknown fields are
// kept, null is accepted wherever reality sends it. Strict only on what the pipeline needs from an incident.
import { z } from "zod";
import type { ExtraDataResult, IncidentSummary } from "./api.ts";

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

export interface GetIncidentsReply {
  total_count: number | null | undefined;
  result_count: number | null | undefined;
  incidents: IncidentSummary[];
  [field: string]: unknown;
}

export interface ReplyProblem {
  message: string;
}

/** Parses a get_incidents `reply`; returns a problem naming the item index and field instead of dropping items. */
export function parseGetIncidentsReply(reply: unknown): GetIncidentsReply | ReplyProblem {
  const envelope = getIncidentsReplySchema.safeParse(reply);
  if (!envelope.success) {
    return { message: `get_incidents reply: ${formatIssues(envelope.error).join("; ")}` };
  }
  const incidents: IncidentSummary[] = [];
  for (const [index, item] of (envelope.data.incidents ?? []).entries()) {
    const parsed = incidentSummarySchema.safeParse(item);
    if (!parsed.success) {
      const id = describeId(item);
      return { message: `get_incidents reply item ${index}${id}: ${formatIssues(parsed.error).join("; ")}` };
    }
    incidents.push(parsed.data as IncidentSummary);
  }
  return {
    ...envelope.data,
    total_count: envelope.data.total_count,
    result_count: envelope.data.result_count,
    incidents,
  };
}

function describeId(item: unknown): string {
  if (typeof item === "object" && item !== null && "incident_id" in item) {
    const id = (item as { incident_id: unknown }).incident_id;
    if (typeof id === "string" || typeof id === "number") return ` (incident_id ${id})`;
  }
  return "";
}

const artifactsSchema = z.looseObject({
  total_count: countOrNull,
  data: z.array(z.looseObject({})).nullish(),
});

export const alertSchema = z.looseObject({
  alert_id: z.union([z.string(), z.number()]).nullish(),
  case_id: z.union([z.number(), z.string()]).nullish(),
  severity: z.string().nullish(),
  tags: stringOrList.nullish(),
  original_tags: stringOrList.nullish(),
  // "1.1.1.1, 2.2.2.2" in the wild.
  host_ip: stringOrList.nullish(),
  is_whitelisted: z.union([z.boolean(), z.string()]).nullish(),
});

export const extraDataReplySchema = z.looseObject({
  incident: incidentSummarySchema,
  alerts: z.looseObject({ total_count: countOrNull, data: z.array(alertSchema) }),
  network_artifacts: artifactsSchema,
  file_artifacts: artifactsSchema,
});

/**
 * Checks a get_incident_extra_data `reply` without ever throwing: the reply is returned exactly as received
 * (for the archive), with the schema problems listed, and a lenient view of what the enricher reads.
 */
export function parseExtraDataReply(reply: Record<string, unknown>): ExtraDataResult {
  const checked = extraDataReplySchema.safeParse(reply);
  const schemaIssues = checked.success ? [] : formatIssues(checked.error);
  const incident = incidentSummarySchema.safeParse(reply.incident);
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

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "alerts.data.3.tags: Invalid input" — paths and zod's messages, never the offending values. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
}
