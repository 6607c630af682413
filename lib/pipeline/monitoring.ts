// Monitoring: alarms to the operations topic, and one dashboard of the pipeline's metrics.
import { Duration, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import {
  ENRICHER_SERVICE,
  EnricherMetric,
  METRICS_NAMESPACE,
  POLLER_SERVICE,
  PollerMetric,
} from "../../functions/shared/metric-names.ts";
import { type PipelineConfig, scheduleIntervalMinutes } from "../config.ts";
import type { PipelineFunctions } from "./functions.ts";
import type { IncidentQueue } from "./queue.ts";

export interface PipelineMonitoringProps {
  readonly config: PipelineConfig;
  readonly queue: IncidentQueue;
  readonly functions: PipelineFunctions;
  readonly operationsTopic: sns.ITopic;
  /** The dashboard is named `<stack name>-<dashboardSuffix>`. */
  readonly dashboardSuffix: string;
}

const gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
const gte = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
const notBreaching = cloudwatch.TreatMissingData.NOT_BREACHING;
const poller = (name: string, statistic = "Sum") => pipelineMetric(POLLER_SERVICE, name, statistic);
const enricher = (name: string, statistic = "Sum") => pipelineMetric(ENRICHER_SERVICE, name, statistic);

/** A metric the functions publish through Powertools, by service. */
export function pipelineMetric(
  service: string,
  metricName: string,
  statistic: string,
  period: Duration = Duration.minutes(5),
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic,
    period,
  });
}

export class PipelineMonitoring {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly scope: Construct;
  private readonly props: PipelineMonitoringProps;

  /** Built in the pipeline's own scope, so alarms and the (named) dashboard keep their logical IDs. */
  constructor(scope: Construct, props: PipelineMonitoringProps) {
    this.scope = scope;
    this.props = props;
    this.createAlarms();
    this.dashboard = this.createDashboard();
  }

  /** An alarm that tells the operations topic when it fires and when it clears. */
  addAlarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this.scope, id, props);
    alarm.addAlarmAction(new SnsAction(this.props.operationsTopic));
    alarm.addOkAction(new SnsAction(this.props.operationsTopic));
    this.alarms.push(alarm);
    return alarm;
  }

  private createAlarms(): void {
    this.queueAlarms();
    this.functionAlarms();
    this.pipelineMetricAlarms();
  }

  /** Messages that were not archived, and a backlog that is not draining. */
  private queueAlarms(): void {
    const { config, queue } = this.props;
    this.addAlarm("DeadLetterMessagesAlarm", {
      alarmDescription:
        "Incident messages reached the dead-letter queue: they were not archived. Inspect and redrive.",
      metric: queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: "Maximum",
      }),
      threshold: 0,
      comparisonOperator: gt,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.addAlarm("OldestMessageAgeAlarm", {
      alarmDescription: "The enricher is falling behind: the oldest queued incident message is too old.",
      metric: queue.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: config.alarms.oldestMessageAgeSeconds,
      comparisonOperator: gt,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
  }

  /** Lambda's own view: failed invocations and throttled ones. */
  private functionAlarms(): void {
    const { functions } = this.props;
    this.addAlarm("PollerErrorsAlarm", {
      alarmDescription: "The poller failed in two of the last three 5-minute periods; check its logs.",
      metric: functions.poller.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: gte,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: notBreaching,
    });
    this.addAlarm("EnricherErrorsAlarm", {
      alarmDescription: "Enricher invocations failed; check its logs.",
      metric: functions.enricher.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: gte,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.addAlarm("EnricherLambdaThrottlesAlarm", {
      alarmDescription: "Lambda throttled the enricher: the account's concurrency is exhausted.",
      metric: functions.enricher.metricThrottles({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: gte,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
  }

  /** What the functions report: Cortex throttling, slow notifications, an archive behind the tenant. */
  private pipelineMetricAlarms(): void {
    const { config } = this.props;
    this.addAlarm("CortexThrottlesAlarm", {
      alarmDescription:
        "The Cortex API answered 429 repeatedly: another client shares the key's budget, or apiBudgetPerMinute is too high.",
      metric: pipelineMetric(ENRICHER_SERVICE, EnricherMetric.Throttles, "Sum"),
      threshold: 5,
      comparisonOperator: gte,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.addAlarm("TimeToAlertAlarm", {
      alarmDescription:
        "Notifications are slow: the p95 time from the poll that read a version to its SNS publish is above the bound. Check the API budget, the queue and the enricher's logs.",
      metric: pipelineMetric(ENRICHER_SERVICE, EnricherMetric.TimeToAlert, "p95"),
      threshold: config.alarms.timeToAlertSeconds,
      comparisonOperator: gt,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.addAlarm("CursorLagAlarm", {
      alarmDescription:
        "The archive is behind the tenant (or the poller reports nothing): check the poller's logs and the secret.",
      // Every period must hold a poll run, or missing data would read as breaching: at least the schedule's rate.
      metric: pipelineMetric(
        POLLER_SERVICE,
        PollerMetric.CursorLagSeconds,
        "Maximum",
        Duration.minutes(Math.max(5, scheduleIntervalMinutes(config.schedule) ?? 5)),
      ),
      threshold: config.alarms.cursorLagSeconds,
      comparisonOperator: gt,
      evaluationPeriods: 3,
      // No lag reported means no successful poll: that is exactly what this alarm is for.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  private createDashboard(): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this.scope, "Dashboard", {
      dashboardName: `${Stack.of(this.scope).stackName}-${this.props.dashboardSuffix}`,
      defaultInterval: Duration.hours(6),
    });
    dashboard.addWidgets(...this.pollerAndQueueRow());
    dashboard.addWidgets(...this.enricherRow());
    dashboard.addWidgets(this.timeToAlertWidget());
    dashboard.addWidgets(...this.lambdaRow());
    return dashboard;
  }

  /** The poller's work, its lag, what late listing it found, and the queue. */
  private pollerAndQueueRow(): cloudwatch.IWidget[] {
    const { queue } = this.props;
    return [
      new cloudwatch.GraphWidget({
        title: "Poller: incidents",
        left: [
          poller(PollerMetric.PagesRead),
          poller(PollerMetric.IncidentsSeen),
          poller(PollerMetric.MessagesSent),
          poller(PollerMetric.BacklogRemaining, "Maximum"),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Poller: cursor lag (s) and run duration (ms)",
        left: [poller(PollerMetric.CursorLagSeconds, "Maximum")],
        right: [poller(PollerMetric.RunDurationMs, "Maximum")],
      }),
      new cloudwatch.GraphWidget({
        title: "Poller: late listing (functions/poller/README.md) and what cannot be right",
        left: [
          poller(PollerMetric.LateVersions),
          poller(PollerMetric.LateBeyondWindow),
          poller(PollerMetric.VersionOlderThanSent),
          poller(PollerMetric.ListedTwiceInWalk),
          poller(PollerMetric.RestrictedIncidents, "Maximum"),
          poller(PollerMetric.LateWindowShortened),
        ],
        right: [poller(PollerMetric.LateVersionLatenessSeconds, "Maximum")],
      }),
      new cloudwatch.GraphWidget({
        title: "Queue",
        left: [
          queue.queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" }),
          queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            statistic: "Maximum",
            label: "Dead-letter messages",
          }),
        ],
        right: [queue.queue.metricApproximateAgeOfOldestMessage({ statistic: "Maximum" })],
      }),
    ];
  }

  private enricherRow(): cloudwatch.IWidget[] {
    return [
      new cloudwatch.GraphWidget({
        title: "Enricher: work",
        left: [
          enricher(EnricherMetric.ExtraDataCalls),
          enricher(EnricherMetric.Archived),
          enricher(EnricherMetric.Notified),
          enricher(EnricherMetric.Coalesced),
          enricher(EnricherMetric.ChangeEventsSent),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Enricher: problems",
        left: [
          enricher(EnricherMetric.Throttles),
          enricher(EnricherMetric.SchemaWarnings),
          enricher(EnricherMetric.IncidentNotFound),
          enricher(EnricherMetric.NotFoundUnconfirmed),
          enricher(EnricherMetric.ChangeEventsFailed),
        ],
        // Severities neither spelling ranks: judged as the threshold, so notified; a rising count means a new spelling.
        right: [
          enricher(EnricherMetric.UnrankedSeverity),
          poller(PollerMetric.UnrankedSeverity),
          poller(PollerMetric.QuarantinedIncidents),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Enricher: batch endpoint",
        left: [
          enricher(EnricherMetric.BatchExtraDataCalls),
          enricher(EnricherMetric.ArchivedPartial),
          enricher(EnricherMetric.BatchAbsent),
          enricher(EnricherMetric.Requeued),
          enricher(EnricherMetric.NotStarted),
        ],
        right: [
          enricher(EnricherMetric.BatchElementsUnmatched),
          enricher(EnricherMetric.BatchEndpointUnavailable),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Enricher: end-to-end lag (s)",
        left: [
          enricher(EnricherMetric.EndToEndLagSeconds, "Maximum"),
          enricher(EnricherMetric.EndToEndLagSeconds, "Average"),
        ],
      }),
    ];
  }

  private timeToAlertWidget(): cloudwatch.IWidget {
    return new cloudwatch.GraphWidget({
      title: "Time to alert (s) and priority lane",
      left: [enricher(EnricherMetric.TimeToAlert, "p95"), enricher(EnricherMetric.TimeToAlert, "Maximum")],
      right: [
        poller(PollerMetric.PriorityHintsSent),
        poller(PollerMetric.PriorityHintsFailed),
        enricher(EnricherMetric.PriorityHintsTaken),
        enricher(EnricherMetric.PriorityHintsInvalid),
        enricher(EnricherMetric.PriorityReceiveFailures),
      ],
    });
  }

  private lambdaRow(): cloudwatch.IWidget[] {
    const { poller: pollerFn, enricher: enricherFn } = this.props.functions;
    return [
      new cloudwatch.GraphWidget({
        title: "Lambda errors and throttles",
        left: [
          pollerFn.metricErrors({ label: "Poller errors" }),
          enricherFn.metricErrors({ label: "Enricher errors" }),
          enricherFn.metricThrottles({ label: "Enricher throttles" }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Lambda duration (ms)",
        left: [
          pollerFn.metricDuration({ statistic: "Maximum", label: "Poller" }),
          enricherFn.metricDuration({ statistic: "Maximum", label: "Enricher" }),
        ],
      }),
      new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: this.alarms }),
    ];
  }
}
