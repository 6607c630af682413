// What every step of the enricher works with: the clients, the settings and the invocation's clock.
// Built once per invocation (invocation.ts) and narrowed per message only by its logger.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { ChangeEventPublisher } from "../shared/change-event-publisher.ts";
import type { ExtraDataSource, IncidentLookup } from "../shared/cortex/api.ts";
import type { NotifySeverity } from "../shared/cortex/vocabulary.ts";
import type { ApiBudgetPacer } from "../shared/pacing.ts";

export interface EnrichmentContext {
  s3: S3Client;
  sns: SNSClient;
  bucket: string;
  topicArn: string;
  extraData: ExtraDataSource;
  /** Confirms a "not found" answer (get_incidents by id); without it one answer is taken as proof. */
  incidentLookup?: IncidentLookup | undefined;
  alertsLimit: number;
  notifyMinSeverity: NotifySeverity;
  consoleBaseUrl?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Slots of the single-incident endpoint's budget. */
  pacer: ApiBudgetPacer;
  now: () => number;
  /** Epoch ms after which no API call starts. */
  deadline: number;
  /** Epoch ms when the invocation ends (Lambda stops it at its timeout). */
  invocationEndsAt: number;
  /** Incidents the priority lane served in this invocation: checked again after the slot wait. */
  servedByPriorityLane?: ReadonlySet<string> | undefined;
  /** Collects each newly archived version's change event; the handler sends them (none: no events). */
  changeEvents?: ChangeEventPublisher | undefined;
}
