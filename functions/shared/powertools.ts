// One place that builds the Powertools Logger and Metrics for a function, so every function logs and
// emits metrics the same way (namespace and service are the contract the stack's alarms rely on).
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { METRICS_NAMESPACE } from "./metric-names.ts";

export interface Powertools {
  logger: Logger;
  metrics: Metrics;
}

export function createPowertools(serviceName: string): Powertools {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
  };
}
