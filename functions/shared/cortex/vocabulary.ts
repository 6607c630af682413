// The values Cortex and this pipeline agree on, each defined once: products, severities (both spellings),
// statuses (both spellings). Configuration schemas, the client, the enricher, the runner and the emulator
// import them from here.

export const CORTEX_PRODUCTS = ["xdr", "xpanse"] as const;
export type CortexProduct = (typeof CORTEX_PRODUCTS)[number];
export function isCortexProduct(value: string): value is CortexProduct {
  return (CORTEX_PRODUCTS as readonly string[]).includes(value);
}

export const CORTEX_AUTH_TYPES = ["standard", "advanced"] as const;
export type CortexAuthType = (typeof CORTEX_AUTH_TYPES)[number];
export function isCortexAuthType(value: string): value is CortexAuthType {
  return (CORTEX_AUTH_TYPES as readonly string[]).includes(value);
}

/** Every severity the pipeline can rank, lowest first. */
export const INCIDENT_SEVERITIES = ["unknown", "informational", "low", "medium", "high", "critical"] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

/** The severities a notification threshold may name. */
export const NOTIFY_SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type NotifySeverity = (typeof NOTIFY_SEVERITIES)[number];
export const DEFAULT_NOTIFY_MIN_SEVERITY: NotifySeverity = "high";

/** Severity order used for thresholds and escalations (a higher number is more severe). */
export const SEVERITY_RANK: Readonly<Record<IncidentSeverity, number>> = Object.fromEntries(
  INCIDENT_SEVERITIES.map((severity, rank) => [severity, rank]),
) as Record<IncidentSeverity, number>;

// Newer Cortex data (cases, rules, audit) spells severities SEV_010_INFO ... SEV_090_UNKNOWN.
/** Each severity in the platform's spelling (API-FACTS "the move to cases"); the emulator serves them on request. */
export const PLATFORM_SEVERITY_CODES: Readonly<Record<IncidentSeverity, string>> = {
  informational: "SEV_010_INFO",
  low: "SEV_020_LOW",
  medium: "SEV_030_MEDIUM",
  high: "SEV_040_HIGH",
  critical: "SEV_050_CRITICAL",
  unknown: "SEV_090_UNKNOWN",
};
const SEV_CODE = /^sev_\d{3}_([a-z]+)$/;
const SEVERITY_ALIASES: Readonly<Record<string, IncidentSeverity>> = { info: "informational" };

function isIncidentSeverity(value: string): value is IncidentSeverity {
  return (INCIDENT_SEVERITIES as readonly string[]).includes(value);
}

/** The severity a value names, in either spelling and any case; undefined when it names none the pipeline knows. */
export function normalizeSeverity(value: unknown): IncidentSeverity | undefined {
  if (typeof value !== "string") return undefined;
  const lower = value.trim().toLowerCase();
  const name = SEV_CODE.exec(lower)?.[1] ?? lower;
  const severity = SEVERITY_ALIASES[name] ?? name;
  return isIncidentSeverity(severity) ? severity : undefined;
}

/** The values of a severity and a manual severity that name none the pipeline knows (an empty manual one is "not set"). */
export function unrankedSeverities(severity: unknown, manualSeverity?: unknown): string[] {
  const given = [severity, manualSeverity].filter(
    (value, index) => index === 0 || (typeof value === "string" && value.trim() !== ""),
  );
  return given.filter((value) => normalizeSeverity(value) === undefined).map((value) => String(value));
}

/**
 * The rank of a severity in either spelling. One the pipeline cannot rank counts as exactly `unrankedAs`
 * (the notification threshold): in doubt it is notified once, and a later recognised escalation still is.
 */
export function severityRank(value: unknown, unrankedAs: NotifySeverity): number {
  const severity = normalizeSeverity(value);
  return SEVERITY_RANK[severity ?? unrankedAs];
}

/**
 * The severity the pipeline judges an incident by: the higher of the detection's `severity` and the
 * analyst's `manual_severity` (what the console shows when set), so an analyst's escalation is never
 * missed. A manual severity the pipeline cannot rank does not override a detected one it can.
 */
export function effectiveSeverity(severity: string, manualSeverity: string | null | undefined): string {
  if (manualSeverity == null || manualSeverity.trim() === "") return severity;
  const manual = normalizeSeverity(manualSeverity);
  if (manual === undefined) return severity;
  const detected = normalizeSeverity(severity);
  return detected === undefined || SEVERITY_RANK[manual] > SEVERITY_RANK[detected]
    ? manualSeverity
    : severity;
}

// Newer Cortex data spells statuses STATUS_010_NEW, STATUS_020_UNDER_INVESTIGATION, STATUS_025_RESOLVED.
const STATUS_CODE = /^status_\d{3}_([a-z_]+)$/;

/** A status in the classic spelling (new, under_investigation, resolved, resolved_*), whichever spelling came. */
export function normalizeIncidentStatus(value: string): string {
  const lower = value.trim().toLowerCase();
  return STATUS_CODE.exec(lower)?.[1] ?? lower;
}

/** Resolved in any of its forms (resolved, resolved_false_positive, STATUS_025_RESOLVED, ...). */
export function isResolvedStatus(value: string): boolean {
  const status = normalizeIncidentStatus(value);
  return status === "resolved" || status.startsWith("resolved_");
}
