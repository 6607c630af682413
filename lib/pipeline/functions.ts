// The two functions and what triggers them: the scheduled poller and the queue-driven, paced enricher.
// Each resource a function uses comes through one bindX() call: its variable and its grant together.
import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import {
  enricherEnvironmentSchema,
  pollerEnvironmentSchema,
} from "../../functions/shared/lambda-environment.ts";
import { ENRICHER_SERVICE, POLLER_SERVICE } from "../../functions/shared/metric-names.ts";
import { type PipelineConfig, POLLER_TIMEOUT_SECONDS, pollWindowSeconds } from "../config.ts";
import { PipelineFunction } from "../pipeline-function.ts";
import type { IncidentQueue } from "./queue.ts";
import { ArchiveKeys, type ArchiveStorage } from "./storage.ts";
import type { PipelineTopics } from "./topics.ts";

export const POLLER_TIMEOUT = Duration.seconds(POLLER_TIMEOUT_SECONDS);

type PollerVariable = keyof typeof pollerEnvironmentSchema.shape;
type EnricherVariable = keyof typeof enricherEnvironmentSchema.shape;

export interface PipelineFunctionsProps {
  readonly config: PipelineConfig;
  readonly storage: ArchiveStorage;
  readonly queue: IncidentQueue;
  readonly topics: PipelineTopics;
  readonly secret: secretsmanager.ISecret;
  readonly enricherTimeout: Duration;
}

export class PipelineFunctions {
  readonly poller: PipelineFunction<PollerVariable>;
  readonly enricher: PipelineFunction<EnricherVariable>;

  /** Built in the pipeline's own scope, so functions, roles and log groups keep their logical IDs. */
  constructor(scope: Construct, props: PipelineFunctionsProps) {
    this.poller = createPoller(scope, props);
    this.enricher = createEnricher(scope, props);
  }
}

/** Reads the tenant on a schedule and queues one message per incident version. */
function createPoller(scope: Construct, { config, storage, queue, secret }: PipelineFunctionsProps) {
  const poller = new PipelineFunction(scope, "Poller", {
    entry: "functions/poller/handler.ts",
    description: "Cortex incident export: polls get_incidents and queues new incident versions",
    serviceName: POLLER_SERVICE,
    environmentSchema: pollerEnvironmentSchema,
    environment: {
      CORTEX_API_URL: config.cortexApiUrl,
      CORTEX_PRODUCT: config.product,
      INCIDENT_FILTERS: JSON.stringify(config.incidentFilters),
      FIRST_RUN_LOOKBACK_MINUTES: String(config.firstRunLookbackMinutes),
      NOTIFY_MIN_SEVERITY: config.notifyMinSeverity,
      POLL_INTERVAL_SECONDS: String(config.pollIntervalSeconds),
      POLL_WINDOW_SECONDS: String(pollWindowSeconds(config.schedule)),
      LATE_ARRIVAL_WINDOW_SECONDS: String(config.lateArrivalWindowMinutes * 60),
    },
    timeout: POLLER_TIMEOUT,
    logRetention: config.logRetentionDays as logs.RetentionDays,
    // One run at a time: two pollers would read and advance the same cursor concurrently.
    reservedConcurrentExecutions: 1,
  });
  // A tick that finds the previous run still going is throttled; drop it after a minute, the next tick polls anyway.
  poller.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
  new events.Rule(scope, "PollSchedule", {
    description: "Runs the Cortex incident poller",
    schedule: events.Schedule.expression(config.schedule),
    targets: [new targets.LambdaFunction(poller, { retryAttempts: 0 })],
  });
  poller
    // get_incidents items that fail the schema are kept raw there, so one never blocks the rest.
    .bindObjects("ARCHIVE_BUCKET", storage.archiveBucket, {
      readWrite: [ArchiveKeys.cursor],
      write: [`${ArchiveKeys.quarantine}*`],
    })
    .bindQueueSender("INCIDENT_QUEUE_URL", queue.queue)
    .bindQueueSender("PRIORITY_QUEUE_URL", queue.priorityQueue)
    .bindSecretReader("CORTEX_SECRET_ARN", secret);
  return poller;
}

/** Paced extra-data calls, archive, notify: the only caller of the extra-data endpoints and the only publisher. */
function createEnricher(
  scope: Construct,
  { config, storage, queue, topics, secret, enricherTimeout }: PipelineFunctionsProps,
) {
  const enricher = new PipelineFunction(scope, "Enricher", {
    entry: "functions/enricher/handler.ts",
    description: "Cortex incident export: fetches extra data, archives to S3, notifies on SNS",
    serviceName: ENRICHER_SERVICE,
    environmentSchema: enricherEnvironmentSchema,
    environment: {
      CORTEX_API_URL: config.cortexApiUrl,
      CORTEX_PRODUCT: config.product,
      ALERTS_LIMIT: String(config.alertsLimit),
      API_BUDGET_PER_MINUTE: String(config.apiBudgetPerMinute),
      BATCH_API_BUDGET_PER_MINUTE: String(config.batchApiBudgetPerMinute),
      ENRICHER_MODE: config.enricher.mode,
      MAX_CONCURRENCY: String(config.enricher.maxConcurrency),
      NOTIFY_MIN_SEVERITY: config.notifyMinSeverity,
    },
    timeout: enricherTimeout,
    // Archiving a 1,000-alert reply (4 MB of JSON) adds about 40 MB (BENCHMARKS.md, benchmark 2), and most
    // of each invocation is spent waiting for its API slot, billed by memory: 256 MB is ample and half the cost.
    memorySize: 256,
    logRetention: config.logRetentionDays as logs.RetentionDays,
    // No reserved concurrency: the event source's maxConcurrency limits it without throttling messages into the DLQ.
  });
  enricher
    .bindQueueConsumer(
      "INCIDENT_QUEUE_URL",
      queue.queue,
      {
        batchSize: config.enricher.batchSize,
        // One invocation fills one batch call: the event source gathers up to 100 messages or this long.
        ...(config.enricher.batchingWindowSeconds > 0
          ? { maxBatchingWindow: Duration.seconds(config.enricher.batchingWindowSeconds) }
          : {}),
        maxConcurrency: config.enricher.maxConcurrency,
        reportBatchItemFailures: true,
      },
      // Batch mode hands messages it could not start back to the queue as new ones (functions/enricher/requeue.ts).
      { requeue: config.enricher.mode !== "single" },
    )
    .bindQueueReceiver("PRIORITY_QUEUE_URL", queue.priorityQueue)
    .bindObjects("ARCHIVE_BUCKET", storage.archiveBucket, {
      readWrite: [`${ArchiveKeys.incidentState}*`],
      // Replies that are not JSON are kept in quarantine for diagnosis before the message is retried.
      write: [`${ArchiveKeys.incidents}*`, `${ArchiveKeys.quarantine}*`],
    })
    .bindTopicPublisher("INCIDENT_TOPIC_ARN", topics.incidentTopic, topics.incidentTopicKey)
    .bindSecretReader("CORTEX_SECRET_ARN", secret);
  return enricher;
}
