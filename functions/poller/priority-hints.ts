// The priority lane's producer: versions at or above the notification threshold (judged on the severity
// the poller already has, the higher of severity and manual_severity) are also sent to the priority queue,
// which the enricher drains before each API call. A hint is only a hint: the same version is already on
// the ordinary queue (the durable path), so a hint that cannot be sent is logged and counted, never fatal.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { IncidentSummary } from "../shared/cortex/api.ts";
import {
  effectiveSeverity,
  type NotifySeverity,
  SEVERITY_RANK,
  severityRank,
} from "../shared/cortex/vocabulary.ts";
import { PollerMetric } from "../shared/metric-names.ts";
import { reportUnrankedSeverities } from "../shared/unranked-severity.ts";
import { EnqueueError, enqueueIncidentVersions, SQS_BATCH_SIZE } from "./enqueue.ts";

export interface PriorityRouting {
  queueUrl: string;
  /** The notification threshold: versions at or above it go ahead of everything else. */
  minSeverity: NotifySeverity;
}

export interface PriorityHintContext {
  sqs: SQSClient;
  routing: PriorityRouting;
  polledAt: number;
  logger: Logger;
  metrics: Metrics;
  sleep?: (ms: number) => Promise<void>;
}

/** A hint is resent once: losing it costs time, not data, so the poll run does not wait on it longer. */
const HINT_ATTEMPTS = 2;

export function isPriorityVersion(incident: IncidentSummary, minSeverity: NotifySeverity): boolean {
  const manual = typeof incident.manual_severity === "string" ? incident.manual_severity : null;
  // A severity the pipeline cannot rank counts as the threshold: in doubt, it goes ahead.
  return (
    severityRank(effectiveSeverity(incident.severity, manual), minSeverity) >= SEVERITY_RANK[minSeverity]
  );
}

/** Sends the page's priority versions to the priority queue; resolves with how many were sent. */
export async function sendPriorityHints(
  incidents: readonly IncidentSummary[],
  context: PriorityHintContext,
): Promise<number> {
  reportUnrankedSeverities(incidents, context.routing.minSeverity, context);
  const urgent = incidents.filter((incident) => isPriorityVersion(incident, context.routing.minSeverity));
  let sent = 0;
  // Chunk by chunk, so one failing batch call does not keep the other hints back.
  for (let start = 0; start < urgent.length; start += SQS_BATCH_SIZE) {
    const chunk = urgent.slice(start, start + SQS_BATCH_SIZE);
    try {
      sent += await enqueueIncidentVersions(chunk, {
        sqs: context.sqs,
        queueUrl: context.routing.queueUrl,
        polledAt: context.polledAt,
        maxAttempts: HINT_ATTEMPTS,
        ...(context.sleep === undefined ? {} : { sleep: context.sleep }),
      });
    } catch (error) {
      const failed = error instanceof EnqueueError ? error.failures.length : chunk.length;
      sent += chunk.length - failed;
      context.metrics.addMetric(PollerMetric.PriorityHintsFailed, MetricUnit.Count, failed);
      context.logger.warn(
        "Could not send priority hints; those versions wait their turn on the ordinary queue",
        {
          failed,
          incident_ids: chunk.map((incident) => incident.incident_id),
          error: error instanceof Error ? error.message : String(error),
        },
      );
    }
  }
  if (urgent.length > 0) context.metrics.addMetric(PollerMetric.PriorityHintsSent, MetricUnit.Count, sent);
  return sent;
}
