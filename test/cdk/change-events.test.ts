// The enricher may put events on the configured bus (the account's default bus unless one is named) and
// on no other, knows the bus by its environment, and an alarm watches the events that could not be sent.
import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, type SynthesizedStack, synthesize } from "./synth.ts";

let withDefaultBus: SynthesizedStack;
let withNamedBus: SynthesizedStack;

function putEventsResources(synth: SynthesizedStack): unknown[] {
  const policies = Object.values(synth.template.findResources("AWS::IAM::Policy"));
  return policies.flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
      .filter((statement) => statement.Action === "events:PutEvents")
      .map((statement) => statement.Resource),
  );
}

beforeAll(() => {
  withDefaultBus = synthesize();
  withNamedBus = synthesize({ ...exampleConfig, changeEvents: { eventBusName: "security-events" } });
}, 180_000);

describe("change events in the stack", () => {
  it("sends to the default bus unless told otherwise, granting PutEvents on that bus alone", () => {
    expect(JSON.stringify(putEventsResources(withDefaultBus))).toMatch(/event-bus\/default"/);
    expect(putEventsResources(withDefaultBus)).toHaveLength(1);
    withDefaultBus.template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: Match.anyValue(),
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: "default" }) },
    });
  });

  it("sends to a named bus when the config names one", () => {
    expect(JSON.stringify(putEventsResources(withNamedBus))).toMatch(/event-bus\/security-events"/);
    withNamedBus.template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: "security-events" }) },
    });
  });

  it("alarms on the first change event that could not be sent", () => {
    withDefaultBus.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ChangeEventsFailed",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: Match.anyValue(),
    });
  });
});
