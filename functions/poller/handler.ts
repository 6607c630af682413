// Lambda entry for the EventBridge schedule: configuration and clients are built once per cold start,
// each invocation is one poll run (see create-handler.ts).
import type { Context } from "aws-lambda";
import { createS3Client, createSqsClient } from "../shared/aws-clients.ts";
import { CortexClient } from "../shared/cortex/client.ts";
import { createCredentialsProvider } from "../shared/cortex/secret.ts";
import { POLLER_SERVICE } from "../shared/metric-names.ts";
import { createPowertools } from "../shared/powertools.ts";
import { readPollerConfig } from "./config.ts";
import { createPollerHandler, type PollRunSummary } from "./create-handler.ts";

const config = readPollerConfig(process.env);
const { logger, metrics } = createPowertools(POLLER_SERVICE);

const pollIncidents = createPollerHandler({
  s3: createS3Client(),
  sqs: createSqsClient(),
  bucket: config.bucket,
  queueUrl: config.queueUrl,
  incidents: new CortexClient({
    baseUrl: config.apiUrl,
    product: config.product,
    credentials: createCredentialsProvider(config.secretArn),
  }),
  filters: config.filters,
  firstRunLookbackMs: config.firstRunLookbackMs,
  logger,
  metrics,
});

export const handler = async (event: unknown, context: Context): Promise<PollRunSummary> => {
  logger.addContext(context);
  metrics.captureColdStartMetric();
  return pollIncidents(event, context);
};
