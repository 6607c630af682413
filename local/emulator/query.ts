// get_incidents semantics: seed 000's filter fields and operators (ANDed), sort, and search_from/search_to paging.
import type { EmulatedIncident, EmulatedProduct } from "./types.ts";

export const MAX_PAGE_SIZE = 100;
export const MAX_ID_LIST = 100;

/** A request the real service refuses; the server maps it to the product's validation answer. */
export class InvalidQueryError extends Error {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.name = "InvalidQueryError";
    this.field = field;
  }
}

type Predicate = (incident: EmulatedIncident) => boolean;

const XPANSE_ONLY = new Set(["cloud_management_status", "integration_source", "starred", "incident_id"]);

/** Seed 000: which operators each field accepts. starred and incident_id have no documented operator: eq/neq (and in for ids). */
const OPERATORS: Readonly<Record<string, readonly string[]>> = {
  incident_id_list: ["in"],
  alert_sources: ["in"],
  cloud_management_status: ["in"],
  description: ["in", "contains"],
  integration_source: ["in"],
  modification_time: ["gte", "lte"],
  creation_time: ["gte", "lte"],
  status: ["eq", "neq"],
  starred: ["eq", "neq"],
  incident_id: ["eq", "neq", "in"],
};

const STATUSES = ["new", "under_investigation", "resolved"];
const SORT_FIELDS = ["creation_time", "modification_time", "incident_id"];
const SORT_KEYWORDS = ["ASC", "asc", "DESC", "desc"];

function asStringList(field: string, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((item) => typeof item === "string" || typeof item === "number")) {
    throw new InvalidQueryError(`Filter value for ${field} must be a string or a list of strings`, field);
  }
  return list.map(String);
}

function asTimestamp(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new InvalidQueryError(
      `Filter value for ${field} must be an integer timestamp in epoch milliseconds`,
      field,
    );
  }
  return value;
}

function statusMatches(status: string, wanted: string): boolean {
  // "resolved" stands for every resolved_* form the tenant stores.
  return wanted === "resolved" ? status.startsWith("resolved") : status === wanted;
}

function compileFilter(filter: unknown, product: EmulatedProduct): Predicate {
  if (typeof filter !== "object" || filter === null)
    throw new InvalidQueryError("Each filter must be an object");
  const { field, operator, value } = filter as Record<string, unknown>;
  if (typeof field !== "string" || !(field in OPERATORS) || (product === "xdr" && XPANSE_ONLY.has(field))) {
    throw new InvalidQueryError(`Unsupported filter field: ${String(field)}`, String(field));
  }
  if (typeof operator !== "string" || !OPERATORS[field]?.includes(operator)) {
    throw new InvalidQueryError(`Operator ${String(operator)} is not supported for field ${field}`, field);
  }
  switch (field) {
    case "incident_id_list": {
      const ids = new Set(asStringList(field, value));
      if (ids.size > MAX_ID_LIST)
        throw new InvalidQueryError(`${field} accepts at most ${MAX_ID_LIST} ids`, field);
      return (incident) => ids.has(incident.incident_id);
    }
    case "incident_id": {
      const ids = new Set(asStringList(field, value));
      return operator === "neq"
        ? (incident) => !ids.has(incident.incident_id)
        : (incident) => ids.has(incident.incident_id);
    }
    case "alert_sources": {
      const sources = new Set(asStringList(field, value));
      return (incident) => (incident.incident_sources as string[]).some((source) => sources.has(source));
    }
    case "description": {
      if (operator === "contains") {
        if (typeof value !== "string")
          throw new InvalidQueryError("description contains needs a string", field);
        const needle = value.toLowerCase();
        return (incident) =>
          String(incident.description ?? "")
            .toLowerCase()
            .includes(needle);
      }
      const descriptions = new Set(asStringList(field, value));
      return (incident) => descriptions.has(String(incident.description));
    }
    case "cloud_management_status":
    case "integration_source": {
      const values = new Set(asStringList(field, value));
      return (incident) => values.has(String(incident[field]));
    }
    case "modification_time":
    case "creation_time": {
      const bound = asTimestamp(field, value);
      return operator === "gte"
        ? (incident) => incident[field] >= bound
        : (incident) => incident[field] <= bound;
    }
    case "status": {
      if (typeof value !== "string" || !(STATUSES.includes(value) || value.startsWith("resolved_"))) {
        throw new InvalidQueryError(`Status must be one of ${STATUSES.join(", ")}`, field);
      }
      return operator === "eq"
        ? (incident) => statusMatches(incident.status, value)
        : (incident) => !statusMatches(incident.status, value);
    }
    default: {
      if (typeof value !== "boolean") throw new InvalidQueryError("starred needs true or false", field);
      return operator === "eq"
        ? (incident) => incident.starred === value
        : (incident) => incident.starred !== value;
    }
  }
}

function optionalOffset(name: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new InvalidQueryError(`${name} must be a non-negative integer`, name);
  }
  return value;
}

export interface IncidentQueryResult {
  total_count: number;
  result_count: number;
  incidents: EmulatedIncident[];
}

/**
 * Runs a get_incidents request_data against the store. A window wider than 100 is capped to its first
 * 100 (seed 000: "the maximum result set size is 100"; search_to defaults to 100), not rejected.
 */
export function queryIncidents(
  incidents: readonly EmulatedIncident[],
  requestData: Record<string, unknown>,
  product: EmulatedProduct,
): IncidentQueryResult {
  const filters = requestData.filters ?? [];
  if (!Array.isArray(filters)) throw new InvalidQueryError("filters must be a list", "filters");
  const predicates = filters.map((filter) => compileFilter(filter, product));

  const sort = (requestData.sort ?? { field: "creation_time", keyword: "desc" }) as Record<string, unknown>;
  if (typeof sort !== "object" || !SORT_FIELDS.includes(String(sort.field))) {
    throw new InvalidQueryError(`Sort field must be one of ${SORT_FIELDS.join(", ")}`, "sort");
  }
  const keyword = sort.keyword ?? "desc";
  if (!SORT_KEYWORDS.includes(String(keyword))) {
    throw new InvalidQueryError(`Sort keyword must be one of ${SORT_KEYWORDS.join(", ")}`, "sort");
  }
  const direction = String(keyword).toLowerCase() === "asc" ? 1 : -1;
  const sortField = String(sort.field);
  const key = (incident: EmulatedIncident): number =>
    sortField === "incident_id" ? Number(incident.incident_id) : (incident[sortField] as number);

  const from = optionalOffset("search_from", requestData.search_from, 0);
  const to = optionalOffset("search_to", requestData.search_to, from + MAX_PAGE_SIZE);

  const matching = incidents
    .filter((incident) => predicates.every((predicate) => predicate(incident)))
    // Ties keep one stable order (ascending incident id), so offset pages over equal keys never overlap.
    .sort((a, b) => direction * (key(a) - key(b)) || Number(a.incident_id) - Number(b.incident_id));
  const page = matching.slice(from, Math.max(from, Math.min(to, from + MAX_PAGE_SIZE)));
  return { total_count: matching.length, result_count: page.length, incidents: structuredClone(page) };
}
