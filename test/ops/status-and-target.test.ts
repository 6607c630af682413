// `ops status` and how ops finds its target: the local runner's resources on the embedded endpoint (real
// fauxqs), and a deployed stack. fauxqs has no CloudFormation, CloudWatch or Secrets Manager, so those
// three clients are mocked (aws-sdk-client-mock) while S3 and SQS stay real: the stack's outputs point at
// the fauxqs bucket and queues.
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from "@aws-sdk/client-cloudformation";
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
} from "@aws-sdk/client-cloudwatch";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ExitCode } from "../../local/ops/errors.ts";
import type { PipelineStatus } from "../../local/ops/status.ts";
import { type OpsHarness, startArchivedOpsHarness } from "./ops-harness.ts";

let h: OpsHarness;
beforeAll(async () => {
  h = await startArchivedOpsHarness(12);
});
afterAll(() => h?.close());

const cloudFormation = mockClient(CloudFormationClient);
const cloudWatch = mockClient(CloudWatchClient);
const secrets = mockClient(SecretsManagerClient);
afterEach(() => {
  cloudFormation.reset();
  cloudWatch.reset();
  secrets.reset();
  vi.unstubAllEnvs();
});

function deployedStack(outputs: Record<string, string> = {}) {
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  const r = h.resources;
  const all: Record<string, string> = {
    ArchiveBucketName: r.bucket,
    IncidentQueueUrl: r.queueUrl,
    IncidentQueueArn: r.queueArn,
    DeadLetterQueueUrl: r.deadLetterQueueUrl,
    DeadLetterQueueArn: r.deadLetterQueueArn,
    IncidentTopicArn: r.topicArn,
    CortexSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cortex/api-AbCdEf",
    OpsPipelineSettings: JSON.stringify({
      cortexApiUrl: h.emulator.url,
      product: "xdr",
      filters: [],
      alertsLimit: 1000,
      budgetPerMinute: 6000,
      maxConcurrency: 2,
      notifyMinSeverity: "high",
    }),
    ...outputs,
  };
  cloudFormation.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: "Acme",
        CreationTime: new Date(),
        StackStatus: "UPDATE_COMPLETE",
        Outputs: Object.entries(all)
          .filter(([, value]) => value !== "")
          .map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  cloudFormation.on(ListStackResourcesCommand).resolves({
    StackResourceSummaries: ["Acme-DeadLetterMessagesAlarm-1A", "Acme-CursorLagAlarm-2B"].map((name) => ({
      ResourceType: "AWS::CloudWatch::Alarm",
      LogicalResourceId: name.split("-")[1],
      PhysicalResourceId: name,
      LastUpdatedTimestamp: new Date(),
      ResourceStatus: "CREATE_COMPLETE",
    })),
  });
  const key = h.emulator.keys.standard;
  secrets
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ apiKey: key.key, apiKeyId: key.id, authType: "standard" }) });
}

const stackArgs = ["--stack", "Acme", "--region", "eu-west-1"];

describe("ops status on the local runner's resources", () => {
  it("shows the cursor, both queues and the newest archived version, and says what only CloudWatch knows", async () => {
    const modified = h.emulator.control.modifyIncident(h.emulator.control.incidents()[0]?.incident_id ?? "");
    await h.poll(); // one version queued, not yet enriched
    const run = await h.ops(["status", "--json"]);
    const status = JSON.parse(run.stdout) as PipelineStatus;
    expect(run.code).toBe(0);
    expect(status.cursor?.modification_time).toBe(new Date(modified.modification_time).toISOString());
    expect(status.queue.visible).toBe(1);
    expect(status.dead_letter_queue.visible).toBe(0);
    expect(status.alarms).toBe("unavailable");
    const keys = (
      await h.clients.s3.send(new ListObjectsV2Command({ Bucket: h.resources.bucket, Prefix: "incidents/" }))
    ).Contents?.map((o) => o.Key ?? "");
    const newestDay = keys
      ?.map((k) => k.split("/").slice(1, 4).join("/"))
      .sort()
      .at(-1);
    expect(keys).toContain(status.newest_archived?.key);
    expect(status.newest_archived?.key.split("/").slice(1, 4).join("/")).toBe(newestDay);
    await h.enrichQueue();

    const text = await h.ops(["status"]);
    expect(text.stdout).toMatch(/^ {2}queue {7}0 waiting, 0 in flight, 0 delayed; oldest unknown here/m);
    expect(text.stdout).toContain("alarms      unknown here (no CloudWatch on this endpoint)");
  });
});

describe("ops on a deployed stack (CloudFormation, CloudWatch and Secrets Manager mocked)", () => {
  it("reads the stack's outputs, lists the alarms in ALARM and the poller's last report", async () => {
    deployedStack();
    cloudWatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: "Acme-DeadLetterMessagesAlarm-1A",
          StateValue: "ALARM",
          StateReason: "Threshold Crossed",
          StateUpdatedTimestamp: new Date("2026-12-01T10:00:00Z"),
        },
        { AlarmName: "Acme-CursorLagAlarm-2B", StateValue: "OK" },
      ],
    });
    const reportedAt = new Date(Date.now() - 90_000);
    cloudWatch.on(GetMetricStatisticsCommand).resolves({
      Datapoints: [
        { Timestamp: new Date(reportedAt.getTime() - 60_000), Maximum: 500 },
        { Timestamp: reportedAt, Maximum: 42 },
      ],
    });
    const run = await h.ops(["status", ...stackArgs, "--json"]);
    const status = JSON.parse(run.stdout) as PipelineStatus;
    expect(run.code).toBe(0);
    expect(status.target).toBe("stack Acme (eu-west-1)");
    expect(status.alarms).toEqual({
      total: 2,
      inAlarm: [
        {
          name: "Acme-DeadLetterMessagesAlarm-1A",
          reason: "Threshold Crossed",
          since: "2026-12-01T10:00:00.000Z",
        },
      ],
    });
    expect(status.last_poll).toEqual({ at: reportedAt.toISOString(), reported_lag_seconds: 42 });
    expect(status.queue.oldest_age_seconds).toBe(42);
    const alarmCall = cloudWatch.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input;
    expect(alarmCall?.AlarmNames).toEqual(["Acme-DeadLetterMessagesAlarm-1A", "Acme-CursorLagAlarm-2B"]);
  });

  it("verifies the deployed archive with the key from the stack's secret", async () => {
    deployedStack();
    const run = await h.ops([
      "verify",
      ...stackArgs,
      "--from",
      new Date(Date.now() - 7 * 3_600_000).toISOString(),
    ]);
    expect(run.stderr).toContain("listed 12 incident version(s)");
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toContain(
      "secret:cortex/api",
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("OK: every listed version is archived");
  });

  it("exits 3 naming the stack and region when the stack does not exist", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error("Stack with id Acme does not exist"), { name: "ValidationError" }));
    const run = await h.ops(["status", ...stackArgs]);
    expect(run.code).toBe(ExitCode.awsTarget);
    expect(run.stderr).toContain("Stack Acme does not exist in region eu-west-1");
  });

  it("exits 3 saying how to get credentials when there are none", async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(
      Object.assign(new Error("Could not load credentials from any providers"), {
        name: "CredentialsProviderError",
      }),
    );
    const run = await h.ops(["status", ...stackArgs]);
    expect(run.code).toBe(ExitCode.awsTarget);
    expect(run.stderr).toContain("No AWS credentials found for DescribeStacks Acme");
  });

  it("exits 3 naming the output a stack deployed by an older version lacks", async () => {
    deployedStack({ OpsPipelineSettings: "", IncidentQueueArn: "" });
    const run = await h.ops(["status", ...stackArgs]);
    expect(run.code).toBe(ExitCode.awsTarget);
    expect(run.stderr).toContain("lacks the output(s) IncidentQueueArn, OpsPipelineSettings");
  });

  it("says the secret still holds its placeholder, without printing what it holds", async () => {
    deployedStack();
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ placeholder: "s3cr3t-placeholder-value" }) });
    const run = await h.ops(["verify", ...stackArgs, "--from", "2026-11-01"]);
    expect(run.code).toBe(ExitCode.awsTarget);
    expect(run.stderr).toContain("still holds its placeholder");
    expect(run.stdout + run.stderr).not.toContain("s3cr3t-placeholder-value");
  });
});

describe("ops errors", () => {
  it("exits 2 with what to check when the Cortex API rejects the key, and never prints the key", async () => {
    const wrongKey = "wrong-key-0123456789abcdef";
    const { runOpsCli } = await import("../../local/ops/cli.ts");
    let stderr = "";
    const sink = {
      write: (text: string) => {
        stderr += text;
        return true;
      },
    } as never;
    const code = await runOpsCli(
      ["verify", "--from", "2026-11-01"],
      { ...h.env, CORTEX_API_KEY: wrongKey },
      {
        stdout: sink,
        stderr: sink,
        stopSignal: new AbortController().signal,
      },
    );
    expect(code).toBe(ExitCode.cortexAccess);
    expect(stderr).toContain("Cortex API rejected the key (401");
    expect(stderr).not.toContain(wrongKey);
  });

  it("exits 64 naming a flag the command does not take", async () => {
    const run = await h.ops(["status", "--repair"]);
    expect(run.code).toBe(ExitCode.usage);
    expect(run.stderr).toContain("status does not take --repair");
  });

  it("prints each command's help, exit 0", async () => {
    for (const command of ["status", "backfill", "redrive", "replay", "verify"]) {
      const run = await h.ops([command, "--help"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: npm run ops -- ${command}`);
    }
  });
});
