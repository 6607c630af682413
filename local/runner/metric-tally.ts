// What the Lambda code counted, read back by the runner: the summary reports the very figures the
// functions emit as CloudWatch metrics (not-found incidents, for instance), so the two cannot disagree.
import type { Metrics } from "@aws-lambda-powertools/metrics";

export class MetricTally {
  readonly #totals = new Map<string, number>();

  /** Counts every metric added to `metrics` from now on; returns it. */
  watch(metrics: Metrics): Metrics {
    const add = metrics.addMetric.bind(metrics);
    metrics.addMetric = (name, unit, value, resolution) => {
      this.#totals.set(name, (this.#totals.get(name) ?? 0) + value);
      return add(name, unit, value, resolution);
    };
    return metrics;
  }

  total(name: string): number {
    return this.#totals.get(name) ?? 0;
  }
}
