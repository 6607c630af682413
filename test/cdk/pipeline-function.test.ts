// PipelineFunction's bindX() helpers: a resource's variable and its grant come in one call, and a
// function whose handler schema names a variable nobody set fails synth instead of its cold start.
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PipelineFunction } from "../../lib/pipeline-function.ts";

const schema = z.object({ CORTEX_API_URL: z.url(), INCIDENT_QUEUE_URL: z.url() });

function stackWithFunction() {
  // No bundling: these tests read the template, not the code.
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "BindingStack");
  const fn = new PipelineFunction(stack, "Fn", {
    entry: "functions/poller/handler.ts",
    description: "binding test",
    serviceName: "binding-test",
    environmentSchema: schema,
    environment: { CORTEX_API_URL: "https://api-acme.xdr.eu.paloaltonetworks.com" },
    timeout: Duration.seconds(30),
    logRetention: logs.RetentionDays.ONE_WEEK,
  });
  return { app, stack, fn, queue: new sqs.Queue(stack, "Queue") };
}

describe("PipelineFunction", () => {
  it("fails synth naming a variable of the handler's schema that nothing set", () => {
    const { app } = stackWithFunction();
    expect(() => app.synth()).toThrow(/environment variable INCIDENT_QUEUE_URL is not set/);
  });

  it("sets a queue's URL and grants sending to it in one bindQueueSender call", () => {
    const { stack, fn, queue } = stackWithFunction();
    fn.bindQueueSender("INCIDENT_QUEUE_URL", queue);
    const template = Template.fromStack(stack);
    const variables = Object.values(template.findResources("AWS::Lambda::Function"))[0]?.Properties
      .Environment.Variables;
    expect(variables.INCIDENT_QUEUE_URL).toEqual({
      Ref: stack.getLogicalId(queue.node.defaultChild as never),
    });
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: "sqs:SendMessage",
            Effect: "Allow",
            Resource: { "Fn::GetAtt": [stack.getLogicalId(queue.node.defaultChild as never), "Arn"] },
          },
        ]),
      },
    });
  });

  it("refuses to bind one variable to two different resources", () => {
    const { stack, fn, queue } = stackWithFunction();
    fn.bindQueueSender("INCIDENT_QUEUE_URL", queue);
    expect(() => fn.bindQueueSender("INCIDENT_QUEUE_URL", new sqs.Queue(stack, "Other"))).toThrow(
      /INCIDENT_QUEUE_URL is already bound/,
    );
  });
});
