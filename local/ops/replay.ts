// `ops replay`: fetches the given incidents again and archives their current version now, through the
// enricher's own handler (pacing, archive write, notification claim), run in this process as one more
// enricher instance. The incident's state record is corrected first, or the enricher would skip a
// version the archive already holds as a duplicate; notification state is kept, so nobody is told twice.
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { createEnricherHandler } from "../../functions/enricher/create-handler.ts";
import { incidentVersionMessage } from "../../functions/poller/enqueue.ts";
import type { IncidentSummary } from "../../functions/shared/cortex/api.ts";
import type { CortexClient } from "../../functions/shared/cortex/client.ts";
import { MAX_INCIDENT_IDS } from "../../functions/shared/cortex/request.ts";
import { readIncidentState } from "../../functions/shared/incident-state.ts";
import { ENRICHER_SERVICE, METRICS_NAMESPACE } from "../../functions/shared/metric-names.ts";
import { consoleBaseUrlFor } from "../../functions/shared/notification.ts";
import type { OpsTarget } from "./target.ts";
import { forgetArchivedVersion } from "./verify.ts";

/** Room for the enricher's own margins (one request plus the writes) on top of the paced calls. */
const INVOCATION_MARGIN_MS = 120_000;

export interface ReplayOutcome {
  incident_id: string;
  outcome: "archived" | "not_in_tenant" | "not_found" | "failed";
  key?: string;
  modification_time?: number;
}

export interface ReplayInput {
  target: OpsTarget;
  incidentIds: readonly string[];
  incidents: Pick<CortexClient, "getIncidents" | "getIncidentExtraData">;
  now?: () => number;
}

export async function replayIncidents(input: ReplayInput): Promise<ReplayOutcome[]> {
  const { target } = input;
  const now = input.now ?? Date.now;
  const listed = await listIncidents(input);
  for (const incident of listed.values()) await forgetArchivedVersion(target.s3, target.bucket, incident);
  const records = [...listed.values()].map((incident) => replayRecord(incident, now()));
  const settings = target.settings;
  const handler = createEnricherHandler({
    s3: target.s3,
    sqs: target.sqs,
    sns: target.sns,
    bucket: target.bucket,
    queueUrl: target.queueUrl,
    topicArn: target.topicArn,
    extraData: input.incidents,
    alertsLimit: settings.alertsLimit,
    budgetPerMinute: settings.budgetPerMinute,
    maxConcurrency: settings.maxConcurrency,
    notifyMinSeverity: settings.notifyMinSeverity,
    ...optionalConsoleUrl(settings.cortexApiUrl),
    logger: new Logger({ serviceName: ENRICHER_SERVICE, logLevel: "ERROR" }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: ENRICHER_SERVICE }),
    now,
  });
  const intervalMs = (60_000 * settings.maxConcurrency) / settings.budgetPerMinute;
  const endsAt = now() + records.length * intervalMs * 1.1 + INVOCATION_MARGIN_MS;
  const failed = new Set<string>();
  if (records.length > 0) {
    const response = await handler({ Records: records } as SQSEvent, {
      getRemainingTimeInMillis: () => endsAt - now(),
    });
    for (const failure of response.batchItemFailures) failed.add(failure.itemIdentifier);
  }
  const outcomes: ReplayOutcome[] = [];
  for (const id of input.incidentIds) {
    const incident = listed.get(id);
    if (incident === undefined) outcomes.push({ incident_id: id, outcome: "not_in_tenant" });
    else if (failed.has(messageId(id))) outcomes.push({ incident_id: id, outcome: "failed" });
    else outcomes.push(await outcomeFromState(target, incident));
  }
  return outcomes;
}

function optionalConsoleUrl(apiUrl: string): { consoleBaseUrl?: string } {
  const url = apiUrl === "" ? undefined : consoleBaseUrlFor(apiUrl);
  return url === undefined ? {} : { consoleBaseUrl: url };
}

/** The incidents' current versions, 100 ids per get_incidents call. */
async function listIncidents(input: ReplayInput): Promise<Map<string, IncidentSummary>> {
  const found = new Map<string, IncidentSummary>();
  const ids = [...new Set(input.incidentIds)];
  for (let start = 0; start < ids.length; start += MAX_INCIDENT_IDS) {
    const reply = await input.incidents.getIncidents({
      filters: [
        { field: "incident_id_list", operator: "in", value: ids.slice(start, start + MAX_INCIDENT_IDS) },
      ],
      search_from: 0,
      search_to: MAX_INCIDENT_IDS,
    });
    for (const incident of reply.incidents) found.set(incident.incident_id, incident);
  }
  return found;
}

const messageId = (incidentId: string) => `replay-${incidentId}`;

/** What Lambda's SQS event source would hand the enricher for this version. */
function replayRecord(incident: IncidentSummary, at: number): SQSRecord {
  return {
    messageId: messageId(incident.incident_id),
    receiptHandle: "",
    body: JSON.stringify(incidentVersionMessage(incident, at)),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(at),
      SenderId: "ops-replay",
      ApproximateFirstReceiveTimestamp: String(at),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "",
    awsRegion: "",
  };
}

async function outcomeFromState(target: OpsTarget, incident: IncidentSummary): Promise<ReplayOutcome> {
  const record = (await readIncidentState(target.s3, target.bucket, incident.incident_id))?.record;
  if (record?.archived && record.archived.modification_time >= incident.modification_time) {
    return {
      incident_id: incident.incident_id,
      outcome: "archived",
      key: record.archived.key,
      modification_time: record.archived.modification_time,
    };
  }
  if (record?.not_found) return { incident_id: incident.incident_id, outcome: "not_found" };
  return { incident_id: incident.incident_id, outcome: "failed" };
}

export function formatReplay(outcomes: readonly ReplayOutcome[]): string {
  const text: Record<ReplayOutcome["outcome"], (o: ReplayOutcome) => string> = {
    archived: (o) => `archived ${o.key}`,
    not_in_tenant: () => "not in the tenant (get_incidents does not list it): nothing archived",
    not_found: () => "the API says it does not exist (get_incident_extra_data): recorded, nothing archived",
    failed: () => "FAILED: see the error above; nothing new was archived",
  };
  return `${outcomes.map((o) => `incident ${o.incident_id}: ${text[o.outcome](o)}`).join("\n")}\n`;
}
