// Benchmark 8: what the late-arrival window costs a poll run: get_incidents calls and poller time per run
// with the window on (the default 5 min) and off, at 10 and at 1,000 versions a minute, in steady state.

import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { createPollerHandler } from "../functions/poller/create-handler.ts";
import { DEFAULT_LATE_WINDOW_MS, readBackMs } from "../functions/poller/late-window.ts";
import { METRICS_NAMESPACE, POLLER_SERVICE } from "../functions/shared/metric-names.ts";
import { localAwsClients, startEmbeddedAwsEndpoint } from "../local/aws-endpoint.ts";
import { fakeClock } from "../local/clock.ts";
import { startClockedTenant } from "../local/emulator/client.ts";
import { type BenchTable, median } from "./report.ts";

const POLL_EVERY_MS = 20_000;
const MINUTE = 60_000;
/** Runs measured once the window is full (the first readBack of stream only fills it). */
const MEASURED_RUNS = 5;

interface Case {
  versionsPerMinute: number;
  windowMs: number;
}

interface CaseResult extends Case {
  callsPerRun: number;
  msPerRun: number;
  incidentsReadPerRun: number;
  messagesPerRun: number;
}

/** Metrics that are cleared instead of printed: the figures come from the emulator and the clock. */
function unprintedMetrics(): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: POLLER_SERVICE });
  metrics.publishStoredMetrics = () => {
    metrics.clearMetrics();
    return metrics;
  };
  return metrics;
}

type LocalAws = ReturnType<typeof localAwsClients>;

/** A fresh bucket (the cursor's) and queue for one case on the embedded endpoint. */
async function casePipeline(aws: LocalAws, name: string) {
  await aws.s3.send(new CreateBucketCommand({ Bucket: name }));
  const queue = await aws.sqs.send(new CreateQueueCommand({ QueueName: name }));
  return { s3: aws.s3, sqs: aws.sqs, bucket: name, queueUrl: queue.QueueUrl ?? "" };
}

async function measure(aws: LocalAws, c: Case): Promise<CaseResult> {
  // Enough incidents that each one changes about once in the window read back, as on a large tenant.
  const incidents = Math.max(
    200,
    Math.ceil((c.versionsPerMinute * readBackMs(DEFAULT_LATE_WINDOW_MS)) / MINUTE),
  );
  const tenant = await startClockedTenant({
    clock: fakeClock(Date.UTC(2026, 11, 1, 9, 0, 0)),
    seed: "bench-late-window",
    incidents,
  });
  const { clock, emulator, client } = tenant;
  const now = clock.now;
  const pipeline = await casePipeline(aws, `bench-late-window-${c.versionsPerMinute}-${c.windowMs}`);
  const poll = createPollerHandler({
    ...pipeline,
    incidents: client,
    filters: [],
    firstRunLookbackMs: 24 * 60 * MINUTE,
    logger: new Logger({ serviceName: POLLER_SERVICE, logLevel: "SILENT" }),
    metrics: unprintedMetrics(),
    now,
    lateWindowMs: c.windowMs,
  });
  const ids = emulator.control.incidents().map((i) => i.incident_id);
  const perPoll = Math.round((c.versionsPerMinute * POLL_EVERY_MS) / MINUTE);
  let next = 0;
  const calls: number[] = [];
  const times: number[] = [];
  const read: number[] = [];
  const sent: number[] = [];
  try {
    const warmUpRuns = Math.ceil(readBackMs(DEFAULT_LATE_WINDOW_MS) / POLL_EVERY_MS) + 1;
    for (let run = 0; run < warmUpRuns + MEASURED_RUNS; run++) {
      for (let i = 0; i < perPoll; i++) {
        clock.advance(Math.floor(POLL_EVERY_MS / perPoll));
        emulator.control.modifyIncident(ids[next++ % ids.length] ?? "", { listingDelayMs: 0 });
      }
      const callsBefore = emulator.control.stats().endpoints.get_incidents.calls;
      const started = performance.now();
      const endsAt = now() + 5 * MINUTE;
      const summary = await poll({}, { getRemainingTimeInMillis: () => endsAt - now() });
      const elapsed = performance.now() - started;
      await pipeline.sqs.send(new PurgeQueueCommand({ QueueUrl: pipeline.queueUrl }));
      if (run < warmUpRuns) continue;
      calls.push(emulator.control.stats().endpoints.get_incidents.calls - callsBefore);
      times.push(elapsed);
      read.push(summary.incidentsSeen);
      sent.push(summary.messagesSent);
    }
  } finally {
    await tenant.close();
  }
  return {
    ...c,
    callsPerRun: median(calls),
    msPerRun: median(times),
    incidentsReadPerRun: median(read),
    messagesPerRun: median(sent),
  };
}

export async function benchLateWindow(): Promise<BenchTable> {
  const endpoint = await startEmbeddedAwsEndpoint();
  const aws = localAwsClients(endpoint.url);
  const results: CaseResult[] = [];
  try {
    for (const versionsPerMinute of [10, 1_000]) {
      for (const windowMs of [0, DEFAULT_LATE_WINDOW_MS]) {
        results.push(await measure(aws, { versionsPerMinute, windowMs }));
      }
    }
  } finally {
    aws.s3.destroy();
    aws.sqs.destroy();
    aws.sns.destroy();
    await endpoint.close();
  }
  const offAtHigh = results.find((r) => r.versionsPerMinute === 1_000 && r.windowMs === 0);
  const onAtHigh = results.find((r) => r.versionsPerMinute === 1_000 && r.windowMs > 0);
  return {
    title: "8. Poller: the late-arrival window's cost per poll run",
    method: `The real poller handler and Cortex client against the emulator (loopback HTTP) and the embedded AWS endpoint, one poll every ${POLL_EVERY_MS / 1000} s on an injected clock with that many changes between polls, each incident changing about once in the ${readBackMs(DEFAULT_LATE_WINDOW_MS) / MINUTE} minutes read back; medians of ${MEASURED_RUNS} runs after the window has filled.`,
    columns: [
      "versions a minute",
      "window",
      "get_incidents calls per run",
      "incidents read per run",
      "messages sent per run",
      "poller time per run",
    ],
    rows: results.map((r) => [
      r.versionsPerMinute,
      r.windowMs === 0
        ? "off"
        : `${r.windowMs / MINUTE} min (+${(readBackMs(r.windowMs) - r.windowMs) / 1000} s band)`,
      r.callsPerRun,
      r.incidentsReadPerRun,
      r.messagesPerRun,
      `${r.msPerRun.toFixed(0)} ms`,
    ]),
    notes: [
      "The window re-reads every incident modified in it and its band on every poll: one get_incidents call per 100 of them. Messages sent are the same with the window on (it sends nothing twice).",
      offAtHigh !== undefined && onAtHigh !== undefined
        ? `At 1,000 versions a minute and a poll every 20 s the window adds ${onAtHigh.callsPerRun - offAtHigh.callsPerRun} calls a run, ${(((onAtHigh.callsPerRun - offAtHigh.callsPerRun) * 3) / 60).toFixed(1)} requests a second of the tenant's shared ~10: size the window (or the poll interval) for such a tenant from LateVersionLatenessSeconds.`
        : "",
      "Loopback only: against a real tenant each call also costs its network round trip.",
    ].filter((line) => line !== ""),
  };
}
