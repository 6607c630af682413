// The whole pipeline in one process, composed the way `npm start` composes it: the Cortex tenant emulator,
// the embedded AWS endpoint (fauxqs), the real poller and enricher handlers, and the local runner's
// schedule and SQS event source (local/runner/pipeline.ts). Used by the fault-injection suite and by
// the benchmarks; every AWS client counts its calls, and what crossed each boundary is recorded so a
// test can compare the archive with the tenant's own history.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SendMessageBatchCommandInput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { createEnricherHandler } from "../functions/enricher/create-handler.ts";
import { createPollerHandler, type PollRunSummary } from "../functions/poller/create-handler.ts";
import { ChangeEventPublisher, type ChangeEventTarget } from "../functions/shared/change-event-publisher.ts";
import type {
  BatchExtraDataSource,
  CortexCredentials,
  ExtraDataResult,
  ExtraDataSource,
} from "../functions/shared/cortex/api.ts";
import { type CortexAttemptEvent, CortexClient } from "../functions/shared/cortex/client.ts";
import type { NotifySeverity } from "../functions/shared/cortex/vocabulary.ts";
import type { EnricherMode } from "../functions/shared/lambda-environment.ts";
import { METRICS_NAMESPACE } from "../functions/shared/metric-names.ts";
import {
  type EmbeddedAwsEndpoint,
  LOCAL_REGION,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "./aws-endpoint.ts";
import { type CortexEmulator, type RateLimit, startCortexEmulator } from "./emulator/index.ts";
import { ApiActivity } from "./runner/api-activity.ts";
import { type LocalResources, provisionLocalResources, queueDepth } from "./runner/aws-resources.ts";
import type { LocalLambdaContext, SqsBatchHandler } from "./runner/event-source.ts";
import { type PipelineDeps, type PollRunReport, runPipeline } from "./runner/pipeline.ts";
import type { StatusSnapshot, StatusView } from "./runner/status.ts";
import type { RunSummary } from "./runner/summary.ts";

export interface PipelineHarnessOptions {
  seed?: number;
  /** The tenant's backlog when the pipeline starts. */
  incidents: number;
  /** The emulator's get_incident_extra_data limit; the enricher's budget is set to exactly this rate. */
  extraDataLimit: RateLimit;
  /** Tenant-wide limit (default: high enough never to matter). */
  tenantLimit?: RateLimit;
  maxConcurrency?: number;
  batchSize?: number;
  functionTimeoutMs: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount?: number;
  /** Kept free before the enricher's timeout (the Lambda default of 35 s is for real timeouts). */
  enricherDeadlineMarginMs: number;
  /** Visibility of a throttled message, whatever its receive count (the real default starts at a minute). */
  throttleBackoffSeconds?: number;
  /** The enricher pacer's least guard per slot (ms): a budget compressed a hundredfold keeps a margin for this host's jitter. */
  pacingMinGuardMs?: number;
  /** Poller time budget per run. */
  pollerTimeoutMs?: number;
  /** The poller's late-arrival window (default: the poller's own, 5 minutes). */
  pollerLateWindowMs?: number;
  pollerDeadlineMarginMs?: number;
  client?: {
    requestTimeoutMs?: number;
    maxAttempts?: number;
    retryBaseDelayMs?: number;
    retryMaxDelayMs?: number;
  };
  notifyMinSeverity?: NotifySeverity;
  alertsLimit?: number;
  /** Poller and enricher use the priority queue (default off: the fault suite's timings were tuned without it). */
  priorityLane?: boolean;
  /** The enricher's mode (default single: the suites written before batch enrichment). */
  mode?: EnricherMode;
  /** The emulator's get_multiple_incidents_extra_data limit; the enricher's batch budget follows it (default: extraDataLimit). */
  batchExtraDataLimit?: RateLimit;
  /** The event source's batching window (needed above 10 messages an invocation). */
  batchingWindowMs?: number;
  /** The emulator's per-incident alert cap in a batch reply (default 50). */
  batchAlertsPerIncident?: number;
  /** Where the enrichers send change events (default: none). */
  changeEvents?: ChangeEventTarget;
}

/** SDK calls by command name ("SendMessageBatchCommand"), and ReceiveMessage calls that returned messages. */
export class CommandCounter {
  readonly calls = new Map<string, number>();
  receivesWithMessages = 0;

  count(name: string): number {
    return this.calls.get(name) ?? 0;
  }

  total(): number {
    return [...this.calls.values()].reduce((sum, n) => sum + n, 0);
  }

  /** Counts every call `client` makes, failed ones included (AWS bills them too). */
  attach(client: S3Client | SQSClient | SNSClient, label: string): void {
    // The three clients' stacks differ only in their command types, which counting never looks at.
    const stack = client.middlewareStack as SQSClient["middlewareStack"];
    stack.add(
      (next, context) => async (args) => {
        const name = context.commandName ?? "unknown";
        this.calls.set(name, this.count(name) + 1);
        const output = await next(args);
        const messages = (output.output as { Messages?: unknown[] }).Messages;
        if (name === "ReceiveMessageCommand" && (messages?.length ?? 0) > 0) this.receivesWithMessages += 1;
        return output;
      },
      { step: "initialize", name: `count-${label}`, override: true },
    );
  }
}

export type ClientRole = "runner" | "poller" | "enricher" | "test";

function counters() {
  return { s3: new CommandCounter(), sqs: new CommandCounter(), sns: new CommandCounter() };
}

/** One incident version as the poller queued it. */
export interface EnqueuedVersion {
  incident_id: string;
  modification_time: number;
  severity: string;
}

/** One reply get_incident_extra_data delivered to the enricher (the version the tenant served). */
export interface ServedVersion {
  incidentId: string;
  modificationTime: number | undefined;
  severity: unknown;
  at: number;
}

export interface ArchivedObject {
  key: string;
  /** From the key: incidents/<YYYY>/<MM>/<DD>/<incident_id>/<modification_time>.json.gz */
  incidentId: string;
  keyModificationTime: number;
  /** reply.incident.modification_time inside the object: the version it actually holds. */
  contentModificationTime: number | undefined;
  severity: string | undefined;
  /** The enricher's own verdict, from the object's `schema-valid` metadata. */
  schemaValid: boolean;
  bytes: number;
}

export interface ReceivedNotification {
  incidentId: string;
  severity: string;
  subject: string | undefined;
}

export interface PollRecord {
  startedAt: number;
  endedAt: number;
  summary?: PollRunSummary;
  error?: unknown;
}

/** A StatusView that keeps the event lines (for a failing test's message) and prints nothing. */
export class QuietView implements StatusView {
  readonly events: string[] = [];
  last: StatusSnapshot | undefined;
  start(): void {}
  event(lines: string | string[]): void {
    this.events.push(...(typeof lines === "string" ? [lines] : lines));
  }
  update(status: StatusSnapshot): void {
    this.last = status;
  }
  close(): void {}
}

/** Powertools with logging silenced and EMF output switched off: the harness counts for itself. */
export function quietPowertools(serviceName: string): { logger: Logger; metrics: Metrics } {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  try {
    return {
      logger: new Logger({ serviceName, logLevel: "SILENT" }),
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
    };
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
}

let harnessCount = 0;

/** The poller's first-run look-back: a day, as in the stack's default. */
export const FIRST_RUN_LOOKBACK_MS = 24 * 3600 * 1000;

export class PipelineHarness {
  readonly options: PipelineHarnessOptions;
  readonly emulator: CortexEmulator;
  readonly aws: EmbeddedAwsEndpoint;
  readonly resources: LocalResources;
  /** The local subscriber standing in for people and programs: every notification the topic fans out. */
  readonly auditQueueUrl: string;
  readonly outDir: string;
  /** The runner's own clients (event source, queue depth, notification inbox). */
  readonly runnerClients: ReturnType<typeof localAwsClients>;
  /** AWS calls by who made them: the runner (event source, inbox, mirror), the poller, the enricher. */
  readonly calls: Record<ClientRole, { s3: CommandCounter; sqs: CommandCounter; sns: CommandCounter }> = {
    runner: counters(),
    poller: counters(),
    enricher: counters(),
    test: counters(),
  };
  readonly api: ApiActivity;
  readonly attempts: CortexAttemptEvent[] = [];
  readonly enqueued: EnqueuedVersion[] = [];
  readonly served: ServedVersion[] = [];
  /** When the enricher called get_incident_extra_data (after its pacer let it), per incident. */
  readonly extraDataCalls: { incidentId: string; at: number }[] = [];
  readonly batchExtraDataCalls: { incidentIds: string[]; at: number }[] = [];
  readonly polls: PollRecord[] = [];
  readonly view = new QuietView();
  readonly credentials: CortexCredentials;
  readonly #clients: CortexClient[] = [];

  private constructor(init: {
    options: PipelineHarnessOptions;
    emulator: CortexEmulator;
    aws: EmbeddedAwsEndpoint;
    resources: LocalResources;
    auditQueueUrl: string;
    outDir: string;
    runnerClients: ReturnType<typeof localAwsClients>;
  }) {
    this.options = init.options;
    this.emulator = init.emulator;
    this.aws = init.aws;
    this.resources = init.resources;
    this.auditQueueUrl = init.auditQueueUrl;
    this.outDir = init.outDir;
    this.runnerClients = init.runnerClients;
    this.api = new ApiActivity();
    const key = init.emulator.keys.advanced;
    this.credentials = { apiKey: key.key, apiKeyId: key.id, authType: key.type };
    this.#count(init.runnerClients, "runner");
  }

  static async start(options: PipelineHarnessOptions): Promise<PipelineHarness> {
    const emulator = await startCortexEmulator({
      seed: options.seed ?? 7,
      incidents: options.incidents,
      rateLimits: {
        extraData: options.extraDataLimit,
        batchExtraData: options.batchExtraDataLimit ?? options.extraDataLimit,
        tenant: options.tenantLimit ?? { requests: 1000, windowMs: 1000 },
      },
      ...(options.batchAlertsPerIncident === undefined
        ? {}
        : { batchAlertsPerIncident: options.batchAlertsPerIncident }),
    });
    let aws: EmbeddedAwsEndpoint | undefined;
    try {
      aws = await startEmbeddedAwsEndpoint();
      const runnerClients = localAwsClients(aws.url);
      harnessCount += 1;
      const suffix = `${process.pid}-${harnessCount}`;
      const resources = await provisionLocalResources({
        ...runnerClients,
        names: {
          bucket: `e2e-archive-${suffix}`,
          queue: `e2e-incidents-${suffix}`,
          deadLetterQueue: `e2e-incidents-dlq-${suffix}`,
          topic: `e2e-alerts-${suffix}`,
          notificationInbox: `e2e-alerts-inbox-${suffix}`,
        },
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
        maxReceiveCount: options.maxReceiveCount ?? 5,
      });
      // A second subscriber the runner does not read: the test's own record of every notification.
      const audit = await runnerClients.sqs.send(
        new CreateQueueCommand({ QueueName: `e2e-audit-${suffix}` }),
      );
      const auditQueueUrl = audit.QueueUrl ?? "";
      const auditArn = await runnerClients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: auditQueueUrl, AttributeNames: ["QueueArn"] }),
      );
      await runnerClients.sns.send(
        new SubscribeCommand({
          TopicArn: resources.topicArn,
          Protocol: "sqs",
          Endpoint: auditArn.Attributes?.QueueArn,
        }),
      );
      const outDir = await mkdtemp(path.join(tmpdir(), "e2e-archive-"));
      return new PipelineHarness({ options, emulator, aws, resources, auditQueueUrl, outDir, runnerClients });
    } catch (error) {
      await aws?.close();
      await emulator.close();
      throw error;
    }
  }

  /** The extra-data budget per minute the emulator enforces, which the enricher is configured with. */
  get budgetPerMinute(): number {
    const { requests, windowMs } = this.options.extraDataLimit;
    return (requests * 60_000) / windowMs;
  }

  /** The same for the batch endpoint. */
  get batchBudgetPerMinute(): number {
    const { requests, windowMs } = this.options.batchExtraDataLimit ?? this.options.extraDataLimit;
    return (requests * 60_000) / windowMs;
  }

  get maxConcurrency(): number {
    return this.options.maxConcurrency ?? 2;
  }

  /** Fresh SDK clients (one "container"), their calls counted with everybody else's. */
  awsClients(role: ClientRole): ReturnType<typeof localAwsClients> {
    const clients = localAwsClients(this.aws.url);
    this.#count(clients, role);
    return clients;
  }

  #count(clients: ReturnType<typeof localAwsClients>, role: ClientRole): void {
    this.calls[role].s3.attach(clients.s3, "s3");
    this.calls[role].sqs.attach(clients.sqs, "sqs");
    this.calls[role].sns.attach(clients.sns, "sns");
  }

  cortexClient(): CortexClient {
    const options = this.options.client ?? {};
    const client = new CortexClient({
      baseUrl: this.emulator.url,
      product: "xdr",
      credentials: this.credentials,
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      maxAttempts: options.maxAttempts ?? 5,
      retryBaseDelayMs: options.retryBaseDelayMs ?? 20,
      retryMaxDelayMs: options.retryMaxDelayMs ?? 200,
      observer: (event) => {
        this.attempts.push(event);
        this.api.observe(event);
      },
    });
    this.#clients.push(client);
    return client;
  }

  /** The real poller handler; `clients` lets a test wrap its S3 or SQS client with a fault. */
  createPoller(clients: { s3: S3Client; sqs: SQSClient } = this.awsClients("poller")): PipelineDeps["poll"] {
    const { logger, metrics } = quietPowertools("poller");
    // Record what the poller queued, from the calls it made.
    clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const output = await next(args);
        if (context.commandName === "SendMessageBatchCommand") {
          const input = args.input as SendMessageBatchCommandInput;
          for (const entry of input.Entries ?? []) {
            this.enqueued.push(JSON.parse(entry.MessageBody ?? "{}") as EnqueuedVersion);
          }
        }
        return output;
      },
      { step: "initialize", name: "record-enqueued", override: true },
    );
    const handler = createPollerHandler({
      s3: clients.s3,
      sqs: clients.sqs,
      bucket: this.resources.bucket,
      queueUrl: this.resources.queueUrl,
      incidents: this.cortexClient(),
      filters: [],
      firstRunLookbackMs: FIRST_RUN_LOOKBACK_MS,
      logger,
      metrics,
      ...(this.options.priorityLane === true
        ? {
            priority: {
              queueUrl: this.resources.priorityQueueUrl,
              minSeverity: this.options.notifyMinSeverity ?? "high",
            },
          }
        : {}),
      deadlineMarginMs: this.options.pollerDeadlineMarginMs ?? 500,
      ...(this.options.pollerLateWindowMs === undefined
        ? {}
        : { lateWindowMs: this.options.pollerLateWindowMs }),
    });
    return async (context: LocalLambdaContext): Promise<PollRunReport> => {
      const record: PollRecord = { startedAt: Date.now(), endedAt: 0 };
      this.polls.push(record);
      try {
        record.summary = await handler({}, context);
        return record.summary;
      } catch (error) {
        record.error = error;
        throw error;
      } finally {
        record.endedAt = Date.now();
      }
    };
  }

  /** One enricher "container": the real handler with its own pacer and Cortex client. */
  createEnricher(clients: ReturnType<typeof localAwsClients> = this.awsClients("enricher")): SqsBatchHandler {
    const { logger, metrics } = quietPowertools("enricher");
    const client = this.cortexClient();
    const extraData: ExtraDataSource = {
      getIncidentExtraData: async (incidentId, options) => {
        this.extraDataCalls.push({ incidentId, at: Date.now() });
        const result: ExtraDataResult = await client.getIncidentExtraData(incidentId, options);
        const incident = result.reply.incident as Record<string, unknown> | undefined;
        const time = incident?.modification_time;
        this.served.push({
          incidentId,
          modificationTime: typeof time === "number" ? time : undefined,
          severity: incident?.severity,
          at: Date.now(),
        });
        return result;
      },
    };
    const backoff = this.options.throttleBackoffSeconds ?? 1;
    const batchExtraData: BatchExtraDataSource = {
      getMultipleIncidentsExtraData: async (incidentIds, options) => {
        this.batchExtraDataCalls.push({ incidentIds: [...incidentIds], at: Date.now() });
        return client.getMultipleIncidentsExtraData(incidentIds, options);
      },
    };
    return createEnricherHandler({
      s3: clients.s3,
      sqs: clients.sqs,
      sns: clients.sns,
      bucket: this.resources.bucket,
      queueUrl: this.resources.queueUrl,
      topicArn: this.resources.topicArn,
      extraData,
      batchExtraData,
      mode: this.options.mode ?? "single",
      batchBudgetPerMinute: this.batchBudgetPerMinute,
      // As the Lambda's handler does: a "not found" answer is checked against get_incidents before it is recorded.
      incidentLookup: client,
      alertsLimit: this.options.alertsLimit ?? 1000,
      budgetPerMinute: this.budgetPerMinute,
      maxConcurrency: this.maxConcurrency,
      notifyMinSeverity: this.options.notifyMinSeverity ?? "high",
      logger,
      metrics,
      throttleBackoff: () => backoff,
      deadlineMarginMs: this.options.enricherDeadlineMarginMs,
      ...(this.options.pacingMinGuardMs !== undefined && { pacingMinGuardMs: this.options.pacingMinGuardMs }),
      priorityQueueUrl: this.options.priorityLane === true ? this.resources.priorityQueueUrl : undefined,
      changeEvents:
        this.options.changeEvents === undefined
          ? undefined
          : new ChangeEventPublisher({ target: this.options.changeEvents, logger, metrics }),
    });
  }

  /**
   * Runs the pipeline as `npm start -- --once` does: polls until a run reports it is caught up, drains the
   * queue (retries and redrive included) and stops.
   */
  async runOnce(parts: {
    poll: PipelineDeps["poll"];
    enricherHandlers: readonly SqsBatchHandler[];
    pollAttempts?: number;
  }): Promise<RunSummary> {
    const stop = new AbortController();
    return runPipeline({
      settings: {
        once: true,
        pollIntervalSeconds: 1,
        pollerTimeoutSeconds: (this.options.pollerTimeoutMs ?? 20_000) / 1000,
        functionTimeoutSeconds: this.options.functionTimeoutMs / 1000,
        batchSize: this.options.batchSize ?? 5,
        batchingWindowSeconds: (this.options.batchingWindowMs ?? 0) / 1000,
        budgetPerMinute: this.budgetPerMinute,
        batchBudgetPerMinute:
          (this.options.mode ?? "single") === "single" ? undefined : this.batchBudgetPerMinute,
        outDir: this.outDir,
      },
      ...this.runnerClients,
      region: LOCAL_REGION,
      resources: this.resources,
      poll: parts.poll,
      enricherHandlers: parts.enricherHandlers,
      api: this.api,
      view: this.view,
      labels: { cortex: this.emulator.url, aws: this.aws.url },
      stopSignal: stop.signal,
      credentialHint: "The harness uses the emulator's generated advanced key.",
      waitTimeSeconds: 1,
      sampleEveryMs: 200,
      pollAttemptsOnce: parts.pollAttempts ?? 5,
    });
  }

  /** Every archived incident object, read back and parsed. */
  async archive(): Promise<ArchivedObject[]> {
    const { s3 } = this.runnerClients;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: this.resources.bucket,
          Prefix: "incidents/",
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return Promise.all(
      keys.map(async (key) => {
        const object = await s3.send(new GetObjectCommand({ Bucket: this.resources.bucket, Key: key }));
        const body = Buffer.from(
          await (object.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())),
        );
        // fauxqs may hand the stored bytes back as stored (gzip) or decoded: accept both.
        const text =
          body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body).toString("utf8") : body.toString("utf8");
        const reply = JSON.parse(text) as { incident?: Record<string, unknown> };
        const parts = key.split("/");
        const time = reply.incident?.modification_time;
        const severity = reply.incident?.severity;
        return {
          key,
          incidentId: decodeURIComponent(parts[4] ?? ""),
          keyModificationTime: Number((parts[5] ?? "").replace(/\.json\.gz$/, "")),
          contentModificationTime: typeof time === "number" ? time : undefined,
          severity: typeof severity === "string" ? severity : undefined,
          schemaValid: object.Metadata?.["schema-valid"] === "true",
          bytes: body.length,
        };
      }),
    );
  }

  /** Everything the test's own subscriber received from the topic. */
  async notifications(): Promise<ReceivedNotification[]> {
    const { sqs } = this.runnerClients;
    const received: ReceivedNotification[] = [];
    for (;;) {
      const reply = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.auditQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = reply.Messages ?? [];
      if (messages.length === 0) return received;
      for (const message of messages) {
        const envelope = JSON.parse(message.Body ?? "{}") as {
          Subject?: string;
          MessageAttributes?: Record<string, { Value?: string }>;
        };
        const attributes = envelope.MessageAttributes ?? {};
        received.push({
          incidentId: attributes.incident_id?.Value ?? "",
          severity: attributes.severity?.Value ?? "",
          subject: envelope.Subject,
        });
      }
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.auditQueueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  }

  async deadLetterCount(): Promise<number> {
    const depth = await queueDepth(this.runnerClients.sqs, this.resources.deadLetterQueueUrl);
    return depth.visible + depth.inFlight + depth.delayed;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#clients.map((client) => client.close()));
    await this.aws.close();
    await this.emulator.close();
    await rm(this.outDir, { recursive: true, force: true });
  }
}
