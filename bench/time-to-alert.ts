// Benchmark 6: time to alert, from a critical incident's first appearance in get_incidents (the moment the
// emulator starts listing it) to the enricher's SNS publish for it, idle and behind 500 queued versions.
// The whole pipeline runs as deployed, time-compressed: the schedule fires the real poll loop (polls at 0,
// 20 and 40 s of each minute), the local SQS event source drives two real enricher instances (batch and
// single mode, the priority lane on), and every duration (budget, poll interval, schedule, timeouts) is divided by the same
// factor; each measured time is multiplied back by it.
import { setTimeout } from "node:timers/promises";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SNSClient } from "@aws-sdk/client-sns";
import { createPollerHandler } from "../functions/poller/create-handler.ts";
import { createPollLoop } from "../functions/poller/poll-loop.ts";
import { enricherSizing } from "../lib/config.ts";
import { PipelineHarness, quietPowertools } from "../local/pipeline-harness.ts";
import { SqsEventSource } from "../local/runner/event-source.ts";
import { percentile } from "../local/runner/summary.ts";
import { BenchmarkError, type BenchTable, renderConsoleTable } from "./report.ts";

/** Every duration divided by this; measured times multiplied back by it. */
const COMPRESSION = 20;
const CRITICAL_INCIDENTS = 20;
const BACKLOG = 500;
/** The stack's defaults, at real time. */
const REAL = {
  budgetPerMinute: 10,
  maxConcurrency: 2,
  pollIntervalMs: 20_000,
  scheduleMs: 60_000,
  enricherDeadlineMarginMs: 35_000,
};
/** The enricher's timeout as the stack sizes it with its defaults (2 instances, 10 calls a minute each endpoint). */
const stackTimeoutMs = (mode: "batch" | "single", batchSize: number) =>
  enricherSizing({ mode, batchSize, maxConcurrency: 2, budgetPerMinute: 10, batchBudgetPerMinute: 10 })
    .timeoutSeconds * 1000;
/** What differs by mode: 100 messages or 10 s (one batch slot and ten single slots of 12 s, plus 60 s: 192 s); 5 messages (five slots, plus 60 s: 120 s). */
const MODE = {
  batch: { batchSize: 100, batchingWindowMs: 10_000, enricherTimeoutMs: stackTimeoutMs("batch", 100) },
  single: { batchSize: 5, batchingWindowMs: 0, enricherTimeoutMs: stackTimeoutMs("single", 5) },
} as const;
const GOAL = {
  idle: { aim: 30, must: 70 },
  backlog: { aim: 45, must: 90 },
};

interface Scenario {
  name: "idle" | "backlog";
  mode: keyof typeof MODE;
  backlog: number;
  /** Real-time spacing of the critical incidents; not a multiple of the poll interval, so phases vary. */
  spacingMs: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: "idle", mode: "batch", backlog: 0, spacingMs: 47_000 },
  { name: "backlog", mode: "batch", backlog: BACKLOG, spacingMs: 23_000 },
  { name: "idle", mode: "single", backlog: 0, spacingMs: 47_000 },
  { name: "backlog", mode: "single", backlog: BACKLOG, spacingMs: 23_000 },
];

const compressed = (realMs: number) => realMs / COMPRESSION;
const sleep = (ms: number): Promise<void> => setTimeout(ms);

/** Records when each incident's notification was published, from the enricher's SNS client. */
function recordPublishes(sns: SNSClient, into: Map<string, number>) {
  sns.middlewareStack.add(
    (next, context) => async (args) => {
      const output = await next(args);
      if (context.commandName === "PublishCommand") {
        const id = (args.input as { MessageAttributes?: Record<string, { StringValue?: string }> })
          .MessageAttributes?.incident_id?.StringValue;
        if (id !== undefined && !into.has(id)) into.set(id, Date.now());
      }
      return output;
    },
    { step: "initialize", name: "record-publish", override: true },
  );
}

/** EventBridge at the schedule's rate: one invocation at a time (reserved concurrency 1), a busy tick skipped. */
function startSchedule(
  invoke: () => Promise<unknown>,
  periodMs: number,
  logger: Logger,
): () => Promise<void> {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  const tick = () => {
    if (stopped || busy) return;
    busy = true;
    running = invoke()
      .catch((error: unknown) => logger.error("poll invocation failed", { error }))
      .finally(() => {
        busy = false;
      });
  };
  tick();
  const timer = setInterval(tick, periodMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}

interface ScenarioResult {
  scenario: Scenario;
  timesMs: number[];
  throttled: number;
  backlogLeft: number;
}

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const mode = MODE[scenario.mode];
  const limit = { requests: REAL.budgetPerMinute, windowMs: compressed(60_000) };
  const harness = await PipelineHarness.start({
    seed: 13,
    incidents: 0,
    extraDataLimit: limit,
    batchExtraDataLimit: limit,
    mode: scenario.mode,
    maxConcurrency: REAL.maxConcurrency,
    batchSize: mode.batchSize,
    batchingWindowMs: compressed(mode.batchingWindowMs),
    functionTimeoutMs: compressed(mode.enricherTimeoutMs),
    visibilityTimeoutSeconds: Math.ceil(compressed(6 * mode.enricherTimeoutMs) / 1000),
    enricherDeadlineMarginMs: compressed(REAL.enricherDeadlineMarginMs),
    priorityLane: true,
  });
  const published = new Map<string, number>();
  const appeared = new Map<string, number>();
  const { logger, metrics } = quietPowertools("poller");
  try {
    // The backlog: versions below the threshold, listed (and so queued) before the first critical one.
    const backlogIds = harness.emulator.control
      .addIncidents(
        Array.from({ length: scenario.backlog }, () => ({ severity: "low", manual_severity: null })),
      )
      .map((incident) => String(incident.incident_id));
    const pollerClients = harness.awsClients("poller");
    const pollLoop = createPollLoop(
      createPollerHandler({
        s3: pollerClients.s3,
        sqs: pollerClients.sqs,
        bucket: harness.resources.bucket,
        queueUrl: harness.resources.queueUrl,
        incidents: harness.cortexClient(),
        filters: [],
        firstRunLookbackMs: 3_600_000,
        logger,
        metrics,
        deadlineMarginMs: 500,
        priority: { queueUrl: harness.resources.priorityQueueUrl, minSeverity: "high" },
      }),
      { intervalMs: compressed(REAL.pollIntervalMs), windowMs: compressed(REAL.scheduleMs), logger },
    );
    const handlers = Array.from({ length: REAL.maxConcurrency }, () => {
      const clients = harness.awsClients("enricher");
      recordPublishes(clients.sns, published);
      return harness.createEnricher(clients);
    });
    const source = new SqsEventSource({
      sqs: harness.runnerClients.sqs,
      queueUrl: harness.resources.queueUrl,
      queueArn: harness.resources.queueArn,
      region: "us-east-1",
      functionName: "enricher",
      handlers,
      batchSize: mode.batchSize,
      batchingWindowMs: compressed(mode.batchingWindowMs),
      functionTimeoutMs: compressed(mode.enricherTimeoutMs),
      waitTimeSeconds: 1,
    });
    // The poller's Lambda time is not compressed: it only bounds a long walk, which none of these is.
    const stopSchedule = startSchedule(
      () => pollLoop({}, { getRemainingTimeInMillis: () => 300_000 }),
      compressed(REAL.scheduleMs),
      logger,
    );
    source.start();
    if (scenario.backlog > 0) {
      // Let the first poll queue the backlog and the enrichers start on it.
      await sleep(compressed(REAL.scheduleMs));
    }
    for (let i = 0; i < CRITICAL_INCIDENTS; i++) {
      const [incident] = harness.emulator.control.addIncidents([
        { severity: "critical", manual_severity: null },
      ]);
      if (incident === undefined) throw new BenchmarkError("the emulator added no incident");
      appeared.set(String(incident.incident_id), Date.now());
      await sleep(compressed(scenario.spacingMs));
    }
    const waitUntil = Date.now() + compressed(5 * 60_000);
    while (published.size < CRITICAL_INCIDENTS && Date.now() < waitUntil) await sleep(50);
    await stopSchedule();
    const served = new Set(harness.served.map((version) => version.incidentId));
    const backlogLeft = backlogIds.filter((id) => !served.has(id)).length;
    await source.stop();
    const timesMs = [...appeared].map(([id, at]) => {
      const publishedAt = published.get(id);
      if (publishedAt === undefined)
        throw new BenchmarkError(`critical incident ${id} was not notified in ${scenario.name}`);
      return (publishedAt - at) * COMPRESSION;
    });
    const throttled = harness.attempts.filter((attempt) => attempt.status === 429).length;
    return { scenario, timesMs, throttled, backlogLeft };
  } finally {
    await harness.close();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function benchTimeToAlert(): Promise<BenchTable> {
  const results: ScenarioResult[] = [];
  for (const scenario of SCENARIOS) results.push(await runScenario(scenario));
  return {
    title: "6. Time to alert",
    method:
      `From a critical incident's first appearance in get_incidents (the emulator lists it from the moment it is added) to the enricher's SNS publish for it, for ${CRITICAL_INCIDENTS} critical incidents per row. ` +
      `The pipeline runs with the stack's defaults (budget ${REAL.budgetPerMinute} calls a minute on each extra-data endpoint shared by ${REAL.maxConcurrency} enricher instances; batch mode: 100 messages or a 10 s window per invocation, single mode: 5 messages; ` +
      `schedule rate(1 minute) with polls every ${REAL.pollIntervalMs / 1000} s inside each invocation, the priority lane on), ${COMPRESSION}x time-compressed: ` +
      `every duration is divided by ${COMPRESSION} and every measured time multiplied back by ${COMPRESSION}, so a few ms of real work (HTTP, S3, SQS on this machine) count ${COMPRESSION} times over and the figures err high. ` +
      `Behind a backlog: ${BACKLOG} versions below the threshold are queued first and the critical incidents arrive while they drain.`,
    columns: [
      "scenario",
      "mode",
      "backlog",
      "incidents",
      "p50",
      "p95",
      "max",
      "goal p95 (aim / must)",
      "verdict",
      "429s",
    ],
    rows: results.map(({ scenario, timesMs, throttled, backlogLeft }) => {
      const p95 = percentile(timesMs, 95);
      const goal = GOAL[scenario.name];
      const verdict = p95 <= goal.aim * 1000 ? "aim met" : p95 <= goal.must * 1000 ? "must met" : "not met";
      return [
        scenario.name,
        scenario.mode,
        scenario.backlog === 0
          ? "none"
          : `${scenario.backlog} queued (${backlogLeft} still waiting at the end)`,
        timesMs.length,
        seconds(percentile(timesMs, 50)),
        seconds(p95),
        seconds(Math.max(...timesMs)),
        `${goal.aim} s / ${goal.must} s`,
        verdict,
        throttled,
      ];
    }),
    notes: [
      "What sets the figure: up to one poll interval (20 s) before a poll lists the incident; in batch mode the event source's window (up to 10 s) and the next batch slot, into which the priority lane puts waiting hints first; in single mode the wait for a free API slot (idle: none; behind a backlog: the next slot of either instance, at most one slot interval of 12.24 s); then the call, the archive write and the publish.",
      "Without the priority lane a critical version behind 500 queued ones would wait for them all: 500 / 10 a minute = 50 minutes.",
      "The SNS publish is timed when the Publish call returns; delivery to a phone adds the carrier's time, which no pipeline controls.",
    ],
  };
}

// `node bench/time-to-alert.ts` runs this benchmark alone.
if (import.meta.main) console.log(renderConsoleTable(await benchTimeToAlert()));
