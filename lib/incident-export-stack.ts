// The deployable stack: the pipeline construct plus the outputs an operator needs after deploy.
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import type { PipelineConfig, PipelineConfigInput } from "./config.ts";
import { IncidentExportPipeline } from "./incident-export-pipeline.ts";

export interface IncidentExportStackProps extends StackProps {
  readonly config: PipelineConfigInput;
}

export class IncidentExportStack extends Stack {
  readonly pipeline: IncidentExportPipeline;

  constructor(scope: Construct, id: string, props: IncidentExportStackProps) {
    super(scope, id, props);
    this.pipeline = new IncidentExportPipeline(this, "Pipeline", { config: props.config });
    const p = this.pipeline;
    const output = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    output(
      "ArchiveBucketName",
      p.archiveBucket.bucketName,
      "S3 bucket with the archive (incidents/) and state (state/)",
    );
    output(
      "AccessLogsBucketName",
      p.accessLogsBucket.bucketName,
      "S3 server access logs of the archive bucket",
    );
    output("IncidentTopicArn", p.incidentTopic.topicArn, "SNS topic for incidents at or above the threshold");
    output("OperationsTopicArn", p.operationsTopic.topicArn, "SNS topic for the pipeline's alarms");
    output("CortexSecretArn", p.secret.secretArn, 'Secret holding {"apiKey","apiKeyId","authType"}');
    output("IncidentQueueUrl", p.queue.queueUrl, "SQS queue between poller and enricher");
    output("DeadLetterQueueUrl", p.deadLetterQueue.queueUrl, "Messages that failed every retry");
    output("DeadLetterQueueArn", p.deadLetterQueue.queueArn, "For aws sqs start-message-move-task (redrive)");
    output("PollerFunctionName", p.poller.functionName, "Poller Lambda");
    output("EnricherFunctionName", p.enricher.functionName, "Enricher Lambda");
    output("PollerLogGroupName", p.poller.functionLogGroup.logGroupName, "Poller logs");
    output("EnricherLogGroupName", p.enricher.functionLogGroup.logGroupName, "Enricher logs");
    output("DashboardName", p.dashboard.dashboardName, "CloudWatch dashboard");
    output("IncidentQueueArn", p.queue.queueArn, "Destination of a redrive (npm run ops -- redrive)");
    output("ArchiveDatabaseName", p.analytics.databaseName, "Glue database of the archive table (Athena)");
    output(
      "ArchiveWorkGroupName",
      p.analytics.workGroupName,
      "Athena workgroup with the archive's named queries",
    );
    output(
      "ArchiveQueryPolicyArn",
      p.analytics.queryPolicy.managedPolicyArn,
      "Attach to whoever queries the archive",
    );
    // What npm run ops needs to act like the pipeline (backfill filters, replay's budget); no secret in it.
    output(
      "OpsPipelineSettings",
      JSON.stringify(opsPipelineSettings(p.config)),
      "Settings read by npm run ops",
    );
  }
}

/** The configuration npm run ops reads from the stack (local/ops/target.ts parses it). */
export function opsPipelineSettings(config: PipelineConfig) {
  return {
    cortexApiUrl: config.cortexApiUrl,
    product: config.product,
    filters: config.incidentFilters,
    alertsLimit: config.alertsLimit,
    budgetPerMinute: config.apiBudgetPerMinute,
    maxConcurrency: config.enricher.maxConcurrency,
    notifyMinSeverity: config.notifyMinSeverity,
  };
}
