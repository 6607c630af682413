// Where `npm run ops` works: a deployed stack (found by name; its CloudFormation outputs name the bucket,
// queues, topic, secret and settings) or the local runner's resources on AWS_ENDPOINT_URL. Every command
// gets the same OpsTarget either way, so the code that operates on it is the same.
import {
  CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
} from "@aws-sdk/client-cloudformation";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ListTopicsCommand, type SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { createS3Client, createSnsClient, createSqsClient } from "../../functions/shared/aws-clients.ts";
import type {
  CortexCredentials,
  CortexProduct,
  IncidentFilterInput,
} from "../../functions/shared/cortex/api.ts";
import { CortexClient } from "../../functions/shared/cortex/client.ts";
import { parseCredentials } from "../../functions/shared/cortex/secret.ts";
import {
  CORTEX_PRODUCTS,
  NOTIFY_SEVERITIES,
  type NotifySeverity,
} from "../../functions/shared/cortex/vocabulary.ts";
import { localAwsClients } from "../aws-endpoint.ts";
import { LOCAL_RESOURCE_NAMES } from "../runner/aws-resources.ts";
import { DEFAULTS as RUNNER_DEFAULTS, tenantFromEnvironment } from "../runner/options.ts";
import { ExitCode, explainAwsError, OpsError } from "./errors.ts";
import { CloudWatchMonitoring, type Monitoring } from "./monitoring.ts";

export const DEFAULT_STACK_NAME = "CortexIncidentExport";

/** How the deployed pipeline is set up; the settings ops reuse so a backfill or replay acts like the pipeline. */
export interface PipelineSettings {
  cortexApiUrl: string;
  product: CortexProduct;
  filters: IncidentFilterInput[];
  alertsLimit: number;
  budgetPerMinute: number;
  maxConcurrency: number;
  notifyMinSeverity: NotifySeverity;
}

export interface OpsTarget {
  /** For the first line of every command: "stack CortexIncidentExport (eu-west-1)". */
  label: string;
  kind: "stack" | "local";
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  bucket: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  queueArn: string;
  topicArn: string;
  settings: PipelineSettings;
  /** CloudWatch alarms and queue ages; undefined where the endpoint has no CloudWatch (fauxqs). */
  monitoring: Monitoring | undefined;
  /** A Cortex client for the tenant the pipeline reads; fails with what is missing (secret, CORTEX_* variables). */
  cortex(): Promise<CortexClient>;
  close(): Promise<void>;
}

export interface TargetOptions {
  stack: string | undefined;
  region: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  /** Local runner only (a stack's outputs say these): the flags the runner was started with. */
  local?: Partial<Pick<PipelineSettings, "product" | "budgetPerMinute" | "filters">>;
}

/** Stack outputs ops reads; lib/incident-export-stack.ts declares them (the Ops* ones for this tool). */
const stackOutputsSchema = z.looseObject({
  ArchiveBucketName: z.string().min(1),
  IncidentQueueUrl: z.string().min(1),
  IncidentQueueArn: z.string().min(1),
  DeadLetterQueueUrl: z.string().min(1),
  DeadLetterQueueArn: z.string().min(1),
  IncidentTopicArn: z.string().min(1),
  CortexSecretArn: z.string().min(1),
  OpsPipelineSettings: z.string().min(2),
});

const settingsSchema = z.object({
  cortexApiUrl: z.string().min(1),
  product: z.enum(CORTEX_PRODUCTS),
  filters: z.array(z.object({ field: z.string(), operator: z.string(), value: z.unknown() })),
  alertsLimit: z.number().int().positive(),
  budgetPerMinute: z.number().positive(),
  maxConcurrency: z.number().int().positive(),
  notifyMinSeverity: z.enum(NOTIFY_SEVERITIES),
});

/** A deployed stack when --stack is given or no AWS_ENDPOINT_URL is set; the local runner's resources otherwise. */
export async function resolveTarget(options: TargetOptions): Promise<OpsTarget> {
  const endpoint = options.env.AWS_ENDPOINT_URL?.trim();
  if (options.stack === undefined && endpoint) return resolveLocalTarget(endpoint, options);
  return resolveStackTarget(options.stack ?? DEFAULT_STACK_NAME, options);
}

async function resolveStackTarget(stackName: string, options: TargetOptions): Promise<OpsTarget> {
  const region = options.region ?? options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION;
  const endpoint = options.env.AWS_ENDPOINT_URL?.trim() || undefined;
  const common = {
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
  };
  const { out, alarmNames } = await describeStack(stackName, common);
  const settings = parseSettings(out.OpsPipelineSettings, `output OpsPipelineSettings of ${stackName}`);
  // The endpoint, when there is one, is in `common` already: the factories need not read the environment.
  const s3 = createS3Client(common, {});
  const sqs = createSqsClient(common, {});
  const sns = createSnsClient(common);
  const cloudWatch = new CloudWatchClient(common);
  const secrets = new SecretsManagerClient(common);
  const clients: { destroy(): void }[] = [s3, sqs, sns, cloudWatch, secrets];
  const cortexClients: CortexClient[] = [];
  return {
    label: `stack ${stackName} (${region ?? "default region"})`,
    kind: "stack",
    s3,
    sqs,
    sns,
    bucket: out.ArchiveBucketName,
    queueUrl: out.IncidentQueueUrl,
    queueArn: out.IncidentQueueArn,
    deadLetterQueueUrl: out.DeadLetterQueueUrl,
    deadLetterQueueArn: out.DeadLetterQueueArn,
    topicArn: out.IncidentTopicArn,
    settings,
    monitoring: new CloudWatchMonitoring(cloudWatch, alarmNames, region),
    async cortex() {
      const credentials = await readSecret(secrets, out.CortexSecretArn, region);
      const client = new CortexClient({
        baseUrl: settings.cortexApiUrl,
        product: settings.product,
        credentials,
      });
      cortexClients.push(client);
      return client;
    },
    async close() {
      for (const client of cortexClients) await client.close();
      for (const client of clients) client.destroy();
    },
  };
}

/** The stack's outputs, checked, and its alarms; an error that says what to check when it cannot be read. */
async function describeStack(stackName: string, common: { region?: string; endpoint?: string }) {
  const { region } = common;
  const cloudFormation = new CloudFormationClient(common);
  let outputs: Record<string, string>;
  let alarmNames: string[];
  try {
    const reply = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Object.fromEntries(
      (reply.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? "", o.OutputValue ?? ""]),
    );
    alarmNames = await stackAlarmNames(cloudFormation, stackName);
  } catch (error) {
    const text = error instanceof Error ? error.message : "";
    if (/does not exist/i.test(text)) {
      throw new OpsError(
        ExitCode.awsTarget,
        `Stack ${stackName} does not exist in region ${region ?? "(SDK default)"}: check --stack (the config's stackName) and the region it was deployed to (AWS_REGION or --region).`,
      );
    }
    throw explainAwsError(error, `DescribeStacks ${stackName}`, region);
  } finally {
    cloudFormation.destroy();
  }
  const parsed = stackOutputsSchema.safeParse(outputs);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((issue) => String(issue.path[0])).join(", ");
    throw new OpsError(
      ExitCode.awsTarget,
      `Stack ${stackName} lacks the output(s) ${missing}: it was deployed by an older version of this project; deploy it again (npx cdk deploy).`,
    );
  }
  return { out: parsed.data, alarmNames };
}

/** Every alarm the stack created, by its physical name (CloudFormation generates them). */
async function stackAlarmNames(cloudFormation: CloudFormationClient, stackName: string): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListStackResources({ client: cloudFormation }, { StackName: stackName })) {
    for (const resource of page.StackResourceSummaries ?? []) {
      if (resource.ResourceType === "AWS::CloudWatch::Alarm" && resource.PhysicalResourceId) {
        names.push(resource.PhysicalResourceId);
      }
    }
  }
  return names;
}

function parseSettings(text: string, source: string): PipelineSettings {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OpsError(ExitCode.awsTarget, `${source} is not JSON; deploy the stack again.`);
  }
  const parsed = settingsSchema.safeParse(json);
  if (!parsed.success) {
    throw new OpsError(
      ExitCode.awsTarget,
      `${source} is not valid (${z.prettifyError(parsed.error)}); deploy the stack again.`,
    );
  }
  return parsed.data;
}

async function readSecret(
  secrets: SecretsManagerClient,
  secretArn: string,
  region: string | undefined,
): Promise<CortexCredentials> {
  let value: string | undefined;
  try {
    value = (await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    throw explainAwsError(error, `GetSecretValue ${secretArn}`, region);
  }
  try {
    return parseCredentials(value ?? "", secretArn);
  } catch (error) {
    throw new OpsError(
      ExitCode.awsTarget,
      `${(error as Error).message}. If the stack created the secret, it still holds its placeholder: put the API key in it (README, "Deploying to AWS", step 4).`,
    );
  }
}

/** The local runner's resources (local/runner/aws-resources.ts names) on AWS_ENDPOINT_URL; Cortex from CORTEX_*. */
async function resolveLocalTarget(endpoint: string, options: TargetOptions): Promise<OpsTarget> {
  const { s3, sqs, sns } = localAwsClients(endpoint);
  const names = LOCAL_RESOURCE_NAMES;
  let tenant: ReturnType<typeof tenantFromEnvironment>;
  try {
    tenant = tenantFromEnvironment(options.env);
  } catch (error) {
    throw new OpsError(ExitCode.usage, (error as Error).message);
  }
  const resources = await findLocalResources(sqs, sns, endpoint);
  const product = options.local?.product ?? RUNNER_DEFAULTS.product;
  const cortexClients: CortexClient[] = [];
  return {
    label: `local runner resources on ${endpoint}`,
    kind: "local",
    s3,
    sqs,
    sns,
    bucket: names.bucket,
    ...resources,
    settings: {
      cortexApiUrl: tenant?.url ?? "",
      product,
      filters: options.local?.filters ?? [],
      alertsLimit: RUNNER_DEFAULTS.alertsLimit,
      budgetPerMinute: options.local?.budgetPerMinute ?? RUNNER_DEFAULTS.budgetPerMinute,
      maxConcurrency: RUNNER_DEFAULTS.maxConcurrency,
      notifyMinSeverity: RUNNER_DEFAULTS.notifyMinSeverity,
    },
    monitoring: undefined,
    async cortex() {
      if (tenant === undefined) {
        throw new OpsError(
          ExitCode.usage,
          "This command calls the Cortex API: set CORTEX_API_URL, CORTEX_API_KEY, CORTEX_API_KEY_ID and CORTEX_AUTH_TYPE (as for npm start against a tenant).",
        );
      }
      const { url, kind: _kind, ...credentials } = tenant;
      const client = new CortexClient({ baseUrl: url, product, credentials });
      cortexClients.push(client);
      return client;
    },
    async close() {
      for (const client of cortexClients) await client.close();
      s3.destroy();
      sqs.destroy();
      sns.destroy();
    },
  };
}

async function findLocalResources(sqs: SQSClient, sns: SNSClient, endpoint: string) {
  const names = LOCAL_RESOURCE_NAMES;
  const start = `start the local runner against it first (AWS_ENDPOINT_URL=${endpoint} npm start)`;
  const queue = async (name: string) => {
    try {
      const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? "";
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
      );
      return { url, arn: attributes.Attributes?.QueueArn ?? "" };
    } catch (error) {
      if (/NonExistentQueue|does not exist/i.test(`${(error as Error).name} ${(error as Error).message}`)) {
        throw new OpsError(ExitCode.awsTarget, `Queue ${name} does not exist on ${endpoint}: ${start}.`);
      }
      throw explainAwsError(error, `GetQueueUrl ${name} on ${endpoint}`, undefined);
    }
  };
  const main = await queue(names.queue);
  const deadLetter = await queue(names.deadLetterQueue);
  const topics = await sns.send(new ListTopicsCommand({}));
  const topicArn = (topics.Topics ?? []).find((t) => t.TopicArn?.endsWith(`:${names.topic}`))?.TopicArn;
  if (topicArn === undefined) {
    throw new OpsError(ExitCode.awsTarget, `Topic ${names.topic} does not exist on ${endpoint}: ${start}.`);
  }
  return {
    queueUrl: main.url,
    queueArn: main.arn,
    deadLetterQueueUrl: deadLetter.url,
    deadLetterQueueArn: deadLetter.arn,
    topicArn,
  };
}
