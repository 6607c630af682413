// `npm start`: starts (or connects to) the Cortex tenant and the AWS endpoint, creates the resources,
// runs the pipeline until Ctrl-C (or until drained with --once), then prints the summary.
import path from "node:path";
import type { Writable } from "node:stream";
import type { CortexCredentials } from "../../functions/shared/cortex/api.ts";
import { CortexClient } from "../../functions/shared/cortex/client.ts";
import { LOCAL_REGION, localAwsClients, startEmbeddedAwsEndpoint } from "../aws-endpoint.ts";
import { ConditionalWrites } from "../conditional-writes.ts";
import { type CortexEmulator, startCortexEmulator } from "../emulator/index.ts";
import { ApiActivity } from "./api-activity.ts";
import { ArchiveWrites } from "./archive-mirror.ts";
import { provisionLocalResources } from "./aws-resources.ts";
import { buildLocalLambdas } from "./lambdas.ts";
import {
  helpText,
  LATE_LISTING_DELAY_MS,
  parseRunnerOptions,
  type RunnerOptions,
  RunnerOptionsError,
} from "./options.ts";
import { runPipeline } from "./pipeline.ts";
import { LogLinesView, type StatusView, TerminalStatusView } from "./status.ts";
import { EXIT_FAILED, formatSummary, writeSummaryJson } from "./summary.ts";

/** Bad flags or environment. */
export const EXIT_USAGE = 64;

export interface CliIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
  /** Aborted on the first SIGINT/SIGTERM. */
  stopSignal: AbortSignal;
}

export async function runLocalCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
): Promise<number> {
  // Help even when the environment is half set: that is when it is needed.
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(helpText());
    return 0;
  }
  let options: RunnerOptions;
  try {
    options = parseRunnerOptions(argv, env);
  } catch (error) {
    if (error instanceof RunnerOptionsError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }

  const closers: (() => Promise<void>)[] = [];
  try {
    return await run(options, io, closers);
  } catch (error) {
    const hint = options.awsEndpointUrl
      ? ` Is AWS_ENDPOINT_URL (${options.awsEndpointUrl}) up and reachable?`
      : "";
    io.stderr.write(`Could not run the local pipeline: ${(error as Error).message}.${hint}\n`);
    return EXIT_FAILED;
  } finally {
    for (const close of closers.reverse()) {
      await close().catch((error: unknown) =>
        io.stderr.write(`warning: while shutting down: ${(error as Error).message ?? String(error)}\n`),
      );
    }
  }
}

async function run(options: RunnerOptions, io: CliIo, closers: (() => Promise<void>)[]): Promise<number> {
  const { stdout } = io;
  let awsUrl = options.awsEndpointUrl;
  let awsLabel = `AWS_ENDPOINT_URL ${awsUrl}`;
  if (awsUrl === undefined) {
    const endpoint = await startEmbeddedAwsEndpoint();
    closers.push(() => endpoint.close());
    awsUrl = endpoint.url;
    awsLabel = `embedded ${awsUrl}`;
  }
  const clients = localAwsClients(awsUrl);
  if (options.awsEndpointUrl === undefined) {
    // The embedded endpoint ignores If-Match / If-None-Match; the enrichers' notification claims need them.
    const probe = localAwsClients(awsUrl).s3;
    new ConditionalWrites(probe).enforceOn(clients.s3);
    closers.push(async () => probe.destroy());
  }
  closers.push(async () => {
    clients.s3.destroy();
    clients.sqs.destroy();
    clients.sns.destroy();
  });

  let cortexUrl: string;
  let credentials: CortexCredentials;
  let cortexLabel: string;
  let credentialHint: string;
  if (options.cortex.kind === "tenant") {
    cortexUrl = options.cortex.url;
    credentials = {
      apiKey: options.cortex.apiKey,
      apiKeyId: options.cortex.apiKeyId,
      authType: options.cortex.authType,
    };
    cortexLabel = `tenant ${cortexUrl} (${options.product})`;
    credentialHint =
      "Check CORTEX_API_KEY, CORTEX_API_KEY_ID and CORTEX_AUTH_TYPE (an advanced key also needs this machine's clock " +
      "to be right), and that the key's role may read incidents.";
  } else {
    const emulator = await startEmulator(options);
    closers.push(() => emulator.close());
    cortexUrl = emulator.url;
    credentials = {
      apiKey: emulator.keys.standard.key,
      apiKeyId: emulator.keys.standard.id,
      authType: "standard",
    };
    cortexLabel = `emulator ${cortexUrl} (${options.product})`;
    credentialHint = "The emulator rejected its own key: this is a bug in the runner.";
  }

  const api = new ApiActivity();
  const cortex = new CortexClient({
    baseUrl: cortexUrl,
    product: options.product,
    credentials,
    observer: api.observe,
  });
  closers.push(() => cortex.close());

  const resources = await provisionLocalResources({
    ...clients,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount,
  });
  // With AWS_ENDPOINT_URL another runner may share the bucket: count only what this runner's enricher writes.
  const archiveWrites = new ArchiveWrites();
  archiveWrites.watch(clients.s3);
  const lambdas = buildLocalLambdas({ options, clients, resources, cortex, cortexUrl });

  stdout.write(startBanner(options, cortexLabel, awsLabel));
  const view: StatusView = stdout.isTTY
    ? new TerminalStatusView(stdout, { alsoIntercept: io.stderr === stdout ? [] : [io.stderr] })
    : new LogLinesView(stdout);

  const summary = await runPipeline({
    settings: {
      once: options.once,
      pollIntervalSeconds: options.pollIntervalSeconds,
      // The poller's Lambda timeout in the stack is minutes; locally one page walk rarely needs more.
      pollerTimeoutSeconds: 300,
      functionTimeoutSeconds: options.functionTimeoutSeconds,
      batchSize: options.batchSize,
      batchingWindowSeconds: options.batchingWindowSeconds,
      budgetPerMinute: options.budgetPerMinute,
      batchBudgetPerMinute: options.mode === "single" ? undefined : options.batchBudgetPerMinute,
      outDir: options.outDir,
    },
    s3: clients.s3,
    sqs: clients.sqs,
    region: LOCAL_REGION,
    resources,
    poll: lambdas.poll,
    enricherHandlers: lambdas.enricherHandlers,
    enricherMetrics: lambdas.enricherMetrics,
    enricherInstanceMetrics: lambdas.enricherInstanceMetrics,
    archiveWrites,
    ...(lambdas.changeEventsWritten === undefined
      ? {}
      : { changeEventsWritten: lambdas.changeEventsWritten }),
    api,
    view,
    labels: { cortex: cortexLabel, aws: awsLabel },
    stopSignal: io.stopSignal,
    credentialHint,
  });

  stdout.write(`\n${formatSummary(summary)}`);
  if (summary.left_in_queue > 0 && options.awsEndpointUrl === undefined) {
    stdout.write(
      `  ${summary.left_in_queue} queued incident version(s) were not enriched yet; the embedded endpoint keeps ` +
        "nothing, so the next run polls them again (its cursor starts over too).\n",
    );
  }
  if (options.summaryJsonPath) {
    await writeSummaryJson(options.summaryJsonPath, summary);
    stdout.write(`  summary JSON: ${path.resolve(options.summaryJsonPath)}\n`);
  }
  return summary.exit_code;
}

async function startEmulator(options: RunnerOptions): Promise<CortexEmulator> {
  if (options.cortex.kind !== "emulator") throw new TypeError("startEmulator needs the emulator target");
  const emulator = await startCortexEmulator({
    seed: options.cortex.seed,
    incidents: options.cortex.incidents,
    product: options.product,
    // The emulator enforces the same extra-data budget the enricher paces to, so a larger
    // --budget-per-minute compresses time for both sides.
    rateLimits: {
      extraData: { requests: Math.max(1, Math.floor(options.budgetPerMinute)), windowMs: 60_000 },
      batchExtraData: { requests: Math.max(1, Math.floor(options.batchBudgetPerMinute)), windowMs: 60_000 },
    },
    // --once drains a fixed backlog; only a continuous run gets live arrivals.
    ...(options.once || options.liveIntervalSeconds === 0
      ? {}
      : { live: { intervalMs: options.liveIntervalSeconds * 1000, newPerTick: 1, modifiedPerTick: 1 } }),
  });
  if (options.lateListingShare > 0) {
    emulator.control.setFaults({
      lateListing: { rate: options.lateListingShare, delayMs: LATE_LISTING_DELAY_MS },
    });
  }
  return emulator;
}

function startBanner(options: RunnerOptions, cortexLabel: string, awsLabel: string): string {
  const mode = options.once
    ? "--once: poll until caught up, drain the queue, then exit"
    : "continuous: Ctrl-C to stop";
  const target =
    options.cortex.kind === "emulator"
      ? `${cortexLabel}, ${options.cortex.incidents} incidents in the backlog (seed ${options.cortex.seed})` +
        (options.once || options.liveIntervalSeconds === 0
          ? ""
          : `, live: 1 new and 1 modified every ${options.liveIntervalSeconds} s`) +
        (options.lateListingShare > 0
          ? `, ${Math.round(options.lateListingShare * 100)}% of changes listed late`
          : "")
      : cortexLabel;
  return (
    `cortex-incident-export local runner (${mode})\n` +
    `  Cortex: ${target}\n` +
    `  AWS:    ${awsLabel}\n` +
    `  enricher: mode ${options.mode}, batch ${options.batchSize} (window ${options.batchingWindowSeconds} s), max concurrency ${options.maxConcurrency}, timeout ${options.functionTimeoutSeconds} s, ` +
    `visibility ${options.visibilityTimeoutSeconds} s, DLQ after ${options.maxReceiveCount} receives, ` +
    `budget ${options.budgetPerMinute} extra-data calls/min\n\n`
  );
}
