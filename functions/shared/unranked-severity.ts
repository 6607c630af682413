// A severity the pipeline cannot rank (neither spelling in cortex/vocabulary.ts) is judged as if it were
// at the notification threshold: in doubt an incident is notified and sent ahead rather than dropped
// silently. This is the one place that says so: a WARN with the value and the UnrankedSeverity metric,
// from the poller (priority lane) and the enricher (notification), the two paths that rank a severity.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  effectiveSeverity,
  type NotifySeverity,
  normalizeSeverity,
  unrankedSeverities,
} from "./cortex/vocabulary.ts";
import { UNRANKED_SEVERITY_METRIC } from "./metric-names.ts";

export interface RankedIncident {
  incident_id: string;
  severity: string;
  manual_severity?: string | null | undefined;
}

export interface SeverityReport {
  logger: Logger;
  metrics: Metrics;
}

/** Logs and counts every incident whose severity or manual_severity cannot be ranked; returns how many. */
export function reportUnrankedSeverities(
  incidents: readonly RankedIncident[],
  threshold: NotifySeverity,
  report: SeverityReport,
): number {
  let unranked = 0;
  for (const incident of incidents) {
    const values = unrankedSeverities(incident.severity, incident.manual_severity);
    if (values.length === 0) continue;
    unranked += 1;
    const judged = effectiveSeverity(incident.severity, incident.manual_severity);
    report.logger.warn(
      "A severity the pipeline cannot rank: judged as the notification threshold (notified rather than dropped), " +
        "unless a manual severity it can rank overrides it",
      {
        incident_id: incident.incident_id,
        unranked_severities: values,
        judged_as: normalizeSeverity(judged) ?? threshold,
      },
    );
  }
  if (unranked > 0) report.metrics.addMetric(UNRANKED_SEVERITY_METRIC, MetricUnit.Count, unranked);
  return unranked;
}
