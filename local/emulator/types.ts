// The emulator's public surface: options, keys, faults and the control API that tests, benchmarks and the runner use.

import type { CortexAuthType, CortexProduct } from "../../functions/shared/cortex/api.ts";
import type { CortexEndpoint } from "../../functions/shared/cortex/paths.ts";

// The same products and key types the client speaks, so the two cannot drift apart.
export type EmulatedProduct = CortexProduct;
export type EmulatorKeyType = CortexAuthType;
/** The endpoints the emulator serves: every path the client calls (functions/shared/cortex/paths.ts). */
export type EmulatorEndpoint = CortexEndpoint;

export interface EmulatorKey {
  id: string;
  key: string;
  type: EmulatorKeyType;
}

export interface KeyEntitlements {
  /** false: every call answers 402 (the tenant lacks the license). */
  license?: boolean;
  /** false: every call answers 403 (the key's role lacks the RBAC permission). */
  permission?: boolean;
}

export interface EmulatorKeyOption extends EmulatorKey, KeyEntitlements {}

export interface RateLimit {
  requests: number;
  windowMs: number;
}

export interface LiveOptions {
  intervalMs: number;
  /** New incidents per tick (default 1). */
  newPerTick?: number;
  /** Existing incidents modified per tick (default 1). */
  modifiedPerTick?: number;
}

export interface CortexEmulatorOptions {
  /** Default 0: the OS picks a free port. Always bound to 127.0.0.1. */
  port?: number;
  seed?: number | string;
  /** Size of the initial backlog (default 200), spread over the hours before start. */
  incidents?: number;
  product?: EmulatedProduct;
  /** Injectable clock (epoch ms); default Date.now. */
  now?: () => number;
  /** Default: extra data 10 per minute, batch extra data 10 per minute, tenant-wide 10 per second. */
  rateLimits?: { extraData?: RateLimit; batchExtraData?: RateLimit; tenant?: RateLimit };
  /** Alerts per incident in a get_multiple_incidents_extra_data reply (default 50). */
  batchAlertsPerIncident?: number;
  /** Off unless given. */
  live?: LiveOptions;
  /** Replaces the generated keys; a missing key type is still generated. */
  keys?: EmulatorKeyOption[];
}

/** A rate in [0, 1], optionally limited to one endpoint. */
export type RateFault = number | { rate: number; endpoint?: EmulatorEndpoint };

export interface EmulatorFaults {
  /** Delay before every answer. */
  latencyMs: number | { ms: number; endpoint?: EmulatorEndpoint };
  /** Share of requests answered 500 with the XDR envelope. */
  serverErrorRate: RateFault;
  /** The next N requests answer 429, whatever the budget. */
  throttleBurst: number | { count: number; endpoint?: EmulatorEndpoint };
  /** Share of requests whose connection is reset without an answer. */
  connectionResetRate: RateFault;
  /** Share of answers cut in the middle of the body (Content-Length promises more). */
  truncatedBodyRate: RateFault;
  /** Share of requests answered 502 with an HTML page. */
  nonJsonBodyRate: RateFault;
  /** Share of 200 answers that violate the documented schema. */
  schemaViolationRate: RateFault;
  /** After serving each get_incidents page, modify this many incidents. */
  modifyBetweenPages: number;
  /** Server clock offset applied to advanced-key timestamp checks. */
  clockSkewMs: number;
  /** true: get_multiple_incidents_extra_data answers 404, like a tenant that does not offer it. */
  withoutBatchEndpoint: boolean;
  /** The next N get_incident_extra_data calls for an existing incident answer the 500 "Incident N was not found". */
  transientNotFound: number;
  /**
   * A share of the changes made while it is on (new and modified incidents) is listed by get_incidents
   * only `delayMs` after its modification_time (a [min, max] range draws each delay from the seed).
   */
  lateListing: { rate: number; delayMs: number | [number, number] };
  /** These incidents are listed without a numeric modification_time: the field left out, or sent as a string. */
  malformedListing: { incidentIds: string[]; modificationTime: "missing" | "string" };
  /** These incidents are left out of get_incidents and named in the reply's restricted_incident_ids. */
  restrictedIncidentIds: string[];
  /** The index also lists a stale copy of these incidents at their previous modification_time. */
  staleListing: string[];
  /** true: every severity in a reply (incident, manual, alert) in the platform's spelling, SEV_040_HIGH for high. */
  platformSeverities: boolean;
}

/** A flat get_incidents item; every field the real payloads carry, with their real variations. */
export type EmulatedIncident = Record<string, unknown> & {
  incident_id: string;
  creation_time: number;
  modification_time: number;
  severity: string;
  status: string;
  alert_count: number;
};

/** One version of an incident as a poller could have observed it. */
export interface IncidentVersion {
  incident_id: string;
  modification_time: number;
  severity: string;
  status: string;
  /** Present when get_incidents lists this version late: from modification_time + this on. */
  listing_delay_ms?: number;
}

export interface IncidentChanges {
  /** New status; a `resolved_*` status also sets resolved_timestamp and resolve_comment. */
  status?: string;
  /** A higher severity adds one alert of that severity (as an escalation does in the real tenant). */
  severity?: string;
  /** Number of new alerts to attach. */
  addAlerts?: number;
  /** Explicit modification time; default: the tenant clock, strictly after the previous version. */
  modificationTime?: number;
  /** Any other field to overwrite as is. */
  fields?: Record<string, unknown>;
  /** get_incidents lists this version only this long after its modification_time (default: the lateListing fault, else 0). */
  listingDelayMs?: number;
}

export interface AddIncidentsOptions {
  /** get_incidents lists the new incidents only this long after their modification_time. */
  listingDelayMs?: number;
}

/** Overrides for a new incident; `alert_count` sizes its alerts. */
export type IncidentOverrides = Partial<EmulatedIncident>;

export interface RequestLogEntry {
  time: number;
  method: string;
  path: string;
  endpoint: EmulatorEndpoint | "unknown";
  status: number;
  /** The key id presented, if any; the key itself is never recorded. */
  keyId: string | undefined;
  requestData: unknown;
  /** The fault that shaped this answer, if any. */
  fault?: string;
  /** Why a request was refused (e.g. "nonce already used"), for diagnosing client bugs. */
  reason?: string;
}

export interface EndpointStats {
  calls: number;
  throttled: number;
  statuses: Record<string, number>;
}

export interface EmulatorStats {
  requests: number;
  throttled: number;
  endpoints: Record<EmulatorEndpoint | "unknown", EndpointStats>;
}

export interface EmulatorControl {
  addIncidents(incidents: number | IncidentOverrides[], options?: AddIncidentsOptions): EmulatedIncident[];
  /** Many incidents sharing one millisecond (creation and modification time). */
  addBurst(burst: { count: number; modificationTime?: number }): EmulatedIncident[];
  /** Bumps modification_time; without changes, a plausible change is picked from the seed. */
  modifyIncident(incidentId: string, changes?: IncidentChanges): EmulatedIncident;
  /** The tenant's records, every change included (get_incident_extra_data's view). */
  incidents(): EmulatedIncident[];
  /** What get_incidents lists now, before faults (late-listed changes still show their previous version). */
  listedIncidents(): EmulatedIncident[];
  versions(): IncidentVersion[];
  requests(): RequestLogEntry[];
  setFaults(faults: Partial<EmulatorFaults>): void;
  clearFaults(): void;
  setKeyEntitlements(keyId: string, entitlements: KeyEntitlements): void;
  stats(): EmulatorStats;
}

export interface CortexEmulator {
  /** http://127.0.0.1:<port>, the base URL a client uses as its FQDN. */
  url: string;
  keys: { standard: EmulatorKey; advanced: EmulatorKey; all: EmulatorKey[] };
  control: EmulatorControl;
  close(): Promise<void>;
}
