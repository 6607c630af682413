// The CDK app: `cdk synth|deploy` runs this. Configuration file: `-c config=<path>`, else the
// CORTEX_EXPORT_CONFIG environment variable, else the shipped example config/example.json.
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { loadPipelineConfigFile, PipelineConfigError } from "../lib/config.ts";
import { IncidentExportStack } from "../lib/incident-export-stack.ts";

const app = new App();
const configPath =
  (app.node.tryGetContext("config") as string | undefined) ??
  process.env.CORTEX_EXPORT_CONFIG ??
  "config/example.json";

try {
  const config = loadPipelineConfigFile(configPath);
  // Env-agnostic on purpose: no lookups, so synth works offline; deploy takes account and region from the CLI profile.
  new IncidentExportStack(app, config.stackName, {
    config,
    description: "cortex-incident-export: archives Cortex XDR/Xpanse incidents to S3 and alerts on SNS",
  });
} catch (error) {
  if (error instanceof PipelineConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

// Security review on every synth: cdk-nag's AwsSolutions pack through CDK's Validations API.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
