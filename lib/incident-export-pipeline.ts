// The whole pipeline as one reusable construct: schedule -> poller -> queue (+DLQ) -> paced enricher
// -> archive bucket and incident topic, with alarms to a separate operations topic and a dashboard.
// Each concern is one part in lib/pipeline/; add a resource to the part it belongs to.
import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import {
  enricherTimeoutSeconds,
  type PipelineConfig,
  type PipelineConfigInput,
  parsePipelineConfig,
} from "./config.ts";
import { ArchiveAnalytics } from "./pipeline/analytics.ts";
import { ChangeEventBus } from "./pipeline/change-events.ts";
import { PipelineFunctions } from "./pipeline/functions.ts";
import { PipelineMonitoring } from "./pipeline/monitoring.ts";
import { IncidentQueue } from "./pipeline/queue.ts";
import { cortexApiSecret } from "./pipeline/secret.ts";
import { ArchiveStorage } from "./pipeline/storage.ts";
import { PipelineTopics } from "./pipeline/topics.ts";
import type { PipelineFunction } from "./pipeline-function.ts";

export { POLLER_TIMEOUT } from "./pipeline/functions.ts";
export { VISIBILITY_TIMEOUT_FACTOR } from "./pipeline/queue.ts";
export { ArchiveKeys } from "./pipeline/storage.ts";

export interface IncidentExportPipelineProps {
  /** Validated here, so a wrong value fails synth whoever builds the construct. */
  readonly config: PipelineConfigInput;
}

/**
 * The parts build their resources in this construct's scope rather than in child constructs of their
 * own: a new construct path would give the buckets, queues, topics and secret of deployed stacks new
 * logical IDs, and CloudFormation would replace them (an empty archive, a lost API key, unconfirmed
 * subscriptions).
 */
export class IncidentExportPipeline extends Construct {
  readonly config: PipelineConfig;
  readonly storage: ArchiveStorage;
  readonly queues: IncidentQueue;
  readonly topics: PipelineTopics;
  readonly functions: PipelineFunctions;
  readonly monitoring: PipelineMonitoring;
  /** The archive as an Athena table: Glue database and table, workgroup, named queries, query policy. */
  readonly analytics: ArchiveAnalytics;
  /** Where every archived version's change event goes (undefined bus: switched off). */
  readonly changeEvents: ChangeEventBus;

  readonly archiveBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** The priority lane's hints: copies of high-severity messages, drained by the enricher before each API call. */
  readonly priorityQueue: sqs.Queue;
  readonly incidentTopic: sns.Topic;
  readonly operationsTopic: sns.Topic;
  readonly secret: secretsmanager.ISecret;
  readonly poller: PipelineFunction;
  readonly enricher: PipelineFunction;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: IncidentExportPipelineProps) {
    super(scope, id);
    const config = parsePipelineConfig(props.config);
    this.config = config;
    const enricherTimeout = Duration.seconds(enricherTimeoutSeconds(config));

    this.storage = new ArchiveStorage(this, config);
    this.queues = new IncidentQueue(this, config, enricherTimeout);
    this.topics = new PipelineTopics(this, config);
    this.secret = cortexApiSecret(this, config);
    this.functions = new PipelineFunctions(this, {
      config,
      storage: this.storage,
      queue: this.queues,
      topics: this.topics,
      secret: this.secret,
      enricherTimeout,
    });
    this.monitoring = new PipelineMonitoring(this, {
      config,
      queue: this.queues,
      functions: this.functions,
      operationsTopic: this.topics.operationsTopic,
      dashboardSuffix: id,
    });

    this.analytics = new ArchiveAnalytics(this, this.storage);
    this.changeEvents = new ChangeEventBus(this, config);
    this.changeEvents.bindPublisher(this.functions.enricher);
    this.changeEvents.addAlarm(this.monitoring);

    this.archiveBucket = this.storage.archiveBucket;
    this.accessLogsBucket = this.storage.accessLogsBucket;
    this.queue = this.queues.queue;
    this.deadLetterQueue = this.queues.deadLetterQueue;
    this.priorityQueue = this.queues.priorityQueue;
    this.incidentTopic = this.topics.incidentTopic;
    this.operationsTopic = this.topics.operationsTopic;
    this.poller = this.functions.poller;
    this.enricher = this.functions.enricher;
    this.dashboard = this.monitoring.dashboard;
    this.alarms = this.monitoring.alarms;
  }
}
