// Metric names are a contract between the Lambdas (which emit them) and the stack (alarms, dashboard).
export const METRICS_NAMESPACE = "CortexIncidentExport";

export const POLLER_SERVICE = "poller";
export const ENRICHER_SERVICE = "enricher";

/** Incidents whose severity neither spelling ranks: judged as the notification threshold (functions/shared/unranked-severity.ts). */
export const UNRANKED_SEVERITY_METRIC = "UnrankedSeverity";

export const PollerMetric = {
  PagesRead: "PagesRead",
  IncidentsSeen: "IncidentsSeen",
  MessagesSent: "MessagesSent",
  /** Seconds between now and the saved cursor: how far behind the tenant the archive is. */
  CursorLagSeconds: "CursorLagSeconds",
  RunDurationMs: "RunDurationMs",
  /** A run that stopped early at its time budget and left a backlog for the next run. */
  BacklogRemaining: "BacklogRemaining",
  /** Versions at or above the notification threshold also sent to the priority queue. */
  PriorityHintsSent: "PriorityHintsSent",
  /** Priority hints that could not be sent (the versions still wait on the ordinary queue). */
  PriorityHintsFailed: "PriorityHintsFailed",
  UnrankedSeverity: UNRANKED_SEVERITY_METRIC,
  /** get_incidents items that failed the schema, kept raw under state/quarantine/listing/. */
  QuarantinedIncidents: "QuarantinedIncidents",
  /** Versions found only because the walk re-read the late-arrival window (listed after the cursor passed them). */
  LateVersions: "LateVersions",
  /** Per late version: seconds from its modification_time to the poll that found it. Size the window from it. */
  LateVersionLatenessSeconds: "LateVersionLatenessSeconds",
  /** Late versions found in the overrun band, later than the window: sent, but the window is too small. */
  LateBeyondWindow: "LateBeyondWindow",
  /** A listed version older than one already sent for the same incident: the index went back in time. */
  VersionOlderThanSent: "VersionOlderThanSent",
  /** An incident listed twice in one walk at different modification times. */
  ListedTwiceInWalk: "ListedTwiceInWalk",
  /** Ids get_incidents named in restricted_incident_ids: incidents the API key may not see, never queued. */
  RestrictedIncidents: "RestrictedIncidents",
  /** Runs whose record of sent versions was cut at its cap, so the window read was shorter than configured. */
  LateWindowShortened: "LateWindowShortened",
} as const;

export const EnricherMetric = {
  /** get_incident_extra_data calls (one incident each). */
  ExtraDataCalls: "ExtraDataCalls",
  /** get_multiple_incidents_extra_data calls (up to 100 incidents each). */
  BatchExtraDataCalls: "BatchExtraDataCalls",
  /** Versions archived with only the alerts the batch endpoint returned; the single call completes them. */
  ArchivedPartial: "ArchivedPartial",
  /** Incidents asked of the batch endpoint that its reply did not hold: confirmed with the single call. */
  BatchAbsent: "BatchAbsent",
  /** Batch reply elements that name no incident asked for: kept in quarantine (no id) or skipped (not asked). */
  BatchElementsUnmatched: "BatchElementsUnmatched",
  /** mode auto on a tenant without the batch endpoint: single calls served this invocation instead. */
  BatchEndpointUnavailable: "BatchEndpointUnavailable",
  /** Messages sent back to the queue as new messages: not started before the deadline, or a short batch's single calls spread to other instances. */
  Requeued: "Requeued",
  /** Messages an invocation returned failed without having started them (after a throttle, an access problem or at the deadline): they were never tried. */
  NotStarted: "NotStarted",
  Throttles: "Throttles",
  Archived: "Archived",
  Notified: "Notified",
  SchemaWarnings: "SchemaWarnings",
  /** Messages skipped because the archive already holds that version or a later one. */
  Coalesced: "Coalesced",
  IncidentNotFound: "IncidentNotFound",
  /** A "not found" answer for an incident get_incidents still lists: not recorded, the message is retried. */
  NotFoundUnconfirmed: "NotFoundUnconfirmed",
  /** Seconds between the incident's modification_time and its archive write. */
  EndToEndLagSeconds: "EndToEndLagSeconds",
  /** Seconds from the poll that first read a version to its SNS publish, per notification. */
  TimeToAlert: "TimeToAlert",
  /** Priority hints received before an API call, to be served first. */
  PriorityHintsTaken: "PriorityHintsTaken",
  /** Priority hints that did not parse (deleted; their ordinary copies are still queued). */
  PriorityHintsInvalid: "PriorityHintsInvalid",
  /** ReceiveMessage on the priority queue failed; the ordinary lane was served instead. */
  PriorityReceiveFailures: "PriorityReceiveFailures",
  UnrankedSeverity: UNRANKED_SEVERITY_METRIC,
  /** Change events accepted by EventBridge (one per archived version). */
  ChangeEventsSent: "ChangeEventsSent",
  /** Change events still refused after every retry: logged and dropped, the archive has the versions. */
  ChangeEventsFailed: "ChangeEventsFailed",
} as const;
