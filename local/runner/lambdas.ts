// The real poller and enricher handlers, built with the runner's clients the way each Lambda's handler.ts
// builds them from its environment: same code, local collaborators.

import { writeFileSync } from "node:fs";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { createEnricherHandler } from "../../functions/enricher/create-handler.ts";
import { createPollerHandler } from "../../functions/poller/create-handler.ts";
import {
  ChangeEventPublisher,
  type ChangeEventTarget,
  jsonLinesTarget,
} from "../../functions/shared/change-event-publisher.ts";
import type { CortexClient } from "../../functions/shared/cortex/client.ts";
import { ENRICHER_SERVICE, METRICS_NAMESPACE, POLLER_SERVICE } from "../../functions/shared/metric-names.ts";
import { consoleBaseUrlFor } from "../../functions/shared/notification.ts";
import { LOCAL_REGION } from "../aws-endpoint.ts";
import type { LocalResources } from "./aws-resources.ts";
import type { SqsBatchHandler } from "./event-source.ts";
import { MetricTally } from "./metric-tally.ts";
import type { RunnerOptions } from "./options.ts";
import type { PipelineDeps } from "./pipeline.ts";

export interface LocalLambdas {
  poll: PipelineDeps["poll"];
  enricherHandlers: SqsBatchHandler[];
  /** Every metric the enricher instances emitted, summed. */
  enricherMetrics: MetricTally;
  /** The same per instance, in the order of enricherHandlers. */
  enricherInstanceMetrics: MetricTally[];
  /** Change events written to --events-out so far (undefined without the flag). */
  changeEventsWritten?: () => number;
}

/** Locally there is no EventBridge: --events-out gets what would be sent, one JSON line per event. */
function localChangeEvents(options: RunnerOptions) {
  const path = options.eventsOutPath;
  if (path === undefined) return undefined;
  writeFileSync(path, "");
  const file = jsonLinesTarget(path, "000000000000", LOCAL_REGION);
  let written = 0;
  const target: ChangeEventTarget = {
    async put(entries) {
      const failed = await file.put(entries);
      written += entries.length - failed.length;
      return failed;
    },
  };
  return {
    written: () => written,
    publisher: (logger: Logger, metrics: Metrics) => new ChangeEventPublisher({ target, logger, metrics }),
  };
}

export function buildLocalLambdas(input: {
  options: RunnerOptions;
  clients: { s3: S3Client; sqs: SQSClient; sns: SNSClient };
  resources: LocalResources;
  cortex: CortexClient;
  cortexUrl: string;
}): LocalLambdas {
  const { options, clients, resources, cortex } = input;
  const poller = createPowertoolsFor(POLLER_SERVICE, options.logLevel);
  const pollerHandler = createPollerHandler({
    s3: clients.s3,
    sqs: clients.sqs,
    bucket: resources.bucket,
    queueUrl: resources.queueUrl,
    incidents: cortex,
    filters: options.filters,
    firstRunLookbackMs: options.lookbackMinutes * 60_000,
    lateWindowMs: options.lateWindowMs,
    logger: poller.logger,
    metrics: poller.metrics,
    priority: { queueUrl: resources.priorityQueueUrl, minSeverity: options.notifyMinSeverity },
  });
  const consoleBaseUrl = consoleBaseUrlFor(input.cortexUrl);
  const enricherMetrics = new MetricTally();
  const enricherInstanceMetrics: MetricTally[] = [];
  const changeEvents = localChangeEvents(options);
  // One handler per concurrent instance: each is a Lambda container with its own pacer state.
  const enricherHandlers = Array.from({ length: options.maxConcurrency }, () => {
    const enricher = createPowertoolsFor(ENRICHER_SERVICE, options.logLevel);
    const instanceMetrics = new MetricTally();
    enricherInstanceMetrics.push(instanceMetrics);
    return createEnricherHandler({
      s3: clients.s3,
      sqs: clients.sqs,
      sns: clients.sns,
      bucket: resources.bucket,
      queueUrl: resources.queueUrl,
      topicArn: resources.topicArn,
      extraData: cortex,
      batchExtraData: cortex,
      mode: options.mode,
      batchBudgetPerMinute: options.batchBudgetPerMinute,
      incidentLookup: cortex,
      alertsLimit: options.alertsLimit,
      budgetPerMinute: options.budgetPerMinute,
      maxConcurrency: options.maxConcurrency,
      notifyMinSeverity: options.notifyMinSeverity,
      ...(consoleBaseUrl === undefined ? {} : { consoleBaseUrl }),
      priorityQueueUrl: resources.priorityQueueUrl,
      logger: enricher.logger,
      metrics: instanceMetrics.watch(enricherMetrics.watch(enricher.metrics)),
      changeEvents: changeEvents?.publisher(enricher.logger, enricher.metrics),
    }) as SqsBatchHandler;
  });
  return {
    poll: (context) => pollerHandler({}, context),
    enricherHandlers,
    enricherMetrics,
    enricherInstanceMetrics,
    ...(changeEvents === undefined ? {} : { changeEventsWritten: changeEvents.written }),
  };
}

/**
 * Like functions/shared/powertools.ts, but the log level comes from --log-level and the metrics' own
 * warnings go through that logger. EMF output is off unless POWERTOOLS_METRICS_DISABLED=false (bin/local.ts).
 */
function createPowertoolsFor(serviceName: string, logLevel: RunnerOptions["logLevel"]) {
  const logger = new Logger({ serviceName, logLevel });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName, logger });
  return { logger, metrics };
}
