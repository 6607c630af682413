// Change events: the bus every archived version's event goes to (the account's default bus unless the
// config names one), the enricher's permission to put events on it, and the alarm on events that could
// not be sent (the archive has those versions; consumers downstream missed them).
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as events from "aws-cdk-lib/aws-events";
import type { Construct } from "constructs";
import { ENRICHER_SERVICE, EnricherMetric } from "../../functions/shared/metric-names.ts";
import type { PipelineConfig } from "../config.ts";
import type { PipelineFunctions } from "./functions.ts";
import { type PipelineMonitoring, pipelineMetric } from "./monitoring.ts";

export class ChangeEventBus {
  /** Undefined when change events are switched off. */
  readonly bus: events.IEventBus | undefined;

  constructor(scope: Construct, config: PipelineConfig) {
    const { enabled, eventBusName } = config.changeEvents;
    this.bus = enabled
      ? events.EventBus.fromEventBusName(scope, "ChangeEventBus", eventBusName ?? "default")
      : undefined;
  }

  bindPublisher(enricher: PipelineFunctions["enricher"]): void {
    if (this.bus !== undefined) enricher.bindEventBusPublisher("EVENT_BUS_NAME", this.bus);
  }

  addAlarm(monitoring: PipelineMonitoring): void {
    if (this.bus === undefined) return;
    monitoring.addAlarm("ChangeEventsFailedAlarm", {
      alarmDescription:
        "Change events could not be sent to EventBridge after retries: the archive has those versions, consumers missed them. See the enricher's error log for the version ids.",
      metric: pipelineMetric(ENRICHER_SERVICE, EnricherMetric.ChangeEventsFailed, "Sum", Duration.minutes(5)),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
