// Lambda entry for the incident queue: configuration and clients are built once per cold start (as the
// poller's are), and every SQS batch goes to the domain handler, which publishes its metrics per invocation.
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createS3Client, createSnsClient, createSqsClient } from "../shared/aws-clients.ts";
import { eventBridgePublisher } from "../shared/change-event-publisher.ts";
import { CortexClient } from "../shared/cortex/client.ts";
import { createCredentialsProvider } from "../shared/cortex/secret.ts";
import { ENRICHER_SERVICE } from "../shared/metric-names.ts";
import { consoleBaseUrlFor } from "../shared/notification.ts";
import { createPowertools } from "../shared/powertools.ts";
import { readEnricherConfig } from "./config.ts";
import { createEnricherHandler } from "./create-handler.ts";

const config = readEnricherConfig(process.env);
const { logger, metrics } = createPowertools(ENRICHER_SERVICE);

const cortex = new CortexClient({
  baseUrl: config.apiUrl,
  product: config.product,
  credentials: createCredentialsProvider(config.secretArn),
});

const enrich = createEnricherHandler({
  s3: createS3Client(),
  sqs: createSqsClient(),
  sns: createSnsClient(),
  bucket: config.bucket,
  queueUrl: config.queueUrl,
  topicArn: config.topicArn,
  extraData: cortex,
  batchExtraData: cortex,
  mode: config.mode,
  batchBudgetPerMinute: config.batchBudgetPerMinute,
  incidentLookup: cortex,
  alertsLimit: config.alertsLimit,
  budgetPerMinute: config.budgetPerMinute,
  maxConcurrency: config.maxConcurrency,
  notifyMinSeverity: config.notifyMinSeverity,
  consoleBaseUrl: consoleBaseUrlFor(config.apiUrl),
  priorityQueueUrl: config.priorityQueueUrl,
  changeEvents: eventBridgePublisher(config.eventBusName, logger, metrics),
  logger,
  metrics,
});

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  metrics.captureColdStartMetric();
  return enrich(event, context);
};
