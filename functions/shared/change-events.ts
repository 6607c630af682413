// Every archived version as one EventBridge event (source "cortex-incident-export", detail-type
// "Cortex Incident Change"): what changed against the previous archived version, and a detail a rule can
// route on without reading S3, kept under EventBridge's 256 KB entry limit whatever the incident holds.
// Pure: the publisher (change-event-publisher.ts) sends what this builds. Schema: local/query/README.md.

import {
  effectiveSeverity,
  isResolvedStatus,
  normalizeSeverity,
  SEVERITY_RANK,
} from "./cortex/vocabulary.ts";
import type { IncidentStateRecord } from "./incident-state.ts";
import type { IncidentDigest } from "./notification.ts";

export const CHANGE_EVENT_SOURCE = "cortex-incident-export";
export const CHANGE_EVENT_DETAIL_TYPE = "Cortex Incident Change";
export const CHANGE_EVENT_SCHEMA_VERSION = 1;

export const CHANGE_KINDS = [
  "created",
  "updated",
  "escalated",
  "deescalated",
  "resolved",
  "reopened",
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** EventBridge's limit for one entry (and for a whole PutEvents request). */
export const EVENT_ENTRY_MAX_BYTES = 256 * 1024;
/** The detail's own budget: a quarter of an entry, so a PutEvents of several still fits one request. */
export const DETAIL_MAX_BYTES = 64 * 1024;
const LIST_ENTRIES_MAX = 100;
const LIST_ENTRY_CHARS_MAX = 256;
const TEXT_CHARS_MAX = 4096;

/** What the incident state remembers of the newest archived version, so the next one can be compared. */
export interface ArchivedFacts {
  severity?: string | undefined;
  manual_severity?: string | null | undefined;
  status?: string | undefined;
}

export function archivedFacts(digest: IncidentDigest): Required<ArchivedFacts> {
  return { severity: digest.severity, manual_severity: digest.manualSeverity ?? null, status: digest.status };
}

type PreviousArchived = (NonNullable<IncidentStateRecord["archived"]> & ArchivedFacts) | null | undefined;

/**
 * The change against the previous archived version. A status change outranks a severity change (a ticket
 * opens and closes on status); severity is judged as the notification threshold judges it (manual over
 * detected). A previous version archived before the state remembered its facts counts as `updated`.
 */
export function classifyChange(previous: PreviousArchived, current: ArchivedFacts): ChangeKind {
  if (previous === undefined || previous === null) return "created";
  if (previous.status === undefined || previous.severity === undefined) return "updated";
  const wasResolved = isResolvedStatus(previous.status);
  const isResolved = isResolvedStatus(current.status ?? "");
  if (wasResolved && !isResolved) return "reopened";
  if (!wasResolved && isResolved) return "resolved";
  // A severity the pipeline cannot rank is below every one it can (as in the queries' SQL).
  const rank = (facts: ArchivedFacts) => {
    const severity = normalizeSeverity(effectiveSeverity(facts.severity ?? "", facts.manual_severity));
    return severity === undefined ? -1 : SEVERITY_RANK[severity];
  };
  const delta = rank(current) - rank(previous);
  return delta > 0 ? "escalated" : delta < 0 ? "deescalated" : "updated";
}

export interface ChangeEventDetail {
  schema_version: number;
  /** `<incident_id>:<modification_time>`: the same for every delivery of one version; deduplicate on it. */
  version_id: string;
  change: ChangeKind;
  incident_id: string;
  incident_name: string | null;
  /** What the pipeline judges by: the higher of `detected_severity` and `manual_severity`. */
  severity: string;
  detected_severity: string;
  manual_severity: string | null;
  status: string;
  previous: {
    severity: string | null;
    manual_severity: string | null;
    status: string | null;
    modification_time: number;
  } | null;
  alert_count: number | null;
  alerts_by_severity: IncidentDigest["alertsBySeverity"];
  /** Alerts in the archived object (the API returns at most alertsLimit of alert_count). */
  alerts_archived: number;
  /** False when the batch endpoint cut the alerts: the complete object follows under the same key, with no new event. */
  alerts_complete: boolean;
  host_count: number | null;
  hosts: string[];
  users: string[];
  mitre_tactics: string[];
  description: string | null;
  creation_time: number;
  modification_time: number;
  console_url: string | null;
  archive: { bucket: string; key: string };
  /** Fields shortened to keep the event under the size limit: read the archive object for all of it. */
  truncated: string[];
}

export interface ChangeEventInput {
  digest: IncidentDigest;
  /** The incident state's newest archived version before this one was recorded. */
  previous: PreviousArchived;
  alertsReturned: number;
  alertsComplete: boolean;
  archive: { bucket: string; key: string };
}

/**
 * One event per version: none when the state already had this version (the complete object after a partial
 * one, a redelivered message) or a newer one (a stale reply archived late).
 */
export function isNewVersion(input: ChangeEventInput): boolean {
  const before = input.previous?.modification_time;
  return before === undefined || before < input.digest.modificationTime;
}

const clip = (value: string, max: number) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

function previousOf(previous: PreviousArchived): ChangeEventDetail["previous"] {
  if (previous === undefined || previous === null) return null;
  return {
    severity: previous.severity ?? null,
    manual_severity: previous.manual_severity ?? null,
    status: previous.status ?? null,
    modification_time: previous.modification_time,
  };
}

function fullDetail(input: ChangeEventInput): ChangeEventDetail {
  const { digest } = input;
  return {
    schema_version: CHANGE_EVENT_SCHEMA_VERSION,
    version_id: `${digest.incidentId}:${digest.modificationTime}`,
    change: classifyChange(input.previous, archivedFacts(digest)),
    incident_id: digest.incidentId,
    incident_name: digest.name,
    severity: effectiveSeverity(digest.severity, digest.manualSeverity),
    detected_severity: digest.severity,
    manual_severity: digest.manualSeverity ?? null,
    status: digest.status,
    previous: previousOf(input.previous),
    alert_count: digest.alertCount,
    alerts_by_severity: digest.alertsBySeverity,
    alerts_archived: input.alertsReturned,
    alerts_complete: input.alertsComplete,
    host_count: digest.hostCount,
    hosts: digest.hosts,
    users: digest.users,
    mitre_tactics: digest.mitreTactics,
    description: digest.description,
    creation_time: digest.creationTime,
    modification_time: digest.modificationTime,
    console_url: digest.xdrUrl,
    archive: input.archive,
    truncated: [],
  };
}

const LISTS = ["hosts", "users", "mitre_tactics"] as const;

/** Caps every free-form field, then halves the lists until the detail fits DETAIL_MAX_BYTES. */
export function buildChangeEventDetail(input: ChangeEventInput): ChangeEventDetail {
  const detail = fullDetail(input);
  const truncated = new Set<string>();
  const capText = (field: "incident_name" | "description", max: number) => {
    const value = detail[field];
    if (value !== null && value.length > max) {
      detail[field] = clip(value, max);
      truncated.add(field);
    }
  };
  capText("incident_name", LIST_ENTRY_CHARS_MAX);
  capText("description", TEXT_CHARS_MAX);
  for (const list of LISTS) {
    const capped = detail[list].slice(0, LIST_ENTRIES_MAX).map((entry) => clip(entry, LIST_ENTRY_CHARS_MAX));
    if (capped.length < detail[list].length || capped.some((entry, i) => entry !== detail[list][i]))
      truncated.add(list);
    detail[list] = capped;
  }
  while (bytes(detail) > DETAIL_MAX_BYTES && LISTS.some((list) => detail[list].length > 0)) {
    for (const list of LISTS) {
      if (detail[list].length === 0) continue;
      detail[list] = detail[list].slice(0, Math.floor(detail[list].length / 2));
      truncated.add(list);
    }
  }
  // Ids, keys and URLs are bounded by the API and S3; a pathological one still must not break the limit.
  if (bytes(detail) > DETAIL_MAX_BYTES) {
    detail.description = null;
    detail.console_url = detail.console_url === null ? null : clip(detail.console_url, LIST_ENTRY_CHARS_MAX);
    truncated.add("description");
  }
  detail.truncated = [...truncated].sort();
  return detail;
}

/** One PutEvents entry; `resources` names the archived object so a rule can match on it too. */
export interface ChangeEventEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  Resources: string[];
  Time: Date;
  EventBusName?: string;
}

export function changeEventEntry(
  detail: ChangeEventDetail,
  time: Date,
  eventBusName?: string,
): ChangeEventEntry {
  return {
    Source: CHANGE_EVENT_SOURCE,
    DetailType: CHANGE_EVENT_DETAIL_TYPE,
    Detail: JSON.stringify(detail),
    Resources: [`arn:aws:s3:::${detail.archive.bucket}/${detail.archive.key}`],
    Time: time,
    ...(eventBusName === undefined ? {} : { EventBusName: eventBusName }),
  };
}

/** The size EventBridge counts for an entry (its documented formula: time, source, detail-type, detail, resources). */
export function entrySize(entry: ChangeEventEntry): number {
  const utf8 = (value: string) => Buffer.byteLength(value, "utf8");
  return (
    14 +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    entry.Resources.reduce((sum, r) => sum + utf8(r), 0)
  );
}
