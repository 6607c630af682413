// The Cortex API key: an existing secret, or an empty one the operator fills after deploy.
import { RemovalPolicy, Validations } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { PipelineConfig } from "../config.ts";

/** Built in the pipeline's own scope: a created secret keeps its logical ID, and so the key put in it. */
export function cortexApiSecret(scope: Construct, config: PipelineConfig): secretsmanager.ISecret {
  if (config.secretArn) {
    return /-[A-Za-z0-9]{6}$/.test(config.secretArn)
      ? secretsmanager.Secret.fromSecretCompleteArn(scope, "CortexApiSecret", config.secretArn)
      : secretsmanager.Secret.fromSecretPartialArn(scope, "CortexApiSecret", config.secretArn);
  }
  const created = new secretsmanager.Secret(scope, "CortexApiSecret", {
    description:
      'Cortex API key for cortex-incident-export: put {"apiKey","apiKeyId","authType"} here after deploy (see README).',
    // A random placeholder, never a real value in the template; it fails auth until replaced.
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ apiKeyId: "", authType: "standard" }),
      generateStringKey: "apiKey",
    },
    removalPolicy: RemovalPolicy.DESTROY,
  });
  Validations.of(created).acknowledge({
    id: "AwsSolutions-SMG4",
    reason:
      "Cortex API keys are issued in the Cortex console and cannot be rotated by a Lambda; rotate them there and update the secret.",
  });
  return created;
}
