// The runner's orchestration (schedule, drain, redrive, stop, exit codes) on the real embedded AWS endpoint.
// The poller and enricher here are small stand-ins that speak the same queue, bucket and topic contracts,
// so each behaviour of the runner can be provoked on purpose; the end-to-end test runs the real ones.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PublishCommand } from "@aws-sdk/client-sns";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CortexAttemptEvent } from "../../functions/shared/cortex/client.ts";
import { CortexApiError } from "../../functions/shared/cortex/errors.ts";
import { EnricherMetric, METRICS_NAMESPACE } from "../../functions/shared/metric-names.ts";
import {
  type EmbeddedAwsEndpoint,
  LOCAL_REGION,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";
import { emulatorClient } from "../../local/emulator/client.ts";
import { startCortexEmulator } from "../../local/emulator/index.ts";
import { ApiActivity } from "../../local/runner/api-activity.ts";
import { ArchiveWrites } from "../../local/runner/archive-mirror.ts";
import { type LocalResources, provisionLocalResources } from "../../local/runner/aws-resources.ts";
import type { SqsBatchHandler } from "../../local/runner/event-source.ts";
import { MetricTally } from "../../local/runner/metric-tally.ts";
import { type PipelineDeps, type PollRunReport, runPipeline } from "../../local/runner/pipeline.ts";
import type { StatusSnapshot, StatusView } from "../../local/runner/status.ts";

let endpoint: EmbeddedAwsEndpoint;
let clients: ReturnType<typeof localAwsClients>;
let workDir: string;
let suffix = 0;

beforeAll(async () => {
  endpoint = await startEmbeddedAwsEndpoint();
  clients = localAwsClients(endpoint.url);
  workDir = await mkdtemp(path.join(tmpdir(), "pipeline-"));
});
afterAll(async () => {
  await endpoint.close();
  await rm(workDir, { recursive: true, force: true });
});

class RecordingView implements StatusView {
  events: string[] = [];
  last: StatusSnapshot | undefined;
  snapshots: StatusSnapshot[] = [];
  closed = false;
  start() {}
  event(lines: string | string[]) {
    this.events.push(...(typeof lines === "string" ? [lines] : lines));
  }
  update(status: StatusSnapshot) {
    this.last = status;
    this.snapshots.push(status);
  }
  close() {
    this.closed = true;
  }
}

interface Incident {
  incident_id: string;
  severity: string;
}

async function freshResources(options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}) {
  suffix += 1;
  return provisionLocalResources({
    ...clients,
    names: {
      bucket: `pipeline-${suffix}`,
      queue: `q-${suffix}`,
      deadLetterQueue: `dlq-${suffix}`,
      topic: `t-${suffix}`,
      notificationInbox: `inbox-${suffix}`,
    },
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 1,
    maxReceiveCount: options.maxReceiveCount ?? 5,
  });
}

/** Queues the given incidents on its first run, as the poller would; later runs find nothing new. */
function standInPoller(resources: LocalResources, incidents: Incident[]) {
  let runs = 0;
  return async (): Promise<PollRunReport> => {
    runs += 1;
    const batch = runs === 1 ? incidents : [];
    if (batch.length > 0) {
      await clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: resources.queueUrl,
          Entries: batch.map((incident, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify({
              ...incident,
              modification_time: 1000,
              creation_time: 1000,
              status: "new",
            }),
          })),
        }),
      );
    }
    return { incidentsSeen: batch.length, messagesSent: batch.length, stoppedEarly: false };
  };
}

/** Archives each message and notifies on high ones, as the enricher would; "poison" always fails. */
function standInEnricher(
  resources: LocalResources,
  api: ApiActivity,
  delayMs = 0,
  s3: S3Client = clients.s3,
): SqsBatchHandler {
  return async (event: SQSEvent) => {
    const batchItemFailures = [];
    for (const record of event.Records) {
      const message = JSON.parse(record.body) as Incident;
      api.observe({
        path: "/public_api/v1/incidents/get_incident_extra_data/",
        attempt: 1,
        status: 200,
        durationMs: 1,
      });
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (message.incident_id === "poison") {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      await s3.send(
        new PutObjectCommand({
          Bucket: resources.bucket,
          Key: `incidents/2026/11/21/${message.incident_id}/1000.json.gz`,
          Body: gzipSync(JSON.stringify({ incident: message })),
          ContentEncoding: "gzip",
        }),
      );
      if (message.severity === "high") {
        await clients.sns.send(
          new PublishCommand({
            TopicArn: resources.topicArn,
            MessageStructure: "json",
            Subject: `Incident ${message.incident_id}`,
            Message: JSON.stringify({ default: "{}", email: "body", sms: `sms ${message.incident_id}` }),
          }),
        );
      }
    }
    return { batchItemFailures };
  };
}

function deps(
  resources: LocalResources,
  parts: { poll: PipelineDeps["poll"]; handler: SqsBatchHandler; api: ApiActivity },
  overrides: Partial<PipelineDeps> & { once?: boolean } = {},
): PipelineDeps & { view: RecordingView } {
  suffix += 1;
  const { once = true, ...rest } = overrides;
  return {
    settings: {
      once,
      pollIntervalSeconds: 0.2,
      pollerTimeoutSeconds: 60,
      functionTimeoutSeconds: 10,
      batchSize: 2,
      budgetPerMinute: 600,
      outDir: path.join(workDir, `out-${suffix}`),
    },
    s3: clients.s3,
    sqs: clients.sqs,
    region: LOCAL_REGION,
    resources,
    poll: parts.poll,
    enricherHandlers: [parts.handler, parts.handler],
    api: parts.api,
    view: new RecordingView(),
    labels: { cortex: "stand-in", aws: endpoint.url },
    stopSignal: new AbortController().signal,
    credentialHint: "Check CORTEX_API_KEY.",
    waitTimeSeconds: 1,
    sampleEveryMs: 100,
    ...rest,
  } as PipelineDeps & { view: RecordingView };
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

describe("runPipeline", () => {
  it("--once: polls, drains the queue, mirrors the archive, shows the notifications and exits 0", async () => {
    const resources = await freshResources();
    const api = new ApiActivity();
    const incidents = [
      { incident_id: "1", severity: "low" },
      { incident_id: "2", severity: "high" },
      { incident_id: "3", severity: "medium" },
    ];
    const run = deps(resources, {
      poll: standInPoller(resources, incidents),
      handler: standInEnricher(resources, api),
      api,
    });
    const summary = await runPipeline(run);

    expect(summary).toMatchObject({
      polled: 3,
      enqueued: 3,
      enriched: 3,
      archived: 3,
      notified: 1,
      dead_lettered: 0,
      failed_attempts: 0,
      api_calls: 3,
      throttled: 0,
      poll_runs: 1,
      left_in_queue: 0,
      problem: null,
      exit_code: 0,
    });
    expect(await listFiles(run.settings.outDir)).toEqual([
      "incidents/2026/11/21/1/1000.json.gz",
      "incidents/2026/11/21/2/1000.json.gz",
      "incidents/2026/11/21/3/1000.json.gz",
    ]);
    expect(run.view.events).toContain("EMAIL  Subject: Incident 2");
    expect(run.view.events).toContain("SMS    sms 2");
    expect(run.view.events).toContain("archived incidents/2026/11/21/2/1000.json.gz");
    expect(run.view.last).toMatchObject({ queued: 0, archived: 3, notified: 1, phase: "stopping" });
    expect(run.view.closed).toBe(true);
  });

  it("--once: waits out the retries until the redrive policy moves a failing message to the DLQ, then exits 1", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 1, maxReceiveCount: 2 });
    const api = new ApiActivity();
    const run = deps(resources, {
      poll: standInPoller(resources, [
        { incident_id: "poison", severity: "low" },
        { incident_id: "ok", severity: "low" },
      ]),
      handler: standInEnricher(resources, api),
      api,
    });
    const summary = await runPipeline(run);

    expect(summary).toMatchObject({
      archived: 1,
      dead_lettered: 1,
      failed_attempts: 2,
      left_in_queue: 0,
      exit_code: 1,
    });
    expect(summary.problem).toContain("1 message(s) ended in the dead-letter queue");
  });

  it("stops at once and exits 2 with the client's words and the hint when the poller's key is rejected", async () => {
    const resources = await freshResources();
    const api = new ApiActivity();
    let polls = 0;
    const run = deps(resources, {
      poll: async () => {
        polls += 1;
        throw new CortexApiError("bad_key", "Cortex API rejected the API key or key id (HTTP 401)", {
          status: 401,
        });
      },
      handler: standInEnricher(resources, api),
      api,
    });
    const summary = await runPipeline(run);

    expect(polls).toBe(1);
    expect(summary.exit_code).toBe(2);
    expect(summary.problem).toBe(
      "Cortex API rejected the API key or key id (HTTP 401). Check CORTEX_API_KEY.",
    );
    expect(run.view.events).toContain(`error: ${summary.problem}`);
  });

  it("--once: gives up after repeated poll failures and exits 1 with the last error in the problem", async () => {
    const resources = await freshResources();
    const api = new ApiActivity();
    let polls = 0;
    const run = deps(
      resources,
      {
        poll: async () => {
          polls += 1;
          throw new CortexApiError("network", `Could not reach the Cortex API (attempt ${polls})`);
        },
        handler: standInEnricher(resources, api),
        api,
      },
      { pollAttemptsOnce: 2 },
    );
    const summary = await runPipeline(run);

    expect(polls).toBe(2);
    expect(summary).toMatchObject({ exit_code: 1, poll_runs: 2 });
    expect(summary.problem).toBe(
      "The poller failed 2 times in a row; the last error: Could not reach the Cortex API (attempt 2)",
    );
  });

  it("stops and exits 2 when the enricher's calls are refused, seen through the client's observer", async () => {
    const resources = await freshResources();
    const api = new ApiActivity();
    const refusing: SqsBatchHandler = async (event) => {
      api.observe({
        path: "/public_api/v1/incidents/get_incident_extra_data/",
        attempt: 1,
        status: 403,
        errorKind: "permission",
        durationMs: 1,
      });
      return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
    };
    const run = deps(resources, {
      poll: standInPoller(resources, [{ incident_id: "1", severity: "low" }]),
      handler: refusing,
      api,
    });
    const summary = await runPipeline(run);

    expect(summary.exit_code).toBe(2);
    expect(summary.problem).toBe(
      "The Cortex API says the key's role lacks permission for /public_api/v1/incidents/get_incident_extra_data/ (HTTP 403). Check CORTEX_API_KEY.",
    );
  });

  it("on Ctrl-C stops polling, lets the in-flight invocation finish and archive, and reports what is left", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 30 });
    const api = new ApiActivity();
    const stop = new AbortController();
    let polls = 0;
    const poller = standInPoller(
      resources,
      Array.from({ length: 6 }, (_, index) => ({ incident_id: String(index), severity: "low" })),
    );
    const enricher = standInEnricher(resources, api, 300);
    let invocations = 0;
    const run = deps(
      resources,
      {
        poll: async () => {
          polls += 1;
          return poller();
        },
        handler: async (event, context) => {
          invocations += 1;
          // Ctrl-C arrives while the first invocation is mid-batch.
          if (invocations === 1) setTimeout(() => stop.abort(), 100);
          return enricher(event, context);
        },
        api,
      },
      { once: false, stopSignal: stop.signal },
    );
    const summary = await runPipeline(run);

    const pollsAtStop = polls;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(polls).toBe(pollsAtStop);
    // Every record handed to an invocation was finished and deleted; the rest wait on the queue.
    expect(summary.archived).toBe(summary.enriched);
    expect(summary.enriched).toBeGreaterThanOrEqual(2);
    expect(summary.enriched + summary.left_in_queue).toBe(6);
    expect(summary.exit_code).toBe(0);
    expect(run.view.events.some((line) => line.startsWith("stopping: no more polls"))).toBe(true);
  });

  it("--once stopped by Ctrl-C with versions still queued does not exit 0, and says how many it left", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 30 });
    const api = new ApiActivity();
    const stop = new AbortController();
    const enricher = standInEnricher(resources, api, 300);
    let invocations = 0;
    const run = deps(
      resources,
      {
        poll: standInPoller(
          resources,
          Array.from({ length: 6 }, (_, index) => ({ incident_id: String(index), severity: "low" })),
        ),
        handler: async (event, context) => {
          invocations += 1;
          if (invocations === 1) setTimeout(() => stop.abort(), 100);
          return enricher(event, context);
        },
        api,
      },
      { once: true, stopSignal: stop.signal },
    );
    const summary = await runPipeline(run);

    expect(summary.left_in_queue).toBeGreaterThan(0);
    expect(summary.exit_code).toBe(3);
    expect(summary.problem).toContain(
      `--once stopped with ${summary.left_in_queue} incident version(s) still queued`,
    );
  });

  it("--once counts the versions the enricher recorded as not found, from its own metric, and exits 3", async () => {
    const resources = await freshResources();
    const api = new ApiActivity();
    const tally = new MetricTally();
    const metrics = tally.watch(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "enricher-test" }));
    const archiving = standInEnricher(resources, api);
    const run = deps(
      resources,
      {
        poll: standInPoller(resources, [
          { incident_id: "1", severity: "low" },
          { incident_id: "gone", severity: "high" },
        ]),
        // As the enricher does for a not-found answer get_incidents confirms: count it, acknowledge it.
        handler: async (event, context) => {
          const gone = event.Records.filter((r) => (JSON.parse(r.body) as Incident).incident_id === "gone");
          metrics.addMetric(EnricherMetric.IncidentNotFound, MetricUnit.Count, gone.length);
          metrics.clearMetrics();
          return archiving({ Records: event.Records.filter((r) => !gone.includes(r)) }, context);
        },
        api,
      },
      { enricherMetrics: tally },
    );
    const summary = await runPipeline(run);

    expect(summary).toMatchObject({ archived: 1, not_found: 1, left_in_queue: 0, exit_code: 3 });
    expect(summary.problem).toContain("1 queued version(s) were not archived");
  });

  it("says a batch that failed as a whole returns its records, rather than counting them all as done or failed", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 1 });
    const api = new ApiActivity();
    const archiving = standInEnricher(resources, api);
    let invocations = 0;
    const run = deps(resources, {
      poll: standInPoller(resources, [
        { incident_id: "1", severity: "low" },
        { incident_id: "2", severity: "low" },
      ]),
      handler: async (event, context) => {
        invocations += 1;
        if (invocations === 1) throw new Error("container died");
        return archiving(event, context);
      },
      api,
    });
    const summary = await runPipeline(run);

    expect(summary).toMatchObject({ archived: 2, left_in_queue: 0, exit_code: 0 });
    const line = run.view.events.find((event) => event.includes("failed as a whole"));
    expect(line).toMatch(/container died.*its [12] record\(s\) return to the queue/);
    expect(run.view.events.some((event) => /0 done, 2 failed/.test(event))).toBe(false);
  });

  it("counts an invocation that timed out as one failed invocation, its never-started records apart from failed ones", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 1 });
    const api = new ApiActivity();
    const archiving = standInEnricher(resources, api);
    let invocations = 0;
    let firstBatch = 0;
    const run = deps(resources, {
      poll: standInPoller(
        resources,
        Array.from({ length: 5 }, (_, index) => ({ incident_id: `t${index}`, severity: "low" })),
      ),
      handler: async (event, context) => {
        invocations += 1;
        if (invocations > 1) return archiving(event, context);
        // The first record's call hangs past the function timeout: the others are never started.
        firstBatch = event.Records.length;
        await new Promise((resolve) => setTimeout(resolve, 900));
        return { batchItemFailures: [] };
      },
      api,
    });
    run.settings = { ...run.settings, functionTimeoutSeconds: 0.5, batchSize: 5, batchingWindowSeconds: 0.3 };
    run.enricherHandlers = [run.enricherHandlers[0] as SqsBatchHandler];
    const summary = await runPipeline(run);

    expect(firstBatch).toBeGreaterThan(1);
    expect(summary).toMatchObject({
      archived: 5,
      failed_attempts: 0,
      failed_invocations: 1,
      returned_unfinished: firstBatch,
      exit_code: 0,
    });
    expect(run.view.events.some((line) => /\d+ failed/.test(line))).toBe(false);
    expect(run.view.snapshots.every((snapshot) => snapshot.failed === 0)).toBe(true);
    expect(run.view.last?.failedInvocations).toBe(1);
  });

  it("with a shared AWS endpoint, each runner reports as archived only the objects it archived itself", async () => {
    const resources = await freshResources();
    const runner = (incidents: Incident[]) => {
      const api = new ApiActivity();
      const writes = new ArchiveWrites();
      const s3 = writes.watch(localAwsClients(endpoint.url).s3);
      const run = deps(
        resources,
        { poll: standInPoller(resources, incidents), handler: standInEnricher(resources, api, 100, s3), api },
        { archiveWrites: writes },
      );
      run.enricherHandlers = [run.enricherHandlers[0] as SqsBatchHandler];
      run.settings = { ...run.settings, batchSize: 1 };
      return { run, writes };
    };
    const incidents = Array.from({ length: 6 }, (_, index) => ({
      incident_id: `s${index}`,
      severity: "low",
    }));
    const first = runner(incidents);
    const second = runner([]);
    const [a, b] = await Promise.all([runPipeline(first.run), runPipeline(second.run)]);

    // Both runners saw all six objects appear in the bucket; each counts the ones its enricher wrote.
    expect(a.archived + b.archived).toBe(6);
    expect(a.archived).toBe(first.writes.size);
    expect(b.archived).toBe(second.writes.size);
    const announced = (view: RecordingView) =>
      view.events
        .filter((line) => line.startsWith("archived "))
        .map((line) => line.slice("archived ".length));
    expect(announced(first.run.view).every((key) => first.writes.has(key))).toBe(true);
    expect(announced(second.run.view).every((key) => second.writes.has(key))).toBe(true);
    expect(announced(first.run.view)).toHaveLength(a.archived);
  });

  it("shows the versions a running batch has archived as enriched, before the invocation returns", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 30 });
    const api = new ApiActivity();
    const archiving = standInEnricher(resources, api);
    let seen: StatusSnapshot | undefined;
    let view: RecordingView | undefined;
    const run = deps(resources, {
      poll: standInPoller(
        resources,
        Array.from({ length: 3 }, (_, index) => ({ incident_id: `r${index}`, severity: "low" })),
      ),
      handler: async (event, context) => {
        const response = await archiving(event, context);
        // Still running: wait until the status view has seen what this batch archived.
        const until = Date.now() + 3_000;
        while (Date.now() < until && (view?.last?.archived ?? 0) < event.Records.length)
          await new Promise((resolve) => setTimeout(resolve, 20));
        seen = view?.last;
        return response;
      },
      api,
    });
    view = run.view;
    run.settings = { ...run.settings, batchSize: 3, batchingWindowSeconds: 0.3 };
    run.enricherHandlers = [run.enricherHandlers[0] as SqsBatchHandler];
    const summary = await runPipeline(run);

    expect(summary.enriched).toBe(3);
    expect(seen).toMatchObject({ activeInvocations: 1 });
    expect(seen?.archived).toBeGreaterThan(0);
    expect(seen?.enriched).toBe(seen?.archived);
  });

  it("says a request that timed out after one attempt was tried once, never that it was retried", async () => {
    const emulator = await startCortexEmulator({ seed: 15, incidents: 1 });
    // A hang (40 s on the tenant that showed it), time-compressed; the call's deadline allows one attempt.
    emulator.control.setFaults({ latencyMs: 1_000 });
    const attempts: CortexAttemptEvent[] = [];
    const cortex = emulatorClient(emulator, {
      maxAttempts: 5,
      retryBaseDelayMs: 200,
      retryMaxDelayMs: 200,
      observer: (attempt) => attempts.push(attempt),
    });
    const resources = await freshResources();
    const api = new ApiActivity();
    try {
      const run = deps(
        resources,
        {
          poll: async () => {
            await cortex.getIncidents({}, { deadline: Date.now() + 150 });
            return { incidentsSeen: 0, messagesSent: 0, stoppedEarly: false };
          },
          handler: standInEnricher(resources, api),
          api,
        },
        { pollAttemptsOnce: 1 },
      );
      const summary = await runPipeline(run);

      // The emulator logs a request only once it answers, after the hang: the client's own record is the one to read.
      expect(attempts.map((attempt) => attempt.errorKind)).toEqual(["timeout"]);
      expect(summary.exit_code).toBe(1);
      expect(summary.problem).toMatch(/^The poller failed once; the last error: Cortex API did not answer/);
      expect(summary.problem).not.toMatch(/retried|retries|attempts/);
      const line = run.view.events.find((event) => event.startsWith("poll failed:"));
      expect(line).not.toMatch(/retried|retries|attempts/);
    } finally {
      await cortex.close();
      await emulator.close();
    }
  });

  it("does not count a message handed back as a new one (requeued before the deadline) as enriched", async () => {
    const resources = await freshResources();
    const api = new ApiActivity();
    const tally = new MetricTally();
    const metrics = tally.watch(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "enricher-test" }));
    const archiving = standInEnricher(resources, api);
    let requeuedOnce = false;
    const run = deps(
      resources,
      {
        poll: standInPoller(resources, [
          { incident_id: "1", severity: "low" },
          { incident_id: "late", severity: "low" },
        ]),
        // As batch mode does near its deadline: the unstarted message goes back as a new one, the original is acknowledged.
        handler: async (event, context) => {
          const late = requeuedOnce ? [] : event.Records.filter((r) => r.body.includes('"late"'));
          if (late.length > 0) {
            requeuedOnce = true;
            await clients.sqs.send(
              new SendMessageBatchCommand({
                QueueUrl: resources.queueUrl,
                Entries: late.map((record, index) => ({ Id: String(index), MessageBody: record.body })),
              }),
            );
            metrics.addMetric(EnricherMetric.Requeued, MetricUnit.Count, late.length);
            metrics.clearMetrics();
          }
          return archiving({ Records: event.Records.filter((r) => !late.includes(r)) }, context);
        },
        api,
      },
      { enricherMetrics: tally },
    );
    const summary = await runPipeline(run);

    expect(requeuedOnce).toBe(true);
    expect(summary).toMatchObject({ enqueued: 2, enriched: 2, requeued: 1, archived: 2, exit_code: 0 });
    expect(run.view.snapshots.every((snapshot) => snapshot.enriched <= 2)).toBe(true);
  });

  it("reports the records an invocation returned untried as not started, apart from the one that failed", async () => {
    const resources = await freshResources({ visibilityTimeoutSeconds: 1 });
    const api = new ApiActivity();
    const tally = new MetricTally();
    const metrics = tally.watch(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "enricher-test" }));
    const archiving = standInEnricher(resources, api);
    let invocations = 0;
    let firstBatch = 0;
    const run = deps(
      resources,
      {
        poll: standInPoller(
          resources,
          Array.from({ length: 5 }, (_, index) => ({ incident_id: `n${index}`, severity: "low" })),
        ),
        // As the enricher does when the first record's call times out at the deadline: that record failed, the
        // rest were never started; all come back, and NotStarted says how many of them were untried.
        handler: async (event, context) => {
          invocations += 1;
          if (invocations > 1) return archiving(event, context);
          firstBatch = event.Records.length;
          metrics.addMetric(EnricherMetric.NotStarted, MetricUnit.Count, firstBatch - 1);
          metrics.clearMetrics();
          return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
        },
        api,
      },
      { enricherMetrics: tally, enricherInstanceMetrics: [tally] },
    );
    run.settings = { ...run.settings, batchSize: 5, batchingWindowSeconds: 0.3 };
    run.enricherHandlers = [run.enricherHandlers[0] as SqsBatchHandler];
    const summary = await runPipeline(run);

    expect(firstBatch).toBeGreaterThan(1);
    expect(summary).toMatchObject({
      archived: 5,
      failed_attempts: 1,
      not_started: firstBatch - 1,
      exit_code: 0,
    });
    expect(run.view.events).toContainEqual(
      expect.stringMatching(
        new RegExp(`^enricher #1: 0 done, 1 failed, ${firstBatch - 1} not started \\(untried`),
      ),
    );
    expect(run.view.events.some((line) => new RegExp(`${firstBatch} failed`).test(line))).toBe(false);
  });
});
