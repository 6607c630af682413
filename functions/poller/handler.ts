// Lambda entry for the EventBridge schedule: configuration and clients are built once per cold start,
// each invocation polls every POLL_INTERVAL_SECONDS within the schedule's period (poll-loop.ts), each poll
// one run (create-handler.ts).
import type { Context } from "aws-lambda";
import { createS3Client, createSqsClient } from "../shared/aws-clients.ts";
import { CortexClient } from "../shared/cortex/client.ts";
import { createCredentialsProvider } from "../shared/cortex/secret.ts";
import { POLLER_SERVICE } from "../shared/metric-names.ts";
import { createPowertools } from "../shared/powertools.ts";
import { readPollerConfig } from "./config.ts";
import { createPollerHandler } from "./create-handler.ts";
import { createPollLoop, type PollInvocationSummary } from "./poll-loop.ts";

const config = readPollerConfig(process.env);
const { logger, metrics } = createPowertools(POLLER_SERVICE);

const pollOnce = createPollerHandler({
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
  priority: config.priority,
  lateWindowMs: config.lateWindowMs,
  logger,
  metrics,
});
const pollIncidents = createPollLoop(pollOnce, {
  intervalMs: config.pollIntervalMs,
  windowMs: config.pollWindowMs,
  logger,
});

export const handler = async (event: unknown, context: Context): Promise<PollInvocationSummary> => {
  logger.addContext(context);
  metrics.captureColdStartMetric();
  return pollIncidents(event, context);
};
