// The stack outputs `npm run ops` finds a deployed pipeline by (local/ops/target.ts reads them).
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { buildStack, exampleConfig } from "./synth.ts";

describe("outputs for npm run ops", () => {
  it("carry the queue ARN and the pipeline's settings, with the configured filters and no secret", () => {
    const filters = [{ field: "status", operator: "neq" as const, value: "resolved" }];
    const { stack } = buildStack({ ...exampleConfig, incidentFilters: filters, apiBudgetPerMinute: 8 });
    const outputs = Template.fromStack(stack).findOutputs("*");
    expect(outputs.IncidentQueueArn?.Value).toBeDefined();
    const settings = JSON.parse(String(outputs.OpsPipelineSettings?.Value));
    expect(settings).toEqual({
      cortexApiUrl: exampleConfig.cortexApiUrl,
      product: exampleConfig.product ?? "xdr",
      filters,
      alertsLimit: 1000,
      budgetPerMinute: 8,
      maxConcurrency: 2,
      notifyMinSeverity: "high",
    });
  });
});
