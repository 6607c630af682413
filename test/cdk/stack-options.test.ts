// The optional settings: an existing secret, a KMS-encrypted incident topic, archive expiry, SMS and
// extra filters. One synth with cdk-nag registered, shared by every test here.
import { Validations } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { Template as CfnTemplate } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import type { PipelineConfigInput } from "../../lib/config.ts";
import type { IncidentExportStack } from "../../lib/incident-export-stack.ts";
import { buildStack, newApp } from "./synth.ts";

const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cortex/api";
const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const operationsKeyArn = "arn:aws:kms:eu-west-1:123456789012:key/9876fedc-98fe-76dc-54ba-0987654321fe";
const config: PipelineConfigInput = {
  cortexApiUrl: "https://api-acme.xdr.eu.paloaltonetworks.com",
  product: "xpanse",
  secretArn,
  incidentTopicKmsKeyArn: keyArn,
  operationsTopicKmsKeyArn: operationsKeyArn,
  notificationSmsNumbers: ["+14155550100"],
  incidentFilters: [{ field: "status", operator: "neq", value: "resolved" }],
  archive: { storageClass: "DEEP_ARCHIVE", transitionAfterDays: 30, expireAfterDays: 2555 },
  schedule: "rate(30 minutes)",
  lateArrivalWindowMinutes: 15,
};

let stack: IncidentExportStack;
let template: Template;
let nagFindings: string[];

beforeAll(() => {
  const app = newApp();
  stack = buildStack(config, app).stack;
  const pack = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(pack);
  const assembly = app.synth();
  template = CfnTemplate.fromJSON(
    assembly.getStackByName(stack.stackName).template as Record<string, unknown>,
  );
  nagFindings = pack.validateScope(app).violations.map((v) => v.ruleName);
});

interface Statement {
  Action: string | string[];
  Resource: unknown;
}
const statementsOf = (which: "poller" | "enricher"): Statement[] =>
  JSON.parse(policyText(which)).flatMap(
    (p: { Properties: { PolicyDocument: { Statement: Statement[] } } }) =>
      p.Properties.PolicyDocument.Statement,
  );

const policyText = (which: "poller" | "enricher"): string => {
  const roleId = stack.getLogicalId(stack.pipeline[which].role?.node.defaultChild as never);
  const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) =>
    JSON.stringify(p.Properties.Roles).includes(roleId),
  );
  return JSON.stringify(policies);
};

describe("an existing secret", () => {
  it("is used instead of creating one", () => {
    expect(Object.keys(template.findResources("AWS::SecretsManager::Secret"))).toEqual([]);
  });

  it("is readable by both functions by its name plus the random suffix Secrets Manager appends, nothing wider", () => {
    for (const which of ["poller", "enricher"] as const) {
      expect(policyText(which)).toContain(
        JSON.stringify({
          Action: "secretsmanager:GetSecretValue",
          Effect: "Allow",
          Resource: `${secretArn}-??????`,
        }),
      );
    }
  });
});

describe("a KMS key for the incident topic", () => {
  it("encrypts the incident topic", () => {
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: keyArn });
  });

  it("lets the enricher, and only the enricher, use that key with exactly the two actions publishing needs", () => {
    const kmsStatements = statementsOf("enricher").filter((s) =>
      [s.Action].flat().some((a) => a.startsWith("kms:")),
    );
    expect(kmsStatements).toHaveLength(1);
    expect([kmsStatements[0]?.Action].flat().sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
    expect(kmsStatements[0]?.Resource).toBe(keyArn);
    expect(policyText("poller")).not.toContain("kms:");
  });
});

describe("a KMS key for the operations topic", () => {
  it("encrypts the operations topic with its own key, as the incident topic can be", () => {
    const operationsTopicId = stack.getLogicalId(stack.pipeline.operationsTopic.node.defaultChild as never);
    const incidentTopicId = stack.getLogicalId(stack.pipeline.incidentTopic.node.defaultChild as never);
    const topics = template.findResources("AWS::SNS::Topic");
    expect(topics[operationsTopicId]?.Properties.KmsMasterKeyId).toBe(operationsKeyArn);
    expect(topics[incidentTopicId]?.Properties.KmsMasterKeyId).toBe(keyArn);
  });

  it("grants neither function that key: only CloudWatch alarms publish to the operations topic", () => {
    expect(policyText("poller")).not.toContain(operationsKeyArn);
    expect(policyText("enricher")).not.toContain(operationsKeyArn);
  });
});

describe("other options", () => {
  it("expires archived incidents after the configured days, after moving them to the configured class", () => {
    const bucket =
      template.findResources("AWS::S3::Bucket")[
        stack.getLogicalId(stack.pipeline.archiveBucket.node.defaultChild as never)
      ];
    expect(bucket?.Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({
        Prefix: "incidents/",
        ExpirationInDays: 2555,
        Transitions: [{ StorageClass: "DEEP_ARCHIVE", TransitionInDays: 30 }],
      }),
    );
  });

  it("subscribes SMS numbers to the incident topic", () => {
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "sms", Endpoint: "+14155550100" });
  });

  it("passes product, filters and schedule through to the poller", () => {
    const poller =
      template.findResources("AWS::Lambda::Function")[
        stack.getLogicalId(stack.pipeline.poller.node.defaultChild as never)
      ];
    expect(poller?.Properties.Environment.Variables.CORTEX_PRODUCT).toBe("xpanse");
    expect(JSON.parse(poller?.Properties.Environment.Variables.INCIDENT_FILTERS)).toEqual(
      config.incidentFilters,
    );
    template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(30 minutes)" });
    expect(poller?.Properties.Environment.Variables.LATE_ARRIVAL_WINDOW_SECONDS).toBe("900");
  });

  it("gives the cursor-lag alarm a period that holds a poll run, so a slow schedule is not missing data", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "CursorLagSeconds",
      Period: 1800,
      TreatMissingData: "breaching",
    });
  });

  it("still passes the AwsSolutions pack", () => {
    expect(nagFindings).toEqual([]);
  });
});
