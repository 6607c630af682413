// The whole pipeline as one reusable construct: schedule -> poller -> queue (+DLQ) -> paced enricher
// -> archive bucket and incident topic, with alarms to a separate operations topic and a dashboard.
import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { ARCHIVE_PREFIX, QUARANTINE_PREFIX } from "../functions/shared/archive.ts";
import { CURSOR_KEY } from "../functions/shared/cursor.ts";
import { INCIDENT_STATE_PREFIX } from "../functions/shared/incident-state.ts";
import type {
  enricherEnvironmentSchema,
  pollerEnvironmentSchema,
} from "../functions/shared/lambda-environment.ts";
import {
  ENRICHER_SERVICE,
  EnricherMetric,
  METRICS_NAMESPACE,
  POLLER_SERVICE,
  PollerMetric,
} from "../functions/shared/metric-names.ts";
import {
  enricherTimeoutSeconds,
  type PipelineConfig,
  type PipelineConfigInput,
  parsePipelineConfig,
  scheduleIntervalMinutes,
} from "./config.ts";
import { PipelineFunction } from "./pipeline-function.ts";

/** Typed by the handlers' own schemas, so renaming a variable there breaks this build. */
type PollerEnvironment = Record<keyof typeof pollerEnvironmentSchema.shape, string>;
type EnricherEnvironment = Record<keyof typeof enricherEnvironmentSchema.shape, string>;

/** S3 key prefixes: the contract between the functions and their grants. */
/** Bucket layout, from the functions that own each part, so grants follow the code. */
export const ArchiveKeys = {
  cursor: CURSOR_KEY,
  pollerState: "state/poller/",
  incidentState: INCIDENT_STATE_PREFIX,
  incidents: ARCHIVE_PREFIX,
  quarantine: QUARANTINE_PREFIX,
} as const;

export const POLLER_TIMEOUT = Duration.minutes(5);
/** Visibility must cover every retry of a batch inside one invocation: AWS recommends 6x the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export interface IncidentExportPipelineProps {
  /** Validated here, so a wrong value fails synth whoever builds the construct. */
  readonly config: PipelineConfigInput;
}

export class IncidentExportPipeline extends Construct {
  readonly config: PipelineConfig;
  readonly archiveBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly incidentTopic: sns.Topic;
  readonly operationsTopic: sns.Topic;
  readonly secret: secretsmanager.ISecret;
  readonly poller: PipelineFunction;
  readonly enricher: PipelineFunction;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: IncidentExportPipelineProps) {
    super(scope, id);
    const config = parsePipelineConfig(props.config);
    this.config = config;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const enricherTimeout = Duration.seconds(enricherTimeoutSeconds(config));

    // --- Storage: archive and state in one bucket, access logs in a separate one.
    this.accessLogsBucket = new s3.Bucket(this, "AccessLogsBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED, // server access logs can only be delivered to SSE-S3 buckets
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(365) }],
    });

    this.archiveBucket = new s3.Bucket(this, "ArchiveBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "archive/",
      // The archive outlives the stack: `cdk destroy` leaves it for you to empty and delete.
      removalPolicy: RemovalPolicy.RETAIN,
      autoDeleteObjects: false,
      lifecycleRules: [
        {
          id: "archive-incidents",
          prefix: ArchiveKeys.incidents,
          transitions: [
            {
              storageClass: new s3.StorageClass(config.archive.storageClass),
              transitionAfter: Duration.days(config.archive.transitionAfterDays),
            },
          ],
          ...(config.archive.expireAfterDays === undefined
            ? {}
            : { expiration: Duration.days(config.archive.expireAfterDays) }),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          // The cursor is rewritten every run: keep a week of old versions for recovery, not forever.
          id: "expire-old-state-versions",
          prefix: "state/",
          noncurrentVersionExpiration: Duration.days(7),
        },
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    // --- Queue with a dead-letter queue; SQS-managed encryption needs no key grants.
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, "IncidentQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.seconds(enricherTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.dlqMaxReceiveCount },
    });

    // --- Topics: incidents for people and programs, operations for alarms.
    const topicKey = config.incidentTopicKmsKeyArn
      ? kms.Key.fromKeyArn(this, "IncidentTopicKey", config.incidentTopicKmsKeyArn)
      : undefined;
    this.incidentTopic = new sns.Topic(this, "IncidentTopic", {
      displayName: "Cortex incidents",
      enforceSSL: true,
      masterKey: topicKey,
    });
    for (const email of config.notificationEmails) {
      this.incidentTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    for (const phone of config.notificationSmsNumbers) {
      this.incidentTopic.addSubscription(new subscriptions.SmsSubscription(phone));
    }

    this.operationsTopic = new sns.Topic(this, "OperationsTopic", {
      displayName: "Cortex incident export operations",
      enforceSSL: true,
    });
    for (const email of config.operationsEmails) {
      this.operationsTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    // --- The API key: an existing secret, or an empty one the operator fills after deploy.
    if (config.secretArn) {
      this.secret = /-[A-Za-z0-9]{6}$/.test(config.secretArn)
        ? secretsmanager.Secret.fromSecretCompleteArn(this, "CortexApiSecret", config.secretArn)
        : secretsmanager.Secret.fromSecretPartialArn(this, "CortexApiSecret", config.secretArn);
    } else {
      const created = new secretsmanager.Secret(this, "CortexApiSecret", {
        description:
          'Cortex API key for cortex-incident-export: put {"apiKey","apiKeyId","authType"} here after deploy (see README).',
        // A random placeholder, never a real value in the template; it fails auth until replaced.
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ apiKeyId: "", authType: "standard" }),
          generateStringKey: "apiKey",
        },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(created).acknowledge({
        id: "AwsSolutions-SMG4",
        reason:
          "Cortex API keys are issued in the Cortex console and cannot be rotated by a Lambda; rotate them there and update the secret.",
      });
      this.secret = created;
    }

    // --- Poller: reads the tenant on a schedule and queues one message per incident version.
    const pollerEnvironment: PollerEnvironment = {
      ARCHIVE_BUCKET: this.archiveBucket.bucketName,
      INCIDENT_QUEUE_URL: this.queue.queueUrl,
      CORTEX_SECRET_ARN: this.secret.secretArn,
      CORTEX_API_URL: config.cortexApiUrl,
      CORTEX_PRODUCT: config.product,
      INCIDENT_FILTERS: JSON.stringify(config.incidentFilters),
      FIRST_RUN_LOOKBACK_MINUTES: String(config.firstRunLookbackMinutes),
    };
    this.poller = new PipelineFunction(this, "Poller", {
      entry: "functions/poller/handler.ts",
      description: "Cortex incident export: polls get_incidents and queues new incident versions",
      serviceName: POLLER_SERVICE,
      environment: pollerEnvironment,
      timeout: POLLER_TIMEOUT,
      logRetention,
      // One run at a time: two pollers would read and advance the same cursor concurrently.
      reservedConcurrentExecutions: 1,
    });
    // A tick that finds the previous run still going is throttled; drop it after a minute, the next tick polls anyway.
    this.poller.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    new events.Rule(this, "PollSchedule", {
      description: "Runs the Cortex incident poller",
      schedule: events.Schedule.expression(config.schedule),
      targets: [new targets.LambdaFunction(this.poller, { retryAttempts: 0 })],
    });
    this.grantObjects(
      this.poller,
      ["s3:GetObject", "s3:PutObject"],
      [ArchiveKeys.cursor, `${ArchiveKeys.pollerState}*`],
    );
    this.grantMissingKeyAnswers(this.poller, [ArchiveKeys.cursor, `${ArchiveKeys.pollerState}*`]);
    this.poller.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["sqs:SendMessage"], resources: [this.queue.queueArn] }),
    );
    this.grantSecretRead(this.poller);

    // --- Enricher: paced extra-data calls, archive, notify.
    const enricherEnvironment: EnricherEnvironment = {
      ARCHIVE_BUCKET: this.archiveBucket.bucketName,
      INCIDENT_QUEUE_URL: this.queue.queueUrl,
      INCIDENT_TOPIC_ARN: this.incidentTopic.topicArn,
      CORTEX_SECRET_ARN: this.secret.secretArn,
      CORTEX_API_URL: config.cortexApiUrl,
      CORTEX_PRODUCT: config.product,
      ALERTS_LIMIT: String(config.alertsLimit),
      API_BUDGET_PER_MINUTE: String(config.apiBudgetPerMinute),
      MAX_CONCURRENCY: String(config.enricher.maxConcurrency),
      NOTIFY_MIN_SEVERITY: config.notifyMinSeverity,
    };
    this.enricher = new PipelineFunction(this, "Enricher", {
      entry: "functions/enricher/handler.ts",
      description: "Cortex incident export: fetches extra data, archives to S3, notifies on SNS",
      serviceName: ENRICHER_SERVICE,
      environment: enricherEnvironment,
      timeout: enricherTimeout,
      // Archiving a 1,000-alert reply (4 MB of JSON) adds about 40 MB (BENCHMARKS.md, benchmark 2), and most
      // of each invocation is spent waiting for its API slot, billed by memory: 256 MB is ample and half the cost.
      memorySize: 256,
      logRetention,
      // No reserved concurrency: the event source's maxConcurrency limits it without throttling messages into the DLQ.
    });
    this.enricher.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: config.enricher.batchSize,
        maxConcurrency: config.enricher.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.grantObjects(this.enricher, ["s3:GetObject", "s3:PutObject"], [`${ArchiveKeys.incidentState}*`]);
    this.grantMissingKeyAnswers(this.enricher, [`${ArchiveKeys.incidentState}*`]);
    this.grantObjects(this.enricher, ["s3:PutObject"], [`${ArchiveKeys.incidents}*`]);
    // Replies that are not JSON are kept for diagnosis before the message is retried.
    this.grantObjects(this.enricher, ["s3:PutObject"], [`${ArchiveKeys.quarantine}*`]);
    this.enricher.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["sns:Publish"], resources: [this.incidentTopic.topicArn] }),
    );
    if (topicKey) {
      this.enricher.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["kms:GenerateDataKey", "kms:Decrypt"],
          resources: [topicKey.keyArn],
        }),
      );
    }
    this.grantSecretRead(this.enricher);

    this.acknowledgePrefixGrants();
    this.createAlarms(config);
    this.dashboard = this.createDashboard(id);
  }

  /** Object actions on exact keys or key prefixes (`prefix*`) of the archive bucket. */
  private grantObjects(fn: PipelineFunction, actions: string[], keyPatterns: string[]): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: keyPatterns.map((pattern) => this.archiveBucket.arnForObjects(pattern)),
      }),
    );
  }

  /**
   * s3:ListBucket only so a GetObject of a key that does not exist yet (first run, new incident) answers
   * 404 NoSuchKey instead of 403; a real listing is limited to the function's own prefixes.
   */
  private grantMissingKeyAnswers(fn: PipelineFunction, keyPatterns: string[]): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [this.archiveBucket.bucketArn],
        conditions: { StringLikeIfExists: { "s3:prefix": keyPatterns } },
      }),
    );
  }

  private grantSecretRead(fn: PipelineFunction): void {
    const secretResource = this.secret.secretFullArn ?? `${this.secret.secretArn}-??????`;
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [secretResource] }),
    );
  }

  /** cdk-nag flags every key-prefix resource; each is acknowledged by its exact finding. */
  private acknowledgePrefixGrants(): void {
    const bucketArn = `<${Stack.of(this).getLogicalId(this.archiveBucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    const reasonFor = (pattern: string) =>
      `Object access is limited to the ${pattern} key prefix of the archive bucket, the only keys this function touches.`;
    const acknowledge = (fn: PipelineFunction, patterns: string[]) => {
      const policy = fn.role?.node.tryFindChild("DefaultPolicy");
      if (!policy) return;
      for (const pattern of patterns) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${bucketArn}/${pattern}]`,
          reason: reasonFor(pattern),
        });
      }
    };
    acknowledge(this.poller, [`${ArchiveKeys.pollerState}*`]);
    acknowledge(this.enricher, [
      `${ArchiveKeys.incidentState}*`,
      `${ArchiveKeys.incidents}*`,
      `${ArchiveKeys.quarantine}*`,
    ]);
    if (!this.secret.secretFullArn) {
      // An imported partial ARN needs the 6-character suffix wildcard; the secret's name is still exact.
      for (const fn of [this.poller, this.enricher]) {
        const policy = fn.role?.node.tryFindChild("DefaultPolicy");
        if (policy) {
          Validations.of(policy).acknowledge({
            id: `AwsSolutions-IAM5[Resource::${this.secret.secretArn}-??????]`,
            reason:
              "Secrets Manager appends a random 6-character suffix to the secret's name; the name is exact.",
          });
        }
      }
    }
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    alarm.addAlarmAction(new SnsAction(this.operationsTopic));
    alarm.addOkAction(new SnsAction(this.operationsTopic));
    this.alarms.push(alarm);
    return alarm;
  }

  private pipelineMetric(
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

  private createAlarms(config: PipelineConfig): void {
    const gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const gte = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const notBreaching = cloudwatch.TreatMissingData.NOT_BREACHING;
    this.alarm("DeadLetterMessagesAlarm", {
      alarmDescription:
        "Incident messages reached the dead-letter queue: they were not archived. Inspect and redrive.",
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: "Maximum",
      }),
      threshold: 0,
      comparisonOperator: gt,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.alarm("OldestMessageAgeAlarm", {
      alarmDescription: "The enricher is falling behind: the oldest queued incident message is too old.",
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: config.alarms.oldestMessageAgeSeconds,
      comparisonOperator: gt,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.alarm("PollerErrorsAlarm", {
      alarmDescription: "The poller failed in two of the last three 5-minute periods; check its logs.",
      metric: this.poller.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: gte,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: notBreaching,
    });
    this.alarm("EnricherErrorsAlarm", {
      alarmDescription: "Enricher invocations failed; check its logs.",
      metric: this.enricher.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: gte,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.alarm("EnricherLambdaThrottlesAlarm", {
      alarmDescription: "Lambda throttled the enricher: the account's concurrency is exhausted.",
      metric: this.enricher.metricThrottles({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: gte,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.alarm("CortexThrottlesAlarm", {
      alarmDescription:
        "The Cortex API answered 429 repeatedly: another client shares the key's budget, or apiBudgetPerMinute is too high.",
      metric: this.pipelineMetric(ENRICHER_SERVICE, EnricherMetric.Throttles, "Sum"),
      threshold: 5,
      comparisonOperator: gte,
      evaluationPeriods: 1,
      treatMissingData: notBreaching,
    });
    this.alarm("CursorLagAlarm", {
      alarmDescription:
        "The archive is behind the tenant (or the poller reports nothing): check the poller's logs and the secret.",
      // Every period must hold a poll run, or missing data would read as breaching: at least the schedule's rate.
      metric: this.pipelineMetric(
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

  private createDashboard(id: string): cloudwatch.Dashboard {
    const poller = (name: string, statistic = "Sum") => this.pipelineMetric(POLLER_SERVICE, name, statistic);
    const enricher = (name: string, statistic = "Sum") =>
      this.pipelineMetric(ENRICHER_SERVICE, name, statistic);
    const dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `${Stack.of(this).stackName}-${id}`,
      defaultInterval: Duration.hours(6),
    });
    dashboard.addWidgets(
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
        title: "Queue",
        left: [
          this.queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" }),
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            statistic: "Maximum",
            label: "Dead-letter messages",
          }),
        ],
        right: [this.queue.metricApproximateAgeOfOldestMessage({ statistic: "Maximum" })],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Enricher: work",
        left: [
          enricher(EnricherMetric.ExtraDataCalls),
          enricher(EnricherMetric.Archived),
          enricher(EnricherMetric.Notified),
          enricher(EnricherMetric.Coalesced),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Enricher: problems",
        left: [
          enricher(EnricherMetric.Throttles),
          enricher(EnricherMetric.SchemaWarnings),
          enricher(EnricherMetric.IncidentNotFound),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Enricher: end-to-end lag (s)",
        left: [
          enricher(EnricherMetric.EndToEndLagSeconds, "Maximum"),
          enricher(EnricherMetric.EndToEndLagSeconds, "Average"),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Time to alert (s) and priority lane",
        left: [enricher(EnricherMetric.TimeToAlert, "p95"), enricher(EnricherMetric.TimeToAlert, "Maximum")],
        right: [
          poller(PollerMetric.PriorityHintsSent),
          poller(PollerMetric.PriorityHintsFailed),
          enricher(EnricherMetric.PriorityHintsTaken),
          enricher(EnricherMetric.PriorityHintsInvalid),
          enricher(EnricherMetric.PriorityReceiveFailures),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Lambda errors and throttles",
        left: [
          this.poller.metricErrors({ label: "Poller errors" }),
          this.enricher.metricErrors({ label: "Enricher errors" }),
          this.enricher.metricThrottles({ label: "Enricher throttles" }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: "Lambda duration (ms)",
        left: [
          this.poller.metricDuration({ statistic: "Maximum", label: "Poller" }),
          this.enricher.metricDuration({ statistic: "Maximum", label: "Enricher" }),
        ],
      }),
      new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: this.alarms }),
    );
    return dashboard;
  }
}
