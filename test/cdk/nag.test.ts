// cdk-nag's AwsSolutions pack, registered through CDK's own Validations API (cdk-nag v3), must find
// nothing that is not acknowledged, and every acknowledgement must say why.
import { Stack, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { buildStack, exampleConfig, newApp } from "./synth.ts";

interface Acknowledgement {
  path: string;
  id: string;
  reason: unknown;
}

function acknowledgementsUnder(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe("cdk-nag AwsSolutions pack", () => {
  let synthError: unknown;
  let findings: string[];
  let acknowledgements: Acknowledgement[];
  let rawFindings: string[];

  beforeAll(() => {
    const app = newApp();
    buildStack(exampleConfig, app);
    const pack = new AwsSolutionsChecks(app);
    Validations.of(app).addPlugins(pack);
    try {
      app.synth();
    } catch (error) {
      synthError = error;
    }
    // The same pack run directly, so a failure lists each finding and where it is.
    findings = pack
      .validateScope(app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
    acknowledgements = acknowledgementsUnder(app);
    // Then without any acknowledgement, to show each one answers a real finding. Construct metadata is
    // append-only in the public API, so the test clears the private list (test-only, after synth).
    for (const construct of app.node.findAll()) {
      const node = construct.node as unknown as { _metadata?: { type: string }[] };
      node._metadata = node._metadata?.filter(
        (entry) => entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
      );
    }
    rawFindings = pack.validateScope(app).violations.map((v) => v.ruleName);
  });

  it("reports nothing unacknowledged on the stack", () => {
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
  });

  it("gives a reason with every acknowledgement", () => {
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const ack of acknowledgements) {
      expect(
        typeof ack.reason === "string" && ack.reason.trim().length >= 20,
        `${ack.id} at ${ack.path}`,
      ).toBe(true);
    }
  });

  it("acknowledges only findings the pack really reports, each by its exact id", () => {
    const ids = acknowledgements.map((ack) => ack.id.replace(/^[^:]*::/, ""));
    expect(new Set(ids)).toEqual(new Set(rawFindings));
  });

  it("acknowledges wildcards only for key prefixes of the archive and query-results buckets", () => {
    const wildcards = acknowledgements.map((ack) => ack.id).filter((id) => id.includes("AwsSolutions-IAM5"));
    expect(wildcards.length).toBeGreaterThan(0);
    for (const id of wildcards)
      expect(id).toMatch(
        /IAM5\[Resource::<Pipeline(ArchiveBucket|QueryResultsBucket)\w+\.Arn>\/(state\/)?[a-z]+\/\*\]$/,
      );
  });

  it("does fail synth for an insecure resource (the check is really running)", () => {
    const app = newApp();
    const stack = new Stack(app, "InsecureStack");
    new s3.CfnBucket(stack, "PlainBucket");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1|AwsSolutions-S10|Validation failed/);
  });
});
