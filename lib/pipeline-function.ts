// Every function default in one place (runtime, architecture, ESM bundle, log group, role), and bindX()
// helpers that grant access and set the environment variable in one call, so no function of the
// pipeline can be half-configured.
import { fileURLToPath } from "node:url";
import { type Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource, type SqsEventSourceProps } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../functions/shared/metric-names.ts";

/** The repository root: entry points and the lock file are resolved from it, whatever the working directory. */
export const PROJECT_ROOT = fileURLToPath(new URL("../", import.meta.url));

/** ESM bundles have no `require`; a few CommonJS dependencies still call it. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __cieCreateRequire } from 'node:module'; const require = __cieCreateRequire(import.meta.url);";

export interface PipelineFunctionProps<Variable extends string> {
  /** Entry file relative to the repository root, e.g. functions/poller/handler.ts */
  readonly entry: string;
  readonly description: string;
  /** Powertools service name: the `service` dimension of the function's metrics. */
  readonly serviceName: string;
  /**
   * The handler's own environment schema: variable names are typed by it (renaming one there breaks this
   * build), and synth fails naming any variable that neither `environment` nor a bindX() call sets.
   */
  readonly environmentSchema: { readonly shape: Record<Variable, unknown> };
  /** Plain settings only; a variable naming a resource is set by the bindX() call that grants its access. */
  readonly environment: Partial<Record<Variable, string>>;
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly logRetention: logs.RetentionDays;
  readonly reservedConcurrentExecutions?: number;
}

/** Which keys of the archive bucket a function touches: exact keys or prefixes written `prefix*`. */
export interface ObjectAccess {
  /** GetObject and PutObject; a read of a key that does not exist yet answers 404, not 403. */
  readonly readWrite?: readonly string[];
  /** PutObject only. */
  readonly write?: readonly string[];
}

export class PipelineFunction<Variable extends string = string> extends NodejsFunction {
  readonly functionLogGroup: logs.LogGroup;
  private readonly variables = new Map<string, string>();

  constructor(scope: Construct, id: string, props: PipelineFunctionProps<Variable>) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      // Logs are operational, not the archive: they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Own role with write access to its own log group only, instead of the broad AWSLambdaBasicExecutionRole.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.description} (execution role)`,
    });
    const functionProps: NodejsFunctionProps = {
      entry: `${PROJECT_ROOT}${props.entry}`,
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      role,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: "--enable-source-maps",
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        mainFields: ["module", "main"],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the exact version the tests ran against, not whatever the runtime ships.
        externalModules: [],
        forceDockerBundling: false,
      },
    };
    super(scope, id, functionProps);
    this.functionLogGroup = logGroup;
    logGroup.grantWrite(role);
    for (const [name, value] of Object.entries(props.environment) as [Variable, string | undefined][]) {
      if (value !== undefined) this.setVariable(name, value);
    }
    const required = Object.keys(props.environmentSchema.shape);
    this.node.addValidation({
      validate: () =>
        required
          .filter((name) => !this.variables.has(name))
          .map(
            (name) =>
              `${this.node.path}: environment variable ${name} is not set (environment or a bindX() call)`,
          ),
    });
  }

  /** The archive bucket's name, with object access limited to the keys given. */
  bindObjects(variable: Variable, bucket: s3.IBucket, access: ObjectAccess): this {
    this.setVariable(variable, bucket.bucketName);
    const { readWrite = [], write = [] } = access;
    if (readWrite.length > 0) {
      this.grantObjects(bucket, ["s3:GetObject", "s3:PutObject"], readWrite);
      // s3:ListBucket only so a GetObject of a missing key answers 404 NoSuchKey instead of 403;
      // a real listing is limited to the function's own keys.
      this.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["s3:ListBucket"],
          resources: [bucket.bucketArn],
          conditions: { StringLikeIfExists: { "s3:prefix": [...readWrite] } },
        }),
      );
    }
    // One statement per prefix written, as each is its own part of the bucket layout.
    for (const pattern of write) this.grantObjects(bucket, ["s3:PutObject"], [pattern]);
    this.acknowledgePrefixes(bucket, [...readWrite, ...write]);
    return this;
  }

  /** The queue's URL, with permission to send to it and nothing else. */
  bindQueueSender(variable: Variable, queue: sqs.IQueue): this {
    this.setVariable(variable, queue.queueUrl);
    this.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["sqs:SendMessage"], resources: [queue.queueArn] }),
    );
    return this;
  }

  /**
   * The queue's URL, with the queue as this function's event source (which grants receive, delete,
   * visibility); `requeue` also lets it send to the queue (messages it hands back unstarted).
   */
  bindQueueConsumer(
    variable: Variable,
    queue: sqs.IQueue,
    eventSource: SqsEventSourceProps,
    options: { requeue?: boolean } = {},
  ): this {
    this.setVariable(variable, queue.queueUrl);
    this.addEventSource(new SqsEventSource(queue, eventSource));
    if (options.requeue === true) {
      this.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["sqs:SendMessage"], resources: [queue.queueArn] }),
      );
    }
    return this;
  }

  /** The queue's URL, with permission to receive and delete its messages (a queue read without an event source). */
  bindQueueReceiver(variable: Variable, queue: sqs.IQueue): this {
    this.setVariable(variable, queue.queueUrl);
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        resources: [queue.queueArn],
      }),
    );
    return this;
  }

  /** The topic's ARN, with permission to publish to it (and to use its KMS key, when it has one). */
  bindTopicPublisher(variable: Variable, topic: sns.ITopic, key?: kms.IKey): this {
    this.setVariable(variable, topic.topicArn);
    this.addToRolePolicy(new iam.PolicyStatement({ actions: ["sns:Publish"], resources: [topic.topicArn] }));
    if (key) {
      this.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["kms:GenerateDataKey", "kms:Decrypt"], resources: [key.keyArn] }),
      );
    }
    return this;
  }

  /** The bus's name, with permission to put events on it and no other. */
  bindEventBusPublisher(variable: Variable, bus: events.IEventBus): this {
    this.setVariable(variable, bus.eventBusName);
    this.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["events:PutEvents"], resources: [bus.eventBusArn] }),
    );
    return this;
  }

  /** The secret's ARN (never its value), with permission to read it. */
  bindSecretReader(variable: Variable, secret: secretsmanager.ISecret): this {
    this.setVariable(variable, secret.secretArn);
    const resource = secret.secretFullArn ?? `${secret.secretArn}-??????`;
    this.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["secretsmanager:GetSecretValue"], resources: [resource] }),
    );
    if (!secret.secretFullArn) {
      this.acknowledge(
        `AwsSolutions-IAM5[Resource::${resource}]`,
        "Secrets Manager appends a random 6-character suffix to the secret's name; the name is exact.",
      );
    }
    return this;
  }

  private setVariable(name: Variable, value: string): void {
    const existing = this.variables.get(name);
    if (existing !== undefined && existing !== value) {
      throw new Error(`${this.node.path}: environment variable ${name} is already bound to another value`);
    }
    this.variables.set(name, value);
    this.addEnvironment(name, value);
  }

  private grantObjects(bucket: s3.IBucket, actions: string[], keyPatterns: readonly string[]): void {
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: keyPatterns.map((pattern) => bucket.arnForObjects(pattern)),
      }),
    );
  }

  /** cdk-nag flags every key-prefix resource; each is acknowledged by its exact finding. */
  private acknowledgePrefixes(bucket: s3.IBucket, keyPatterns: readonly string[]): void {
    const cfnBucket = bucket.node.defaultChild as s3.CfnBucket | undefined;
    if (!cfnBucket) return;
    const bucketArn = `<${Stack.of(this).getLogicalId(cfnBucket)}.Arn>`;
    for (const pattern of keyPatterns.filter((p) => p.endsWith("*"))) {
      this.acknowledge(
        `AwsSolutions-IAM5[Resource::${bucketArn}/${pattern}]`,
        `Object access is limited to the ${pattern} key prefix of ${bucket.node.id}, the only keys this function touches there.`,
      );
    }
  }

  private acknowledge(id: string, reason: string): void {
    const policy = this.role?.node.tryFindChild("DefaultPolicy");
    if (policy) Validations.of(policy).acknowledge({ id, reason });
  }
}
