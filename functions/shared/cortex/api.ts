// The Cortex client's public surface: what the poller, the enricher and the local runner rely on.
// The implementation (client.ts) and the zod schemas (schemas.ts) must satisfy these types.

import type { CortexAuthType } from "./vocabulary.ts";

export type { CortexAuthType, CortexProduct } from "./vocabulary.ts";

/** As stored in Secrets Manager: {"apiKey", "apiKeyId", "authType"}. Never logged. */
export interface CortexCredentials {
  apiKey: string;
  apiKeyId: string;
  authType: CortexAuthType;
}

/** The fields the pipeline needs from a get_incidents item; every other field is kept as received. */
export interface IncidentSummary {
  incident_id: string;
  modification_time: number;
  creation_time: number;
  severity: string;
  status: string;
  incident_name?: string | null;
  alert_count?: number | null;
  [field: string]: unknown;
}

/**
 * Keyset position in the stream of incidents sorted by modification_time ascending:
 * everything before `modificationTime` is handled, and so are `idsAtCursor` at exactly that millisecond.
 */
export interface IncidentCursor {
  modificationTime: number;
  idsAtCursor: string[];
}

/** One page of new incident versions, and the cursor to save once they are safely enqueued. */
export interface IncidentPage {
  incidents: IncidentSummary[];
  cursor: IncidentCursor;
}

export interface CallOptions {
  /** Epoch ms after which no new attempt starts (the Lambda deadline minus a margin). */
  deadline?: number;
  signal?: AbortSignal;
  /** Every attempt, retries included, passes it first: each request sent spends budget. */
  gate?: AttemptGate;
}

export interface ExtraDataResult {
  /** The `reply` object exactly as received, unknown fields and all: this is what gets archived. */
  reply: Record<string, unknown>;
  /** Schema problems found in `reply` ("alerts.total_count: expected number"); empty when it is valid. */
  schemaIssues: string[];
  /** Lenient typed view of the parts the pipeline reads; absent fields are undefined, never thrown on. */
  incident: IncidentSummary | undefined;
  alertsReturned: number;
  alertsTotal: number | null;
}

export interface BatchExtraDataResult {
  /** One per incident the reply holds, in its order, each element exactly as received. */
  elements: ExtraDataResult[];
  /** Elements that name no incident id: they cannot be matched or keyed, so they are kept apart. */
  unidentified: unknown[];
  /** The reply's `alerts_limit_per_incident`: an incident with more alerts than this was cut. */
  alertsLimitPerIncident: number | undefined;
}

/** Decides, before each HTTP attempt of a call, whether it may be sent now (and waits for its slot). */
export interface AttemptGate {
  /** Resolves true when the attempt may start; false when no slot is left before `deadline`. */
  beforeAttempt(deadline: number | undefined): Promise<boolean>;
}

/** A get_incidents filter as configuration supplies it; the client validates it against the seed page's rules. */
export interface IncidentFilterInput {
  field: string;
  operator: string;
  value: unknown;
}

/** What the poller needs from the Cortex client. */
export interface IncidentSource {
  /**
   * Every incident version modified at or after `cursor`, oldest first, one page at a time.
   * Never yields an id listed in `cursor.idsAtCursor` at `cursor.modificationTime`.
   * Stops without error when the deadline is near; the last yielded cursor is where to resume.
   */
  incidentsModifiedSince(
    cursor: IncidentCursor,
    options?: CallOptions & {
      filters?: readonly IncidentFilterInput[];
      /** Listed items that failed the schema (raw, with why), awaited before the page is yielded. */
      onMalformedIncidents?: (items: readonly MalformedListedIncident[]) => Promise<void>;
      /** Told the ids of every reply's `restricted_incident_ids` (incidents the key may not see). */
      onRestrictedIncidents?: (incidentIds: readonly string[]) => void;
    },
  ): AsyncIterable<IncidentPage>;
}

/** A get_incidents item the pipeline cannot use (e.g. no numeric modification_time), kept raw with why. */
export interface MalformedListedIncident {
  index: number;
  item: unknown;
  problem: string;
}

/** What the enricher needs from the Cortex client. */
export interface ExtraDataSource {
  getIncidentExtraData(
    incidentId: string,
    options?: CallOptions & { alertsLimit?: number },
  ): Promise<ExtraDataResult>;
}

/** The batch endpoint: up to 100 incidents' extra data in one call (alerts capped per incident). */
export interface BatchExtraDataSource {
  getMultipleIncidentsExtraData(
    incidentIds: readonly string[],
    options?: CallOptions,
  ): Promise<BatchExtraDataResult>;
}

/** Which of these incidents the tenant lists (get_incidents with incident_id_list): evidence for "not found". */
export interface IncidentLookup {
  listIncidentsById(incidentIds: readonly string[], options?: CallOptions): Promise<IncidentSummary[]>;
}
