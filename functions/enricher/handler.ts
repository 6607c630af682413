// The enricher Lambda entry point: reads its configuration once at cold start, builds the clients and
// the Cortex client, and hands every SQS batch to the domain handler. Metrics are flushed per invocation.
import { SNSClient } from "@aws-sdk/client-sns";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { z } from "zod";
import { createS3Client, createSqsClient } from "../shared/aws-clients.ts";
import { eventBridgePublisher } from "../shared/change-event-publisher.ts";
import { CortexClient } from "../shared/cortex/client.ts";
import { createCredentialsProvider } from "../shared/cortex/secret.ts";
import { enricherEnvironmentSchema } from "../shared/lambda-environment.ts";
import { ENRICHER_SERVICE } from "../shared/metric-names.ts";
import { consoleBaseUrlFor } from "../shared/notification.ts";
import { createPowertools } from "../shared/powertools.ts";
import { createEnricherHandler } from "./create-handler.ts";
import { EnricherConfigurationError } from "./errors.ts";

const parsedEnvironment = enricherEnvironmentSchema.safeParse(process.env);
if (!parsedEnvironment.success) {
  throw new EnricherConfigurationError(
    `The enricher's environment variables are not valid (the stack sets them):\n${z.prettifyError(parsedEnvironment.error)}`,
  );
}
const environment = parsedEnvironment.data;
const { logger, metrics } = createPowertools(ENRICHER_SERVICE);

const cortex = new CortexClient({
  baseUrl: environment.CORTEX_API_URL,
  product: environment.CORTEX_PRODUCT,
  credentials: createCredentialsProvider(environment.CORTEX_SECRET_ARN),
});

const enrich = createEnricherHandler({
  s3: createS3Client(),
  sqs: createSqsClient(),
  sns: new SNSClient({}),
  bucket: environment.ARCHIVE_BUCKET,
  queueUrl: environment.INCIDENT_QUEUE_URL,
  topicArn: environment.INCIDENT_TOPIC_ARN,
  extraData: cortex,
  batchExtraData: cortex,
  mode: environment.ENRICHER_MODE,
  batchBudgetPerMinute: environment.BATCH_API_BUDGET_PER_MINUTE,
  incidentLookup: cortex,
  alertsLimit: environment.ALERTS_LIMIT,
  budgetPerMinute: environment.API_BUDGET_PER_MINUTE,
  maxConcurrency: environment.MAX_CONCURRENCY,
  notifyMinSeverity: environment.NOTIFY_MIN_SEVERITY,
  consoleBaseUrl: consoleBaseUrlFor(environment.CORTEX_API_URL),
  priorityQueueUrl: environment.PRIORITY_QUEUE_URL,
  changeEvents: eventBridgePublisher(environment.EVENT_BUS_NAME, logger, metrics),
  logger,
  metrics,
});

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await enrich(event, context);
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
