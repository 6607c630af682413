// Every function default in one place (runtime, architecture, ESM bundle, log group, role), so no
// function of the pipeline can be half-configured.
import { fileURLToPath } from "node:url";
import { type Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../functions/shared/metric-names.ts";

/** The repository root: entry points and the lock file are resolved from it, whatever the working directory. */
export const PROJECT_ROOT = fileURLToPath(new URL("../", import.meta.url));

/** ESM bundles have no `require`; a few CommonJS dependencies still call it. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __cieCreateRequire } from 'node:module'; const require = __cieCreateRequire(import.meta.url);";

export interface PipelineFunctionProps {
  /** Entry file relative to the repository root, e.g. functions/poller/handler.ts */
  readonly entry: string;
  readonly description: string;
  /** Powertools service name: the `service` dimension of the function's metrics. */
  readonly serviceName: string;
  readonly environment: Record<string, string>;
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly logRetention: logs.RetentionDays;
  readonly reservedConcurrentExecutions?: number;
}

export class PipelineFunction extends NodejsFunction {
  readonly functionLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      // Logs are operational, not the archive: they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Own role with write access to its own log group only, instead of the broad AWSLambdaBasicExecutionRole.
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.description} (execution role)`,
    });
    const functionProps: NodejsFunctionProps = {
      entry: `${PROJECT_ROOT}${props.entry}`,
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      role,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: "--enable-source-maps",
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        mainFields: ["module", "main"],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the exact version the tests ran against, not whatever the runtime ships.
        externalModules: [],
        forceDockerBundling: false,
      },
    };
    super(scope, id, functionProps);
    this.functionLogGroup = logGroup;
    logGroup.grantWrite(role);
  }
}
