// The priority lane and the time-to-alert settings in the synthesized template: a short-lived encrypted
// queue with no event source, who may send to it and read it, the poll loop's variables, the alarm.
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import { PRIORITY_HINT_RETENTION_SECONDS } from "../../functions/shared/queue-message.ts";
import { PipelineConfigError, parsePipelineConfig, pollWindowSeconds } from "../../lib/config.ts";
import { exampleConfig, type SynthesizedStack, synthesize } from "./synth.ts";

// biome-ignore lint/suspicious/noExplicitAny: template JSON has no static type
type CfnJson = any;

let synthesized: SynthesizedStack;
let template: Template;
beforeAll(() => {
  synthesized = synthesize({ ...exampleConfig, alarms: { timeToAlertSeconds: 75 } });
  template = synthesized.template;
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  synthesized.stack.getLogicalId(construct.node.defaultChild as never);
const environmentOf = (which: "poller" | "enricher"): Record<string, CfnJson> => {
  const id = logicalId(synthesized.stack.pipeline[which]);
  return (template.toJSON().Resources[id] as CfnJson).Properties.Environment.Variables;
};
const statementsOf = (which: "poller" | "enricher"): CfnJson[] => {
  const roleId = logicalId(synthesized.stack.pipeline[which].role as never);
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy: CfnJson) => policy.Properties.Roles.some((r: CfnJson) => r.Ref === roleId))
    .flatMap((policy: CfnJson) => policy.Properties.PolicyDocument.Statement);
};
const priorityArn = () => ({ "Fn::GetAtt": [logicalId(synthesized.stack.pipeline.priorityQueue), "Arn"] });
const actionsOn = (statements: CfnJson[], arn: unknown): string[] =>
  statements
    .filter((s) => [s.Resource].flat().some((r: unknown) => JSON.stringify(r) === JSON.stringify(arn)))
    .flatMap((s) => [s.Action].flat());

describe("the priority queue", () => {
  it("keeps hints for 15 minutes, encrypted, and is read by no event source", () => {
    const id = logicalId(synthesized.stack.pipeline.priorityQueue);
    const queue = template.toJSON().Resources[id] as CfnJson;
    expect(queue.Properties.MessageRetentionPeriod).toBe(PRIORITY_HINT_RETENTION_SECONDS);
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping"));
    expect(mappings).toHaveLength(1);
    expect(JSON.stringify(mappings)).not.toContain(id);
  });

  it("lets the poller only send to it and the enricher only receive and delete", () => {
    expect(actionsOn(statementsOf("poller"), priorityArn())).toEqual(["sqs:SendMessage"]);
    expect(actionsOn(statementsOf("enricher"), priorityArn()).sort()).toEqual([
      "sqs:DeleteMessage",
      "sqs:ReceiveMessage",
    ]);
  });

  it("is named to both functions, with the threshold and the poll loop's interval and window", () => {
    const queueRef = { Ref: logicalId(synthesized.stack.pipeline.priorityQueue) };
    expect(environmentOf("poller")).toMatchObject({
      PRIORITY_QUEUE_URL: queueRef,
      NOTIFY_MIN_SEVERITY: "high",
      POLL_INTERVAL_SECONDS: "20",
      POLL_WINDOW_SECONDS: "60",
    });
    expect(environmentOf("enricher")).toMatchObject({ PRIORITY_QUEUE_URL: queueRef });
  });
});

describe("time to alert", () => {
  it("alarms when the p95 of TimeToAlert passes the configured bound", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: EnricherMetric.TimeToAlert,
      ExtendedStatistic: "p95",
      Threshold: 75,
      ComparisonOperator: "GreaterThanThreshold",
      AlarmActions: Match.anyValue(),
    });
  });

  it("polls for the schedule's period, never past the poller's timeout less a minute", () => {
    expect(pollWindowSeconds("rate(1 minute)")).toBe(60);
    expect(pollWindowSeconds("rate(2 minutes)")).toBe(120);
    expect(pollWindowSeconds("rate(1 hour)")).toBe(240);
    expect(pollWindowSeconds("cron(0/5 * * * ? *)")).toBe(60);
  });

  it("refuses a poll interval longer than one invocation polls for, naming the field", () => {
    expect(() => parsePipelineConfig({ ...exampleConfig, pollIntervalSeconds: 90 })).toThrow(
      PipelineConfigError,
    );
    expect(() => parsePipelineConfig({ ...exampleConfig, pollIntervalSeconds: 90 })).toThrow(
      /pollIntervalSeconds: must be at most the time one scheduled invocation polls for \(60 s/,
    );
    expect(parsePipelineConfig(exampleConfig)).toMatchObject({
      pollIntervalSeconds: 20,
      alarms: { timeToAlertSeconds: 90 },
    });
  });
});
