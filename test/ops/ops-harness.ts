// Everything an ops test needs over real protocols: the Cortex tenant emulator (HTTP on 127.0.0.1), the
// embedded AWS endpoint (fauxqs) holding the local runner's resources, the real poller and enricher
// handlers to fill the archive, and `npm run ops` itself run in-process with AWS_ENDPOINT_URL set.
import { Writable } from "node:stream";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { PollRunSummary } from "../../functions/poller/create-handler.ts";
import { CortexClient } from "../../functions/shared/cortex/client.ts";
import {
  type EmbeddedAwsEndpoint,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { runOpsCli } from "../../local/ops/cli.ts";
import { type LocalResources, provisionLocalResources } from "../../local/runner/aws-resources.ts";
import type { SqsBatchHandler } from "../../local/runner/event-source.ts";
import { buildLocalLambdas } from "../../local/runner/lambdas.ts";
import { parseRunnerOptions } from "../../local/runner/options.ts";
import { lambdaContext } from "../support/lambda-context.ts";

/** Extra-data calls per minute for emulator, enricher and replay alike: time compressed 600x. */
export const TEST_BUDGET_PER_MINUTE = 6000;

export interface OpsRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface OpsHarness {
  aws: EmbeddedAwsEndpoint;
  emulator: CortexEmulator;
  clients: ReturnType<typeof localAwsClients>;
  resources: LocalResources;
  env: Record<string, string>;
  cortex: CortexClient;
  /** Runs `npm run ops -- <argv>` in this process against the harness. */
  ops(
    argv: string[],
    options?: { stopSignal?: AbortSignal; onStdout?: (text: string) => void },
  ): Promise<OpsRun>;
  /** One run of the real poller handler (live cursor at state/cursor.json), look-back 7 h unless given. */
  poll(): Promise<PollRunSummary>;
  /** Feeds every queued message to the real enricher handler until the queue is empty; returns the messages handled. */
  enrichQueue(): Promise<number>;
  close(): Promise<void>;
}

/** A harness whose first poll has run and whose queue the enricher has archived: a pipeline in steady state. */
export async function startArchivedOpsHarness(incidents: number): Promise<OpsHarness> {
  const harness = await startOpsHarness({ incidents });
  await harness.poll();
  await harness.enrichQueue();
  return harness;
}

export async function startOpsHarness(
  options: { incidents?: number; seed?: number; lookbackMs?: number; live?: { intervalMs: number } } = {},
): Promise<OpsHarness> {
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  const aws = await startEmbeddedAwsEndpoint();
  const emulator = await startCortexEmulator({
    seed: options.seed ?? 7,
    incidents: options.incidents ?? 30,
    rateLimits: {
      extraData: { requests: TEST_BUDGET_PER_MINUTE, windowMs: 60_000 },
      tenant: { requests: 1_000, windowMs: 1_000 },
    },
    ...(options.live === undefined ? {} : { live: options.live }),
  });
  const clients = localAwsClients(aws.url);
  const resources = await provisionLocalResources({
    ...clients,
    visibilityTimeoutSeconds: 30,
    maxReceiveCount: 3,
  });
  const key = emulator.keys.standard;
  const cortex = new CortexClient({
    baseUrl: emulator.url,
    product: "xdr",
    credentials: { apiKey: key.key, apiKeyId: key.id, authType: "standard" },
  });
  const env = {
    AWS_ENDPOINT_URL: aws.url,
    CORTEX_API_URL: emulator.url,
    CORTEX_API_KEY: key.key,
    CORTEX_API_KEY_ID: key.id,
    CORTEX_AUTH_TYPE: "standard",
  };
  // The Lambdas as `npm start` builds them, from the runner's own flags (single calls: the ops commands'
  // expectations do not depend on the batch endpoint).
  const runnerFlags = ["--mode", "single", "--log-level", "SILENT"];
  runnerFlags.push("--budget-per-minute", String(TEST_BUDGET_PER_MINUTE));
  runnerFlags.push("--lookback-minutes", String((options.lookbackMs ?? 7 * 3_600_000) / 60_000));
  const lambdas = buildLocalLambdas({
    options: parseRunnerOptions(runnerFlags, env),
    clients,
    resources,
    cortex,
    cortexUrl: emulator.url,
  });
  const enricher = lambdas.enricherHandlers[0] as SqsBatchHandler;
  return {
    aws,
    emulator,
    clients,
    resources,
    env,
    cortex,
    async ops(argv, runOptions = {}) {
      let stdout = "";
      let stderr = "";
      const sink = (append: (text: string) => void) =>
        new Writable({
          write(chunk, _encoding, done) {
            append(String(chunk));
            done();
          },
        });
      const code = await runOpsCli([...argv, "--budget-per-minute", String(TEST_BUDGET_PER_MINUTE)], env, {
        stdout: sink((text) => {
          stdout += text;
          runOptions.onStdout?.(text);
        }),
        stderr: sink((text) => {
          stderr += text;
        }),
        stopSignal: runOptions.stopSignal ?? new AbortController().signal,
      });
      return { code, stdout, stderr };
    },
    poll: () => lambdas.poll(lambdaContext(Date.now, 300_000)) as Promise<PollRunSummary>,
    async enrichQueue() {
      let handled = 0;
      for (;;) {
        const reply = await clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: resources.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
        );
        const messages = reply.Messages ?? [];
        if (messages.length === 0) return handled;
        const records = messages.map(
          (m) =>
            ({
              messageId: m.MessageId ?? "",
              receiptHandle: m.ReceiptHandle ?? "",
              body: m.Body ?? "",
              attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1" },
            }) as unknown as SQSRecord,
        );
        // The runner types handlers loosely (it reads only batchItemFailures); the enricher answers a partial batch response.
        const response = (await enricher(
          { Records: records } as SQSEvent,
          lambdaContext(Date.now, 120_000),
        )) as SQSBatchResponse;
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
        if (failed.size > 0)
          throw new Error(`the enricher failed ${failed.size} message(s) in a harness batch`);
        await clients.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: resources.queueUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
          }),
        );
        handled += done.length;
      }
    },
    async close() {
      await cortex.close();
      clients.s3.destroy();
      clients.sqs.destroy();
      clients.sns.destroy();
      await emulator.close();
      await aws.close();
    },
  };
}
