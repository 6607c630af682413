// The enricher's configuration, read once at cold start from the environment the stack sets (as the
// poller's is, functions/poller/config.ts): a missing or malformed variable fails the cold start by name.
import { z } from "zod";
import type { CortexProduct } from "../shared/cortex/api.ts";
import type { NotifySeverity } from "../shared/cortex/vocabulary.ts";
import { type EnricherMode, enricherEnvironmentSchema } from "../shared/lambda-environment.ts";

export interface EnricherConfig {
  bucket: string;
  queueUrl: string;
  topicArn: string;
  secretArn: string;
  apiUrl: string;
  product: CortexProduct;
  mode: EnricherMode;
  alertsLimit: number;
  budgetPerMinute: number;
  batchBudgetPerMinute: number;
  maxConcurrency: number;
  notifyMinSeverity: NotifySeverity;
  priorityQueueUrl: string | undefined;
  /** Where change events go ("default": the account's default bus; undefined: no events). */
  eventBusName: string | undefined;
}

/** The environment is missing a variable or holds a malformed one; the message names it. */
export class EnricherConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnricherConfigError";
  }
}

export function readEnricherConfig(env: Record<string, string | undefined>): EnricherConfig {
  const parsed = enricherEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new EnricherConfigError(
      `The enricher's environment variables are not valid (the stack sets them):\n${z.prettifyError(parsed.error)}`,
    );
  }
  const environment = parsed.data;
  return {
    bucket: environment.ARCHIVE_BUCKET,
    queueUrl: environment.INCIDENT_QUEUE_URL,
    topicArn: environment.INCIDENT_TOPIC_ARN,
    secretArn: environment.CORTEX_SECRET_ARN,
    apiUrl: environment.CORTEX_API_URL,
    product: environment.CORTEX_PRODUCT,
    mode: environment.ENRICHER_MODE,
    alertsLimit: environment.ALERTS_LIMIT,
    budgetPerMinute: environment.API_BUDGET_PER_MINUTE,
    batchBudgetPerMinute: environment.BATCH_API_BUDGET_PER_MINUTE,
    maxConcurrency: environment.MAX_CONCURRENCY,
    notifyMinSeverity: environment.NOTIFY_MIN_SEVERITY,
    priorityQueueUrl: environment.PRIORITY_QUEUE_URL,
    eventBusName: environment.EVENT_BUS_NAME,
  };
}
