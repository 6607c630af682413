// What only CloudWatch knows about a deployed stack: its alarms, the age of the oldest queued message
// (SQS itself does not say), and when the poller last reported. fauxqs has no CloudWatch: locally these are absent.
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
} from "@aws-sdk/client-cloudwatch";
import { METRICS_NAMESPACE, POLLER_SERVICE, PollerMetric } from "../../functions/shared/metric-names.ts";
import { explainAwsError } from "./errors.ts";

export interface AlarmInAlarm {
  name: string;
  reason: string;
  since: string | undefined;
}

export interface AlarmSummary {
  total: number;
  inAlarm: AlarmInAlarm[];
}

export interface MetricPoint {
  at: Date;
  value: number;
}

export interface Monitoring {
  alarms(): Promise<AlarmSummary>;
  /** The latest ApproximateAgeOfOldestMessage (seconds) of the queue whose URL is given. */
  oldestMessageAgeSeconds(queueUrl: string): Promise<number | undefined>;
  /** The poller's latest CursorLagSeconds report: when it last ran and how far behind it said the archive was. */
  lastPollerReport(): Promise<MetricPoint | undefined>;
}

const ALARM_NAMES_PER_CALL = 100;

export class CloudWatchMonitoring implements Monitoring {
  readonly #cloudWatch: CloudWatchClient;
  readonly #alarmNames: readonly string[];
  readonly #region: string | undefined;
  readonly #now: () => number;

  constructor(
    cloudWatch: CloudWatchClient,
    alarmNames: readonly string[],
    region: string | undefined,
    now = Date.now,
  ) {
    this.#cloudWatch = cloudWatch;
    this.#alarmNames = alarmNames;
    this.#region = region;
    this.#now = now;
  }

  async alarms(): Promise<AlarmSummary> {
    const inAlarm: AlarmInAlarm[] = [];
    for (let start = 0; start < this.#alarmNames.length; start += ALARM_NAMES_PER_CALL) {
      const names = this.#alarmNames.slice(start, start + ALARM_NAMES_PER_CALL);
      try {
        const reply = await this.#cloudWatch.send(new DescribeAlarmsCommand({ AlarmNames: names }));
        for (const alarm of reply.MetricAlarms ?? []) {
          if (alarm.StateValue !== "ALARM") continue;
          inAlarm.push({
            name: alarm.AlarmName ?? "",
            reason: alarm.StateReason ?? "",
            since: alarm.StateUpdatedTimestamp?.toISOString(),
          });
        }
      } catch (error) {
        throw explainAwsError(error, "CloudWatch DescribeAlarms", this.#region);
      }
    }
    return { total: this.#alarmNames.length, inAlarm };
  }

  async oldestMessageAgeSeconds(queueUrl: string): Promise<number | undefined> {
    const queueName = queueUrl.split("/").at(-1) ?? queueUrl;
    const point = await this.#latest("AWS/SQS", "ApproximateAgeOfOldestMessage", [
      { Name: "QueueName", Value: queueName },
    ]);
    return point?.value;
  }

  lastPollerReport(): Promise<MetricPoint | undefined> {
    return this.#latest(METRICS_NAMESPACE, PollerMetric.CursorLagSeconds, [
      { Name: "service", Value: POLLER_SERVICE },
    ]);
  }

  async #latest(
    namespace: string,
    metricName: string,
    dimensions: { Name: string; Value: string }[],
  ): Promise<MetricPoint | undefined> {
    const end = this.#now();
    try {
      const reply = await this.#cloudWatch.send(
        new GetMetricStatisticsCommand({
          Namespace: namespace,
          MetricName: metricName,
          Dimensions: dimensions,
          StartTime: new Date(end - 3 * 3600_000),
          EndTime: new Date(end),
          Period: 60,
          Statistics: ["Maximum"],
        }),
      );
      const points = (reply.Datapoints ?? [])
        .filter((p) => p.Timestamp !== undefined && p.Maximum !== undefined)
        .sort((a, b) => (a.Timestamp as Date).getTime() - (b.Timestamp as Date).getTime());
      const last = points.at(-1);
      return last === undefined ? undefined : { at: last.Timestamp as Date, value: last.Maximum as number };
    } catch (error) {
      throw explainAwsError(error, `CloudWatch GetMetricStatistics ${namespace}/${metricName}`, this.#region);
    }
  }
}
