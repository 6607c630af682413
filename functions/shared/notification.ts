// The SNS notification contract (DESIGN.md): one publish per incident at or above the threshold,
// again only on escalation. MessageStructure json: `default` for programs, `email` for people,
// `sms` for phones; an ASCII one-line Subject; attributes for subscription filter policies.
import { PublishCommand, type PublishCommandInput, type SNSClient } from "@aws-sdk/client-sns";
import { z } from "zod";
import { SEVERITY_RANK } from "./cortex/api.ts";

export type NotifySeverity = "low" | "medium" | "high" | "critical";

/** The contract says at most 100; SNS's Publish API says "less than 100 characters long": 99 satisfies both. */
export const SUBJECT_MAX = 99;
export const SMS_MAX = 140;
/** Lists in a notification are capped so a huge incident cannot push the message past SNS's 256 KB. */
const LIST_MAX = 50;
const DESCRIPTION_MAX = 4000;

export function severityRank(severity: string | undefined): number {
  return (severity === undefined ? undefined : SEVERITY_RANK[severity.toLowerCase()]) ?? 0;
}

/**
 * The severity the pipeline judges an incident by: the higher of the detection's `severity` and the
 * analyst's `manual_severity` (what the console shows when set), so an analyst's escalation is never missed.
 */
export function effectiveSeverity(severity: string, manualSeverity: string | null | undefined): string {
  if (manualSeverity == null || manualSeverity.trim() === "") return severity;
  return severityRank(manualSeverity) > severityRank(severity) ? manualSeverity : severity;
}

/** At or above the threshold, and higher than anything notified before for this incident. */
export function notificationDue(
  severity: string,
  threshold: NotifySeverity,
  previouslyNotified: string | undefined,
): boolean {
  const rank = severityRank(severity);
  if (rank < severityRank(threshold)) return false;
  return previouslyNotified === undefined || rank > severityRank(previouslyNotified);
}

/** What a notification says about an incident, read leniently from the reply with the queue message as fallback. */
export interface IncidentDigest {
  incidentId: string;
  name: string | null;
  /** The detection's severity, as the API sends it. */
  severity: string;
  /** The analyst's override, when set (absent in claims written before it was read). */
  manualSeverity?: string | null | undefined;
  status: string;
  creationTime: number;
  modificationTime: number;
  description: string | null;
  alertCount: number | null;
  alertsBySeverity: {
    critical: number | null;
    high: number | null;
    medium: number | null;
    low: number | null;
  };
  hostCount: number | null;
  hosts: string[];
  userCount: number | null;
  users: string[];
  mitreTactics: string[];
  xdrUrl: string | null;
}

const nullableCount = z.number().nullable();

/** An IncidentDigest read back from JSON (a pending notification claim keeps one to publish again). */
export const incidentDigestSchema: z.ZodType<IncidentDigest> = z.object({
  incidentId: z.string(),
  name: z.string().nullable(),
  severity: z.string(),
  manualSeverity: z.string().nullish(),
  status: z.string(),
  creationTime: z.number(),
  modificationTime: z.number(),
  description: z.string().nullable(),
  alertCount: nullableCount,
  alertsBySeverity: z.object({
    critical: nullableCount,
    high: nullableCount,
    medium: nullableCount,
    low: nullableCount,
  }),
  hostCount: nullableCount,
  hosts: z.array(z.string()),
  userCount: nullableCount,
  users: z.array(z.string()),
  mitreTactics: z.array(z.string()),
  xdrUrl: z.string().nullable(),
});

export interface DigestFallback {
  incident_id: string;
  severity: string;
  manual_severity?: string | null | undefined;
  status: string;
  creation_time: number;
  modification_time: number;
  incident_name?: string | null | undefined;
  alert_count?: number | null | undefined;
}

const text = (value: unknown): string | null =>
  typeof value === "string" && value.trim() !== "" ? value : null;
const count = (value: unknown): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null;
const texts = (value: unknown): string[] => {
  if (typeof value === "string") return value.trim() === "" ? [] : [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
};

export function digestIncident(
  incident: Record<string, unknown> | undefined,
  fallback: DigestFallback,
): IncidentDigest {
  const field = (name: string): unknown => incident?.[name];
  return {
    incidentId: text(field("incident_id")) ?? fallback.incident_id,
    name: text(field("incident_name")) ?? text(fallback.incident_name),
    severity: text(field("severity")) ?? fallback.severity,
    // The reply's own field decides when present, even null (the analyst cleared it).
    manualSeverity:
      incident !== undefined && "manual_severity" in incident
        ? text(field("manual_severity"))
        : text(fallback.manual_severity),
    status: text(field("status")) ?? fallback.status,
    creationTime: count(field("creation_time")) ?? fallback.creation_time,
    modificationTime: count(field("modification_time")) ?? fallback.modification_time,
    description: text(field("description")),
    alertCount: count(field("alert_count")) ?? count(fallback.alert_count),
    alertsBySeverity: {
      critical: count(field("critical_severity_alert_count")),
      high: count(field("high_severity_alert_count")),
      medium: count(field("med_severity_alert_count")),
      low: count(field("low_severity_alert_count")),
    },
    hostCount: count(field("host_count")),
    hosts: texts(field("hosts")),
    userCount: count(field("user_count")),
    users: texts(field("users")),
    mitreTactics: texts(field("mitre_tactics_ids_and_names")),
    xdrUrl: text(field("xdr_url")),
  };
}

// Bidirectional overrides and isolates can make a name display as something else: never pass them on.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** One line of readable Unicode: line breaks and tabs become spaces, controls and bidi overrides go. */
export function singleLine(value: string): string {
  return value
    .replace(/[\r\n\t\u2028\u2029\u0085]+/g, " ")
    .replace(CONTROL_CHARACTERS, "")
    .replace(BIDI_CONTROLS, "")
    .replace(/\s+/g, " ")
    .trim();
}

/** One line of printable ASCII: accents folded (é -> e), everything else non-ASCII dropped. */
export function asciiLine(value: string): string {
  return singleLine(value)
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^\x20-\x7e]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Cuts at a code point boundary and marks the cut, never exceeding `max` characters. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  const codePoints = Array.from(value);
  let kept = "";
  for (const codePoint of codePoints) {
    if (kept.length + codePoint.length > max - 3) break;
    kept += codePoint;
  }
  return `${kept.trimEnd()}...`;
}

/** The severity a digest is notified at: see effectiveSeverity. */
export function notifiedSeverity(digest: IncidentDigest): string {
  return effectiveSeverity(digest.severity, digest.manualSeverity);
}

/** Both severities when the analyst set one ("high (analyst high, Cortex low)"), else the one there is. */
function severityWithSource(digest: IncidentDigest): string {
  const notified = notifiedSeverity(digest);
  const manual = digest.manualSeverity == null ? "" : singleLine(digest.manualSeverity);
  return manual === "" ? notified : `${notified} (analyst ${manual}, Cortex ${singleLine(digest.severity)})`;
}

export function notificationSubject(digest: IncidentDigest): string {
  const name = digest.name === null ? "" : asciiLine(digest.name);
  const head = asciiLine(`Cortex incident ${digest.incidentId} [${notifiedSeverity(digest).toUpperCase()}]`);
  return truncate(name === "" ? head : `${head}: ${name}`, SUBJECT_MAX);
}

/** ASCII so the text stays one GSM-7 SMS segment; one line, at most 140 characters. */
export function smsText(digest: IncidentDigest): string {
  const alerts = digest.alertCount === null ? "" : `, ${digest.alertCount} alerts`;
  const manual =
    digest.manualSeverity == null ? "" : `, analyst ${digest.manualSeverity}, Cortex ${digest.severity}`;
  const head = asciiLine(
    `${notifiedSeverity(digest).toUpperCase()} Cortex incident ${digest.incidentId} (${digest.status}${alerts}${manual})`,
  );
  const name = digest.name === null ? "" : asciiLine(digest.name);
  return truncate(name === "" ? head : `${head}: ${name}`, SMS_MAX);
}

function listLine(values: readonly string[], total: number | null): string {
  if (values.length === 0) return total ? `${total} (not listed)` : "none";
  const shown = values.slice(0, LIST_MAX).map(singleLine).join(", ");
  const all = Math.max(total ?? 0, values.length);
  return all > LIST_MAX ? `${shown} and ${all - LIST_MAX} more` : shown;
}

const iso = (epochMs: number): string => {
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? String(epochMs) : date.toISOString();
};

/** The tenant console for an API base URL: https://api-<tenant>.xdr... -> https://<tenant>.xdr... */
export function consoleBaseUrlFor(apiBaseUrl: string): string | undefined {
  try {
    const url = new URL(apiBaseUrl);
    if (!url.hostname.startsWith("api-")) return undefined;
    return `${url.protocol}//${url.host.slice("api-".length)}`;
  } catch {
    return undefined;
  }
}

function consoleLink(digest: IncidentDigest, consoleBaseUrl: string | undefined): string | null {
  if (digest.xdrUrl !== null && /^https?:\/\//i.test(digest.xdrUrl)) return digest.xdrUrl;
  if (consoleBaseUrl === undefined) return null;
  return `${consoleBaseUrl.replace(/\/+$/, "")}/incident-view?caseId=${encodeURIComponent(digest.incidentId)}`;
}

export interface ArchiveLocation {
  bucket: string;
  key: string;
}

export interface IncidentNotificationInput {
  topicArn: string;
  digest: IncidentDigest;
  archive: ArchiveLocation;
  /** Severity notified before for this incident, when this is an escalation. */
  previousSeverity?: string | undefined;
  consoleBaseUrl?: string | undefined;
  /** Epoch ms the pipeline first saw this version (the poll that read it): where time to alert starts. */
  firstSeenAt?: number | undefined;
}

export function emailText(input: IncidentNotificationInput): string {
  const { digest } = input;
  const counts = digest.alertsBySeverity;
  const bySeverity = (
    [
      ["critical", counts.critical],
      ["high", counts.high],
      ["medium", counts.medium],
      ["low", counts.low],
    ] as const
  )
    .filter(([, value]) => value !== null)
    .map(([label, value]) => `${label} ${value}`)
    .join(", ");
  const link = consoleLink(digest, input.consoleBaseUrl);
  const description =
    digest.description === null
      ? "(none)"
      : truncate(
          digest.description
            .replace(CONTROL_CHARACTERS, (c) => (c === "\n" ? c : " "))
            .replace(BIDI_CONTROLS, ""),
          DESCRIPTION_MAX,
        );
  const lines = [
    input.previousSeverity === undefined
      ? `A Cortex incident reached ${notifiedSeverity(digest)} severity.`
      : `A Cortex incident escalated from ${input.previousSeverity} to ${notifiedSeverity(digest)}.`,
    "",
    `Incident:      ${digest.incidentId}${digest.name === null ? "" : ` - ${singleLine(digest.name)}`}`,
    `Severity:      ${singleLine(severityWithSource(digest))}`,
    `Status:        ${singleLine(digest.status)}`,
    `Created:       ${iso(digest.creationTime)}`,
    `Modified:      ${iso(digest.modificationTime)}`,
    `Hosts:         ${listLine(digest.hosts, digest.hostCount)}`,
    `Users:         ${listLine(digest.users, digest.userCount)}`,
    `Alerts:        ${digest.alertCount ?? "unknown"}${bySeverity === "" ? "" : ` (${bySeverity})`}`,
    `MITRE tactics: ${listLine(digest.mitreTactics, null)}`,
    "",
    "Description:",
    description,
    "",
    `Console:       ${link ?? "(no link in the reply)"}`,
    `Archive:       s3://${input.archive.bucket}/${input.archive.key}`,
  ];
  return lines.join("\n");
}

export function machineMessage(input: IncidentNotificationInput): Record<string, unknown> {
  const { digest } = input;
  return {
    reason: input.previousSeverity === undefined ? "threshold" : "escalation",
    previous_severity: input.previousSeverity ?? null,
    incident_id: digest.incidentId,
    incident_name: digest.name,
    severity: digest.severity,
    manual_severity: digest.manualSeverity ?? null,
    /** What the threshold was judged on: the higher of the two. */
    notified_severity: notifiedSeverity(digest),
    first_seen_at: input.firstSeenAt ?? null,
    status: digest.status,
    creation_time: digest.creationTime,
    modification_time: digest.modificationTime,
    alert_count: digest.alertCount,
    alerts_by_severity: digest.alertsBySeverity,
    host_count: digest.hostCount ?? digest.hosts.length,
    hosts: digest.hosts.slice(0, LIST_MAX),
    user_count: digest.userCount ?? digest.users.length,
    users: digest.users.slice(0, LIST_MAX),
    mitre_tactics: digest.mitreTactics.slice(0, LIST_MAX),
    xdr_url: consoleLink(digest, input.consoleBaseUrl),
    archive: { bucket: input.archive.bucket, key: input.archive.key },
  };
}

const attributeText = (value: string): string => {
  const line = singleLine(value);
  return line === "" ? "unknown" : truncate(line, 256);
};

export function buildIncidentNotification(input: IncidentNotificationInput): PublishCommandInput {
  const { digest } = input;
  return {
    TopicArn: input.topicArn,
    Subject: notificationSubject(digest),
    MessageStructure: "json",
    Message: JSON.stringify({
      default: JSON.stringify(machineMessage(input)),
      email: emailText(input),
      sms: smsText(digest),
    }),
    MessageAttributes: {
      // The severity notified at, so a filter policy on "critical" also gets an analyst's escalation.
      severity: { DataType: "String", StringValue: attributeText(notifiedSeverity(digest).toLowerCase()) },
      status: { DataType: "String", StringValue: attributeText(digest.status) },
      incident_id: { DataType: "String", StringValue: attributeText(digest.incidentId) },
      alert_count: { DataType: "Number", StringValue: String(digest.alertCount ?? 0) },
    },
  };
}

/** Publishes and returns the SNS message id. */
export async function publishIncidentNotification(
  sns: SNSClient,
  input: IncidentNotificationInput,
): Promise<string | undefined> {
  const response = await sns.send(new PublishCommand(buildIncidentNotification(input)));
  return response.MessageId;
}
