// Synthesizes the stack the way `cdk synth` does (cdk.json feature flags, real esbuild bundling) into a
// temporary directory, so tests can read both the template and the bundled assets.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { PipelineConfigInput } from "../../lib/config.ts";
import { IncidentExportStack } from "../../lib/incident-export-stack.ts";
import { PROJECT_ROOT } from "../../lib/pipeline-function.ts";

export const cdkJsonContext = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> }
).context;

export const exampleConfig = JSON.parse(
  readFileSync(join(PROJECT_ROOT, "config/example.json"), "utf8"),
) as PipelineConfigInput;

export interface SynthesizedStack {
  app: App;
  stack: IncidentExportStack;
  template: Template;
  /** The cloud assembly directory (bundled assets live in `asset.<hash>/`). */
  outdir: string;
}

export function newApp(): App {
  return new App({ context: cdkJsonContext, outdir: mkdtempSync(join(tmpdir(), "cie-cdk-")) });
}

export function buildStack(
  config: PipelineConfigInput,
  app: App = newApp(),
): { app: App; stack: IncidentExportStack } {
  const stack = new IncidentExportStack(app, "TestIncidentExport", { config });
  return { app, stack };
}

export function synthesize(config: PipelineConfigInput = exampleConfig): SynthesizedStack {
  const { app, stack } = buildStack(config);
  const assembly = app.synth();
  const template = Template.fromJSON(
    assembly.getStackByName(stack.stackName).template as Record<string, unknown>,
  );
  return { app, stack, template, outdir: assembly.directory };
}
