// What a security and operations reviewer checks in the synthesized template, one property per test.
// The stack is synthesized once (real esbuild bundling) and shared by every test in this file.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import {
  enricherEnvironmentSchema,
  pollerEnvironmentSchema,
} from "../../functions/shared/lambda-environment.ts";
import * as metricNames from "../../functions/shared/metric-names.ts";
import { parsePipelineConfig, SINGLE_CALLS_PER_BATCH_INVOCATION } from "../../lib/config.ts";
import { exampleConfig, type SynthesizedStack, synthesize } from "./synth.ts";

/** Synthesized CloudFormation JSON: untyped by nature, read by path in each assertion. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON has no static type
type CfnJson = any;
type Resource = { Type: string; Properties: Record<string, CfnJson>; DeletionPolicy?: string };

let synthesized: SynthesizedStack;
let template: Template;
const config = parsePipelineConfig(exampleConfig);

beforeAll(() => {
  synthesized = synthesize(exampleConfig);
  template = synthesized.template;
});

const resources = (type: string): Record<string, Resource> =>
  template.findResources(type) as Record<string, Resource>;
const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  synthesized.stack.getLogicalId(construct.node.defaultChild as never);
const functionNamed = (which: "poller" | "enricher"): Resource => {
  const fn = synthesized.stack.pipeline[which];
  const found = resources("AWS::Lambda::Function")[logicalId(fn)];
  if (!found) throw new Error(`no ${which} function in the template`);
  return found;
};
const ref = (construct: { node: { defaultChild?: unknown } }) => ({ Ref: logicalId(construct) });
const arnOf = (construct: { node: { defaultChild?: unknown } }) => ({
  "Fn::GetAtt": [logicalId(construct), "Arn"],
});

/** Statements of every policy attached to a resource-policy document of this type, for one target. */
function denyInsecureTransportFor(policyType: string, targetKey: string, target: unknown): boolean {
  return Object.values(resources(policyType)).some((policy) => {
    const targets = JSON.stringify(policy.Properties[targetKey]);
    if (!targets.includes(JSON.stringify(target))) return false;
    return (policy.Properties.PolicyDocument.Statement as CfnJson[]).some(
      (s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
    );
  });
}

describe("Lambda functions", () => {
  it("run on the nodejs24.x runtime", () => {
    const runtimes = Object.values(resources("AWS::Lambda::Function")).map((fn) => fn.Properties.Runtime);
    expect(runtimes).toEqual(["nodejs24.x", "nodejs24.x"]);
  });

  it("run on arm64", () => {
    for (const fn of Object.values(resources("AWS::Lambda::Function"))) {
      expect(fn.Properties.Architectures).toEqual(["arm64"]);
    }
  });

  it("are bundled as ESM (index.mjs with a createRequire banner) with a source map that Node is told to use", () => {
    for (const which of ["poller", "enricher"] as const) {
      const fn = functionNamed(which);
      expect(fn.Properties.Handler).toBe("index.handler");
      const assetHash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, "");
      const bundle = join(synthesized.outdir, `asset.${assetHash}`, "index.mjs");
      expect(readFileSync(bundle, "utf8")).toMatch(
        /^import\s*\{\s*createRequire as \w+\s*\}\s*from\s*["']node:module["']/,
      );
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
    }
  });

  it("set exactly the environment variables the handlers' schemas read, plus the Powertools ones", () => {
    const powertools = ["NODE_OPTIONS", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"];
    const poller = functionNamed("poller").Properties.Environment.Variables;
    const enricher = functionNamed("enricher").Properties.Environment.Variables;
    expect(Object.keys(poller).sort()).toEqual(
      [...Object.keys(pollerEnvironmentSchema.shape), ...powertools].sort(),
    );
    expect(Object.keys(enricher).sort()).toEqual(
      [...Object.keys(enricherEnvironmentSchema.shape), ...powertools].sort(),
    );
    expect(poller.POWERTOOLS_SERVICE_NAME).toBe(metricNames.POLLER_SERVICE);
    expect(enricher.POWERTOOLS_SERVICE_NAME).toBe(metricNames.ENRICHER_SERVICE);
    expect(enricher.POWERTOOLS_METRICS_NAMESPACE).toBe(metricNames.METRICS_NAMESPACE);
    expect(enricher.MAX_CONCURRENCY).toBe(String(config.enricher.maxConcurrency));
    expect(enricher.API_BUDGET_PER_MINUTE).toBe(String(config.apiBudgetPerMinute));
  });

  it("get the secret's ARN, never the API key, in their environment", () => {
    for (const which of ["poller", "enricher"] as const) {
      const variables = functionNamed(which).Properties.Environment.Variables;
      expect(variables.CORTEX_SECRET_ARN).toEqual(ref(synthesized.stack.pipeline.secret as never));
      expect(
        Object.keys(variables).filter((name) => /API_KEY|SECRET(?!_ARN)|TOKEN|PASSWORD/i.test(name)),
      ).toEqual([]);
    }
    // The created secret's value is generated by Secrets Manager, never written into the template.
    const secret = Object.values(resources("AWS::SecretsManager::Secret"))[0];
    expect(secret?.Properties.SecretString).toBeUndefined();
    expect(secret?.Properties.GenerateSecretString).toMatchObject({ GenerateStringKey: "apiKey" });
  });

  it("write to their own log groups with the configured retention", () => {
    for (const which of ["poller", "enricher"] as const) {
      const fn = functionNamed(which);
      const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
      expect(resources("AWS::Logs::LogGroup")[logGroupId]?.Properties.RetentionInDays).toBe(
        config.logRetentionDays,
      );
    }
  });

  it("run the poller one at a time on the schedule, dropping ticks that wait for a running poll", () => {
    expect(functionNamed("poller").Properties.ReservedConcurrentExecutions).toBe(1);
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: config.schedule,
      Targets: [Match.objectLike({ Arn: arnOf(synthesized.stack.pipeline.poller) })],
    });
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: ref(synthesized.stack.pipeline.poller),
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });
});

describe("enricher event source", () => {
  it("limits concurrency with the event source's maximum concurrency, not reserved concurrency", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(synthesized.stack.pipeline.enricher),
      ScalingConfig: { MaximumConcurrency: config.enricher.maxConcurrency },
      BatchSize: config.enricher.batchSize,
    });
    expect(functionNamed("enricher").Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("gathers 100 messages or 10 s into one invocation, so one invocation fills one batch call", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(synthesized.stack.pipeline.enricher),
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 10,
    });
    const variables = functionNamed("enricher").Properties.Environment.Variables;
    expect(variables).toMatchObject({ ENRICHER_MODE: "auto", BATCH_API_BUDGET_PER_MINUTE: "10" });
  });

  it("reports partial batch failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("gives the enricher time for its batch slot and the single calls of the incidents the batch cut", () => {
    const interval = (60 * config.enricher.maxConcurrency) / config.apiBudgetPerMinute;
    const batchInterval = (60 * config.enricher.maxConcurrency) / config.batchApiBudgetPerMinute;
    const timeout = functionNamed("enricher").Properties.Timeout as number;
    expect(timeout).toBeGreaterThanOrEqual(batchInterval + SINGLE_CALLS_PER_BATCH_INVOCATION * interval);
    expect(timeout).toBeLessThanOrEqual(900);
  });
});

describe("queue and dead-letter queue", () => {
  it("are encrypted at rest", () => {
    const queues = Object.values(resources("AWS::SQS::Queue"));
    expect(queues).toHaveLength(3);
    for (const queue of queues) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it("refuse requests without TLS", () => {
    const { queue, deadLetterQueue, priorityQueue } = synthesized.stack.pipeline;
    expect(denyInsecureTransportFor("AWS::SQS::QueuePolicy", "Queues", ref(queue))).toBe(true);
    expect(denyInsecureTransportFor("AWS::SQS::QueuePolicy", "Queues", ref(deadLetterQueue))).toBe(true);
    expect(denyInsecureTransportFor("AWS::SQS::QueuePolicy", "Queues", ref(priorityQueue))).toBe(true);
  });

  it("moves a message to the dead-letter queue after at least 5 receives", () => {
    const queue = resources("AWS::SQS::Queue")[logicalId(synthesized.stack.pipeline.queue)];
    expect(queue?.Properties.RedrivePolicy.deadLetterTargetArn).toEqual(
      arnOf(synthesized.stack.pipeline.deadLetterQueue),
    );
    expect(queue?.Properties.RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(5);
  });

  it("hides a received message for at least 6x the enricher timeout", () => {
    const queue = resources("AWS::SQS::Queue")[logicalId(synthesized.stack.pipeline.queue)];
    const timeout = functionNamed("enricher").Properties.Timeout as number;
    expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
  });
});

describe("archive bucket", () => {
  const archive = () =>
    resources("AWS::S3::Bucket")[logicalId(synthesized.stack.pipeline.archiveBucket)] as Resource;

  it("blocks every kind of public access", () => {
    expect(archive().Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it("refuses requests without TLS", () => {
    expect(
      denyInsecureTransportFor(
        "AWS::S3::BucketPolicy",
        "Bucket",
        ref(synthesized.stack.pipeline.archiveBucket),
      ),
    ).toBe(true);
  });

  it("encrypts objects at rest", () => {
    expect(
      archive().Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]
        .ServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: "AES256",
    });
  });

  it("keeps object versions", () => {
    expect(archive().Properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
  });

  it("moves archived incidents to the configured storage class after the configured days", () => {
    const rules = archive().Properties.LifecycleConfiguration.Rules as CfnJson[];
    expect(rules).toContainEqual(
      expect.objectContaining({
        Prefix: "incidents/",
        Status: "Enabled",
        Transitions: [
          { StorageClass: config.archive.storageClass, TransitionInDays: config.archive.transitionAfterDays },
        ],
      }),
    );
  });

  it("writes server access logs to a separate bucket", () => {
    const logsBucket = synthesized.stack.pipeline.accessLogsBucket;
    expect(archive().Properties.LoggingConfiguration.DestinationBucketName).toEqual(ref(logsBucket));
    expect(logicalId(logsBucket)).not.toBe(logicalId(synthesized.stack.pipeline.archiveBucket));
  });

  it("is retained when the stack is deleted", () => {
    expect(archive().DeletionPolicy).toBe("Retain");
  });
});

describe("topics", () => {
  it("refuse publishing without TLS, for incidents and for operations", () => {
    const { incidentTopic, operationsTopic } = synthesized.stack.pipeline;
    expect(denyInsecureTransportFor("AWS::SNS::TopicPolicy", "Topics", ref(incidentTopic))).toBe(true);
    expect(denyInsecureTransportFor("AWS::SNS::TopicPolicy", "Topics", ref(operationsTopic))).toBe(true);
  });

  it("subscribe the configured email addresses to incidents and operations", () => {
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: config.notificationEmails[0],
      TopicArn: ref(synthesized.stack.pipeline.incidentTopic),
    });
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: config.operationsEmails[0],
      TopicArn: ref(synthesized.stack.pipeline.operationsTopic),
    });
  });
});

describe("IAM", () => {
  const statements = (): CfnJson[] =>
    Object.values(resources("AWS::IAM::Policy")).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement,
    );
  const actionsOf = (statement: CfnJson): string[] => [statement.Action].flat();

  it("grants no wildcard actions", () => {
    const actions = statements().flatMap(actionsOf);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes("*"))).toEqual([]);
  });

  it("grants nothing on every resource (Resource: *)", () => {
    expect(statements().filter((s) => [s.Resource].flat().includes("*"))).toEqual([]);
  });

  it("limits object access to the key prefixes each function uses", () => {
    const objectResources = statements()
      .filter((s) => actionsOf(s).some((a) => a.startsWith("s3:") && a !== "s3:ListBucket"))
      .flatMap((s) => [s.Resource].flat())
      .map((r) => (r["Fn::Join"] ? r["Fn::Join"][1][1] : r));
    expect(new Set(objectResources)).toEqual(
      new Set(["/state/cursor.json", "/state/incidents/*", "/incidents/*", "/state/quarantine/*"]),
    );
  });

  it("gives the poller the cursor's key and the quarantine, no other object in the bucket", () => {
    const pollerRole = synthesized.stack.getLogicalId(
      synthesized.stack.pipeline.poller.role?.node.defaultChild as never,
    );
    const pollerStatements = Object.values(resources("AWS::IAM::Policy"))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(pollerRole))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as CfnJson[]);
    const objectKeys = pollerStatements
      .filter((s) => actionsOf(s).some((a) => a.startsWith("s3:") && a !== "s3:ListBucket"))
      .flatMap((s) => [s.Resource].flat())
      .map((r) => (r["Fn::Join"] ? r["Fn::Join"][1][1] : r));
    // And the quarantine, where a get_incidents item that fails the schema is kept raw.
    expect(objectKeys).toEqual(["/state/cursor.json", "/state/quarantine/*"]);
    const listing = pollerStatements.find((s) => actionsOf(s).includes("s3:ListBucket"));
    expect(listing?.Condition).toEqual({ StringLikeIfExists: { "s3:prefix": ["state/cursor.json"] } });
  });

  it("lets only the enricher publish incidents, and the enricher send only back to its own queue", () => {
    const policyOf = (which: "poller" | "enricher") =>
      JSON.stringify(
        Object.entries(resources("AWS::IAM::Policy")).find(([, p]) =>
          JSON.stringify(p.Properties.Roles).includes(
            synthesized.stack.getLogicalId(
              synthesized.stack.pipeline[which].role?.node.defaultChild as never,
            ),
          ),
        )?.[1],
      );
    expect(policyOf("enricher")).toContain('"sns:Publish"');
    expect(policyOf("poller")).not.toContain('"sns:Publish"');
    expect(policyOf("poller")).toContain('"sqs:SendMessage"');
    // Batch mode hands unstarted messages back to the incident queue: that queue and no other.
    const enricherSends = JSON.parse(policyOf("enricher") ?? "{}").Properties.PolicyDocument.Statement.filter(
      (statement: { Action: unknown }) => JSON.stringify(statement.Action).includes("sqs:SendMessage"),
    );
    expect(enricherSends).toHaveLength(1);
    expect(JSON.stringify(enricherSends[0].Resource)).toContain(logicalId(synthesized.stack.pipeline.queue));
    expect(policyOf("enricher")).toContain('"sqs:ChangeMessageVisibility"');
  });
});

describe("operations", () => {
  const alarms = () => Object.values(resources("AWS::CloudWatch::Alarm"));

  it("sends every alarm to the operations topic, none to the incident topic", () => {
    const { operationsTopic, incidentTopic } = synthesized.stack.pipeline;
    expect(alarms().length).toBeGreaterThanOrEqual(7);
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([ref(operationsTopic)]);
      expect(JSON.stringify(alarm.Properties)).not.toContain(logicalId(incidentTopic));
    }
  });

  /** An alarm on a metric the functions publish, as "namespace/metric/service". */
  const ownMetric = (service: string, name: string) => `${metricNames.METRICS_NAMESPACE}/${name}/${service}`;

  it("alarms on dead letters, queue age, poller and enricher errors, throttles, cursor lag, time to alert and unsent change events", () => {
    const watched = alarms().map((a) => {
      const service = (a.Properties.Dimensions as CfnJson[] | undefined)?.find(
        (d) => d.Name === "service",
      )?.Value;
      return `${a.Properties.Namespace}/${a.Properties.MetricName}${service ? `/${service}` : ""}`;
    });
    expect(watched.sort()).toEqual(
      [
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/SQS/ApproximateAgeOfOldestMessage",
        "AWS/Lambda/Errors",
        "AWS/Lambda/Errors",
        "AWS/Lambda/Throttles",
        ownMetric(metricNames.ENRICHER_SERVICE, metricNames.EnricherMetric.Throttles),
        ownMetric(metricNames.POLLER_SERVICE, metricNames.PollerMetric.CursorLagSeconds),
        ownMetric(metricNames.ENRICHER_SERVICE, metricNames.EnricherMetric.TimeToAlert),
        ownMetric(metricNames.ENRICHER_SERVICE, metricNames.EnricherMetric.ChangeEventsFailed),
      ].sort(),
    );
  });

  it("watches the dead-letter queue, not the main queue, for dead letters", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [logicalId(synthesized.stack.pipeline.deadLetterQueue), "QueueName"] },
        },
      ],
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("shows every pipeline metric on the dashboard", () => {
    const dashboards = Object.values(resources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
    for (const name of [
      ...Object.values(metricNames.PollerMetric),
      ...Object.values(metricNames.EnricherMetric),
    ]) {
      expect(body, name).toContain(`\\"${name}\\"`);
    }
    expect(body).toContain(metricNames.METRICS_NAMESPACE);
  });
});

describe("outputs", () => {
  it("name the bucket, topics, secret, queues, dashboard and log groups", () => {
    const outputs = Object.keys(template.findOutputs("*"));
    for (const name of [
      "ArchiveBucketName",
      "IncidentTopicArn",
      "OperationsTopicArn",
      "CortexSecretArn",
      "IncidentQueueUrl",
      "DeadLetterQueueUrl",
      "DeadLetterQueueArn",
      "DashboardName",
      "PollerLogGroupName",
      "EnricherLogGroupName",
    ]) {
      expect(outputs).toContain(name);
    }
  });
});
