// Powertools for tests: a silent logger, and Metrics that record what the code under test adds and
// publishes instead of printing EMF to stdout.
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { vi } from "vitest";
import { METRICS_NAMESPACE } from "../../functions/shared/metric-names.ts";

export function silentLogger(serviceName = "test"): Logger {
  return new Logger({ serviceName, logLevel: "SILENT" });
}

/**
 * Metrics whose addMetric calls are recorded (`total`, `values`) and whose published EMF documents are kept
 * in `published` (one per flush) instead of being printed.
 */
export function recordingMetrics(serviceName = "test") {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  const addMetric = vi.spyOn(metrics, "addMetric");
  const published: Record<string, unknown>[] = [];
  metrics.publishStoredMetrics = () => {
    published.push(metrics.serializeMetrics() as unknown as Record<string, unknown>);
    metrics.clearMetrics();
    return metrics;
  };
  const calls = (name: string) => addMetric.mock.calls.filter(([metric]) => metric === name);
  return {
    metrics,
    published,
    total: (name: string): number => calls(name).reduce((sum, [, , value]) => sum + value, 0),
    values: (name: string): number[] => calls(name).map(([, , value]) => value),
  };
}
