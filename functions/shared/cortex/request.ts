// The get_incidents request: types that only admit the field/operator pairs of the vendor's page, and a
// runtime validator for filters that arrive from configuration. Nothing invalid is ever sent.
//
// Operator-less fields: the page lists `starred` and `incident_id` as filter fields but gives them no
// operator, and XDR's own documentation does not list them at all. They are rejected (types and runtime):
// use `incident_id_list` with `in` to select incidents by id.
//
// Caution: one public integration saw HTTP 500 when `alert_sources` was combined with another filter.
// Filters are ANDed; the poller always adds a modification_time filter, so prefer other fields there.
import { z } from "zod";
import type { CortexProduct, IncidentFilterInput } from "./api.ts";
import { CortexApiError } from "./errors.ts";
import { CORTEX_PRODUCTS } from "./vocabulary.ts";

export const MAX_PAGE_SIZE = 100;
export const MAX_INCIDENT_IDS = 100;

/** Epoch milliseconds, an integer. */
export type EpochMs = number;

/** Filters both XDR and Xpanse document. */
export type XdrIncidentFilter =
  | { field: "incident_id_list"; operator: "in"; value: string[] }
  | { field: "alert_sources"; operator: "in"; value: string[] }
  | { field: "description"; operator: "in"; value: string[] }
  | { field: "description"; operator: "contains"; value: string }
  | { field: "modification_time" | "creation_time"; operator: "gte" | "lte"; value: EpochMs }
  // The vendor page spells the operator "nqe": a typo of "neq".
  | { field: "status"; operator: "eq" | "neq"; value: IncidentStatusValue };

/** Filters only the Xpanse page documents. */
export type XpanseOnlyIncidentFilter =
  | { field: "cloud_management_status"; operator: "in"; value: string[] }
  | { field: "integration_source"; operator: "in"; value: string[] };

/** Documented statuses, plus any other the tenant knows (many `resolved_*` forms exist). */
export type IncidentStatusValue = "new" | "under_investigation" | "resolved" | (string & {});

export type IncidentFilter<P extends CortexProduct = CortexProduct> = P extends "xpanse"
  ? XdrIncidentFilter | XpanseOnlyIncidentFilter
  : XdrIncidentFilter;

const SORT_FIELDS = ["creation_time", "modification_time", "incident_id"] as const;
const SORT_KEYWORDS = ["ASC", "asc", "DESC", "desc"] as const;
export type IncidentSortField = (typeof SORT_FIELDS)[number];
export type SortKeyword = (typeof SORT_KEYWORDS)[number];

export interface GetIncidentsRequest<P extends CortexProduct = CortexProduct> {
  filters?: readonly IncidentFilter<P>[];
  sort?: { field: IncidentSortField; keyword: SortKeyword };
  /** Zero-based offset; `search_to - search_from` may be at most 100. */
  search_from?: number;
  search_to?: number;
}

/** The `request_data` object exactly as sent. */
export interface GetIncidentsRequestData {
  filters: IncidentFilter[];
  sort?: { field: IncidentSortField; keyword: SortKeyword };
  search_from: number;
  search_to: number;
}

const epochMs = z.number().int().nonnegative();
const nonEmptyString = z.string().trim().min(1);
// The page documents some `in` values as a String; a single string is accepted and sent as a list of one.
const stringList = z
  .union([nonEmptyString, z.array(nonEmptyString).min(1)])
  .transform((value) => (typeof value === "string" ? [value] : value));
const incidentIdList = z
  .array(z.union([nonEmptyString, z.number().int().nonnegative().transform(String)]))
  .min(1)
  .max(MAX_INCIDENT_IDS, `at most ${MAX_INCIDENT_IDS} incident ids per request`);

interface FieldRule {
  products: readonly CortexProduct[];
  operators: Readonly<Record<string, z.ZodType>>;
  valueHint: string;
}

const BOTH: readonly CortexProduct[] = CORTEX_PRODUCTS;
const TIME_RANGE: FieldRule = {
  products: BOTH,
  operators: { gte: epochMs, lte: epochMs },
  valueHint: "an integer in epoch milliseconds",
};

const FILTER_RULES: Readonly<Record<string, FieldRule>> = {
  incident_id_list: {
    products: BOTH,
    operators: { in: incidentIdList },
    valueHint: "a list of 1 to 100 ids",
  },
  alert_sources: { products: BOTH, operators: { in: stringList }, valueHint: "a list of source names" },
  description: {
    products: BOTH,
    operators: { in: stringList, contains: nonEmptyString },
    valueHint: "a list of strings for in, a string for contains",
  },
  modification_time: TIME_RANGE,
  creation_time: TIME_RANGE,
  status: {
    products: BOTH,
    operators: { eq: nonEmptyString, neq: nonEmptyString },
    valueHint: "a status such as new, under_investigation or resolved",
  },
  cloud_management_status: {
    products: ["xpanse"],
    operators: { in: stringList },
    valueHint: "a list of Managed Cloud, Unmanaged Cloud, Not Applicable",
  },
  integration_source: {
    products: ["xpanse"],
    operators: { in: stringList },
    valueHint: "a list of AWS, AZURE, GOOGLE, PRISMA_CLOUD",
  },
};

const OPERATORLESS_FIELDS: Readonly<Record<string, string>> = {
  incident_id: "use incident_id_list with operator in",
  starred: "the API documents no operator for it",
};

function invalid(message: string): CortexApiError {
  return new CortexApiError("invalid_request", `Invalid get_incidents request: ${message}`);
}

function fieldsFor(product: CortexProduct): string[] {
  return Object.entries(FILTER_RULES)
    .filter(([, rule]) => rule.products.includes(product))
    .map(([field]) => field);
}

/** Validates one filter against the rules of `product`; throws invalid_request naming field, operator and what is allowed. */
export function parseIncidentFilter(input: IncidentFilterInput, product: CortexProduct): IncidentFilter {
  const shape = z.object({ field: z.string(), operator: z.string(), value: z.unknown() }).safeParse(input);
  if (!shape.success) {
    throw invalid(`a filter must be an object with string "field" and "operator" and a "value"`);
  }
  const { field, operator, value } = shape.data;
  const operatorless = OPERATORLESS_FIELDS[field];
  if (operatorless !== undefined) {
    throw invalid(`filter field "${field}" is not supported: ${operatorless}`);
  }
  const rule = FILTER_RULES[field];
  if (rule === undefined || !rule.products.includes(product)) {
    const scope = rule === undefined ? "" : ` (Cortex Xpanse only; this client is configured for ${product})`;
    throw invalid(
      `filter field "${field}" is not allowed${scope}; allowed fields: ${fieldsFor(product).join(", ")}`,
    );
  }
  const schema = rule.operators[operator];
  const allowedOperators = Object.keys(rule.operators).join(", ");
  if (schema === undefined) {
    const typo = operator === "nqe" ? ` ("nqe" on the vendor page is a typo of "neq")` : "";
    throw invalid(`operator "${operator}" is not allowed on "${field}"${typo}; allowed: ${allowedOperators}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => issue.message).join("; ");
    throw invalid(`value of "${field}" ${operator} must be ${rule.valueHint} (${detail})`);
  }
  return { field, operator, value: parsed.data } as IncidentFilter;
}

/** Validates filters from configuration for `product`, before any request is made. */
export function parseIncidentFilters(
  inputs: readonly IncidentFilterInput[],
  product: CortexProduct,
): IncidentFilter[] {
  return inputs.map((input) => parseIncidentFilter(input, product));
}

/** Checks a whole request (types may have been bypassed) and returns the `request_data` to send. */
export function buildGetIncidentsRequest(
  request: GetIncidentsRequest,
  product: CortexProduct,
): GetIncidentsRequestData {
  const filters = parseIncidentFilters(request.filters ?? [], product);
  const searchFrom = request.search_from ?? 0;
  const searchTo = request.search_to ?? searchFrom + MAX_PAGE_SIZE;
  if (!Number.isInteger(searchFrom) || searchFrom < 0) {
    throw invalid(`search_from must be a non-negative integer, got ${String(searchFrom)}`);
  }
  if (!Number.isInteger(searchTo) || searchTo <= searchFrom || searchTo - searchFrom > MAX_PAGE_SIZE) {
    throw invalid(
      `search_to must be an integer above search_from and search_to - search_from at most ${MAX_PAGE_SIZE}, got search_from ${searchFrom}, search_to ${String(searchTo)}`,
    );
  }
  const data: GetIncidentsRequestData = { filters, search_from: searchFrom, search_to: searchTo };
  if (request.sort !== undefined) {
    const { field, keyword } = request.sort;
    if (!SORT_FIELDS.includes(field)) {
      throw invalid(`sort field "${String(field)}" is not allowed; allowed: ${SORT_FIELDS.join(", ")}`);
    }
    if (!SORT_KEYWORDS.includes(keyword)) {
      throw invalid(`sort keyword "${String(keyword)}" is not allowed; allowed: ${SORT_KEYWORDS.join(", ")}`);
    }
    data.sort = { field, keyword };
  }
  return data;
}
