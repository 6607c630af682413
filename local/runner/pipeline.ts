// Runs the pipeline the way AWS would: the poller on a schedule, the enricher behind the SQS event source,
// the topic's subscriber shown as notification previews, and the archive mirrored to a local folder.
// With --once it polls until caught up, drains the queue (retries and redrive included) and stops.
import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { CortexApiError } from "../../functions/shared/cortex/errors.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import type { ApiActivity, ApiAttempt } from "./api-activity.ts";
import { ArchiveMirror, type ArchiveWrites } from "./archive-mirror.ts";
import { type LocalResources, type QueueDepth, queueDepth } from "./aws-resources.ts";
import {
  type InvocationReport,
  type LocalLambdaContext,
  pause,
  type SqsBatchHandler,
  SqsEventSource,
} from "./event-source.ts";
import type { MetricTally } from "./metric-tally.ts";
import { formatNotification, NotificationInbox } from "./notifications.ts";
import type { StatusSnapshot, StatusView } from "./status.ts";
import { buildSummary, type RunSummary } from "./summary.ts";

/** The fields of the poller's PollRunSummary the runner reads. */
export interface PollRunReport {
  incidentsSeen: number;
  messagesSent: number;
  stoppedEarly: boolean;
  pagesRead?: number;
}

export interface PipelineSettings {
  once: boolean;
  pollIntervalSeconds: number;
  pollerTimeoutSeconds: number;
  functionTimeoutSeconds: number;
  batchSize: number;
  /** Seconds the event source gathers messages for one invocation (0: whatever one receive returns). */
  batchingWindowSeconds?: number;
  budgetPerMinute: number;
  /** The batch endpoint's budget; undefined in single mode. */
  batchBudgetPerMinute?: number | undefined;
  outDir: string;
}

export interface PipelineDeps {
  settings: PipelineSettings;
  s3: S3Client;
  sqs: SQSClient;
  region: string;
  resources: LocalResources;
  /** One poller run: the real handler, invoked as the schedule would. */
  poll: (context: LocalLambdaContext) => Promise<PollRunReport>;
  /** One enricher handler per concurrent instance. */
  enricherHandlers: readonly SqsBatchHandler[];
  /**
   * The archive objects those handlers wrote (their S3 client watched): "archived" counts only these. Without it,
   * every object new in the bucket counts, which is right only while no other writer shares the bucket.
   */
  archiveWrites?: ArchiveWrites;
  /** What those handlers counted as metrics (the summary's not-found figure comes from it). */
  enricherMetrics?: MetricTally;
  /**
   * The same per handler instance (index = instance): an instance runs one invocation at a time, so what its tally
   * gained during an invocation is that invocation's (the records it returned without trying them).
   */
  enricherInstanceMetrics?: readonly MetricTally[];
  /** Change events written to --events-out so far, when the flag is given. */
  changeEventsWritten?: () => number;
  api: ApiActivity;
  view: StatusView;
  labels: { cortex: string; aws: string };
  /** Aborted on Ctrl-C (SIGINT/SIGTERM): stop polling, finish in-flight work, summarise. */
  stopSignal: AbortSignal;
  /** Words to add to a credential error: which settings to check. */
  credentialHint: string;
  now?: () => number;
  /** Event-source long-poll wait; small in tests so stopping is quick. */
  waitTimeSeconds?: number;
  sampleEveryMs?: number;
  /** --once: poll attempts that fail (other than a rejected credential) before giving up. */
  pollAttemptsOnce?: number;
}

export async function runPipeline(deps: PipelineDeps): Promise<RunSummary> {
  return new PipelineRun(deps).run();
}

class PipelineRun {
  readonly #deps: PipelineDeps;
  readonly #now: () => number;
  readonly #mirror: ArchiveMirror;
  readonly #inbox: NotificationInbox;
  readonly #source: SqsEventSource;
  /** Aborted when the run must wind down: Ctrl-C, a rejected credential, or a drained --once run. */
  readonly #windDown = new AbortController();
  readonly #counts = {
    polled: 0,
    enqueued: 0,
    enriched: 0,
    failedAttempts: 0,
    failedInvocations: 0,
    returnedUnfinished: 0,
    notStarted: 0,
    notified: 0,
    pollRuns: 0,
  };
  #depth: QueueDepth = { visible: 0, inFlight: 0, delayed: 0 };
  /** Per instance, its NotStarted total when its last invocation was reported. */
  readonly #notStartedReported: number[] = [];
  #deadLetters = 0;
  readonly #timesToAlertMs: number[] = [];
  #nextPollAt: number | undefined;
  #phase: StatusSnapshot["phase"] = "running";
  #accessProblem: string | undefined;
  #failure: string | undefined;
  #lastPollError = "";

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    const { s3, sqs, resources, settings } = deps;
    this.#mirror = new ArchiveMirror({
      s3,
      bucket: resources.bucket,
      outDir: settings.outDir,
      ...(deps.archiveWrites === undefined ? {} : { ownWrites: deps.archiveWrites }),
    });
    this.#inbox = new NotificationInbox(sqs, resources.notificationInboxUrl, (preview) => {
      this.#counts.notified += 1;
      if (preview.timeToAlertMs !== undefined) this.#timesToAlertMs.push(preview.timeToAlertMs);
      deps.view.event(formatNotification(preview));
    });
    this.#source = new SqsEventSource({
      sqs,
      queueUrl: resources.queueUrl,
      queueArn: resources.queueArn,
      region: deps.region,
      functionName: "enricher",
      handlers: deps.enricherHandlers,
      batchSize: settings.batchSize,
      batchingWindowMs: (settings.batchingWindowSeconds ?? 0) * 1000,
      functionTimeoutMs: settings.functionTimeoutSeconds * 1000,
      waitTimeSeconds: deps.waitTimeSeconds ?? 2,
      now: this.#now,
      onInvocation: (report) => this.#onInvocation(report),
      onQueueError: (error) => deps.view.event(`warning: SQS call failed, retrying: ${messageOf(error)}`),
    });
  }

  async run(): Promise<RunSummary> {
    const { view, stopSignal } = this.#deps;
    const startedAt = this.#now();
    const onStop = () => {
      view.event("stopping: no more polls; finishing in-flight invocations (Ctrl-C again to quit at once)");
      this.#windDown.abort();
    };
    stopSignal.addEventListener("abort", onStop, { once: true });
    if (stopSignal.aborted) this.#windDown.abort();

    await this.#mirror.remember();
    view.start();
    try {
      view.update(this.#snapshot());
      this.#source.start();
      const sampling = this.#sampleLoop();
      const inbox = this.#inboxLoop();
      await this.#pollLoop();
      if (this.#deps.settings.once && !this.#windDown.signal.aborted) {
        this.#phase = "draining";
        this.#source.endBatchingWindow();
        await this.#waitUntilDrained();
      }

      this.#phase = "stopping";
      this.#windDown.abort();
      await this.#source.stop();
      await Promise.all([sampling, inbox]);
      await this.#settleOutputs();
      view.update(this.#snapshot());
    } finally {
      // Whatever happened: no invocation is left running and the terminal gets its normal output back.
      this.#windDown.abort();
      await this.#source.stop();
      view.close();
      stopSignal.removeEventListener("abort", onStop);
    }

    return buildSummary({
      counts: {
        polled: this.#counts.polled,
        enqueued: this.#counts.enqueued,
        enriched: this.#enriched(),
        requeued: this.#requeued(),
        archived: this.#mirror.archivedThisRun,
        notified: this.#counts.notified,
        dead_lettered: this.#deadLetters,
        failed_attempts: this.#counts.failedAttempts,
        failed_invocations: this.#counts.failedInvocations,
        returned_unfinished: this.#counts.returnedUnfinished,
        not_started: this.#counts.notStarted,
        api_calls: this.#deps.api.calls,
        api_calls_by_endpoint: { ...this.#deps.api.callsByEndpoint },
        throttled: this.#deps.api.throttled,
        poll_runs: this.#counts.pollRuns,
        left_in_queue: this.#depth.visible + this.#depth.inFlight + this.#depth.delayed,
        not_found: this.#deps.enricherMetrics?.total(EnricherMetric.IncidentNotFound) ?? 0,
      },
      once: this.#deps.settings.once,
      archiveDir: this.#mirror.outDir,
      durationMs: this.#now() - startedAt,
      timesToAlertMs: this.#timesToAlertMs,
      accessProblem: this.#accessProblem,
      failure: this.#failure,
    });
  }

  async #pollLoop(): Promise<void> {
    const { settings } = this.#deps;
    const attemptsAllowed = this.#deps.pollAttemptsOnce ?? 3;
    let failedAttempts = 0;
    while (!this.#windDown.signal.aborted) {
      this.#nextPollAt = undefined;
      const outcome = await this.#pollOnce();
      if (settings.once) {
        if (outcome === "caught-up") return;
        if (outcome === "failed" && ++failedAttempts >= attemptsAllowed) {
          const times = failedAttempts === 1 ? "once" : `${failedAttempts} times in a row`;
          this.#failure ??= `The poller failed ${times}; the last error: ${this.#lastPollError}`;
          return;
        }
        // Stopped early at its time limit (more pages wait) or failed: run again soon, as the next schedule would.
        this.#nextPollAt = this.#now() + (outcome === "failed" ? 2000 : 0);
      } else {
        this.#nextPollAt = this.#now() + settings.pollIntervalSeconds * 1000;
      }
      await pause(Math.max(0, this.#nextPollAt - this.#now()), this.#windDown.signal);
    }
    this.#nextPollAt = undefined;
  }

  async #pollOnce(): Promise<"caught-up" | "more" | "failed"> {
    const { poll, view, settings } = this.#deps;
    const deadline = this.#now() + settings.pollerTimeoutSeconds * 1000;
    const context: LocalLambdaContext = {
      functionName: "poller",
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.#now()),
    };
    this.#counts.pollRuns += 1;
    try {
      const report = await poll(context);
      this.#counts.polled += report.incidentsSeen;
      this.#counts.enqueued += report.messagesSent;
      view.event(
        `poll: ${report.incidentsSeen} incident version(s) read, ${report.messagesSent} enqueued` +
          (report.stoppedEarly ? " (stopped at its time limit; more to read)" : ""),
      );
      this.#checkAccess();
      return report.stoppedEarly ? "more" : "caught-up";
    } catch (error) {
      const access = accessProblemOf(error, this.#deps.credentialHint);
      if (access) {
        this.#stopForAccessProblem(access);
      } else {
        this.#checkAccess();
        this.#lastPollError = messageOf(error);
        view.event(`poll failed: ${this.#lastPollError}`);
      }
      return "failed";
    }
  }

  #onInvocation(report: InvocationReport): void {
    this.#counts.enriched += report.succeeded.length;
    const { view } = this.#deps;
    const seconds = (report.durationMs / 1000).toFixed(1);
    const notStarted = Math.min(this.#notStartedSinceLastReport(report.instance), report.failed.length);
    if (report.batchError !== undefined) {
      // A timeout or a thrown error fails the whole batch, as in Lambda: records it never started did not "fail".
      this.#counts.failedInvocations += 1;
      this.#counts.returnedUnfinished += report.failed.length;
      view.event(
        `enricher #${report.instance + 1}: the invocation failed as a whole (${messageOf(report.batchError)}); ` +
          `its ${report.records.length} record(s) return to the queue after the visibility timeout, any it finished ` +
          `are skipped then as already archived (${seconds} s)`,
      );
    } else if (report.failed.length > 0) {
      const failed = report.failed.length - notStarted;
      this.#counts.failedAttempts += failed;
      this.#counts.notStarted += notStarted;
      const untried = notStarted === 0 ? "" : `, ${notStarted} not started (untried, not failed)`;
      view.event(
        `enricher #${report.instance + 1}: ${report.succeeded.length} done, ${failed} failed${untried}; ` +
          `they return to the queue after the visibility timeout (${seconds} s)`,
      );
    } else {
      view.event(`enricher #${report.instance + 1}: ${report.succeeded.length} done (${seconds} s)`);
    }
    this.#checkAccess();
    void this.#syncMirror();
  }

  async #syncMirror(): Promise<void> {
    try {
      const added = await this.#mirror.sync();
      for (const key of added) this.#deps.view.event(`archived ${key}`);
    } catch (error) {
      this.#failure ??= `Could not copy the archive to ${this.#mirror.outDir}: ${messageOf(error)}`;
      this.#deps.view.event(`warning: ${this.#failure}`);
    }
  }

  async #sampleLoop(): Promise<void> {
    const every = this.#deps.sampleEveryMs ?? 1000;
    while (!this.#windDown.signal.aborted) {
      // The enricher archives record by record; copying as it goes keeps "archived" (and the folder) current.
      await this.#syncMirror();
      await this.#sample();
      this.#checkAccess();
      await pause(every, this.#windDown.signal);
    }
  }

  async #sample(): Promise<void> {
    const { sqs, resources, view } = this.#deps;
    try {
      this.#depth = await queueDepth(sqs, resources.queueUrl);
      const dlq = await queueDepth(sqs, resources.deadLetterQueueUrl);
      this.#deadLetters = dlq.visible + dlq.inFlight + dlq.delayed;
    } catch (error) {
      view.event(`warning: could not read the queue depth: ${messageOf(error)}`);
    }
    view.update(this.#snapshot());
  }

  async #inboxLoop(): Promise<void> {
    while (!this.#windDown.signal.aborted) {
      try {
        await this.#inbox.receive(1);
      } catch (error) {
        this.#deps.view.event(`warning: could not read notifications: ${messageOf(error)}`);
        await pause(1000, this.#windDown.signal);
      }
    }
  }

  /** --once: done when no invocation runs and the queue holds nothing (retries waiting out visibility count). */
  async #waitUntilDrained(): Promise<void> {
    let quietSamples = 0;
    while (!this.#windDown.signal.aborted) {
      await this.#sample();
      const empty = this.#depth.visible + this.#depth.inFlight + this.#depth.delayed === 0;
      // Twice in a row: an invocation may be between ReceiveMessage and its start.
      quietSamples = empty && this.#source.activeInvocations === 0 ? quietSamples + 1 : 0;
      if (quietSamples >= 2) return;
      await pause(250, this.#windDown.signal);
    }
  }

  async #settleOutputs(): Promise<void> {
    const { view } = this.#deps;
    try {
      await this.#inbox.drain();
    } catch (error) {
      view.event(`warning: could not read notifications: ${messageOf(error)}`);
    }
    await this.#syncMirror();
    await this.#sample();
  }

  #checkAccess(): void {
    const denied = this.#deps.api.accessDenied;
    if (denied && !this.#accessProblem)
      this.#stopForAccessProblem(describeDenial(denied, this.#deps.credentialHint));
  }

  #stopForAccessProblem(message: string): void {
    if (this.#accessProblem) return;
    this.#accessProblem = message;
    this.#deps.view.event(`error: ${message}`);
    this.#windDown.abort();
  }

  /** Records the instance returned untried (the enricher's NotStarted metric) since its last invocation's report. */
  #notStartedSinceLastReport(instance: number): number {
    const total = this.#deps.enricherInstanceMetrics?.[instance]?.total(EnricherMetric.NotStarted) ?? 0;
    const before = this.#notStartedReported[instance] ?? 0;
    this.#notStartedReported[instance] = total;
    return total - before;
  }

  /** Handed back to the queue as new messages: deleted, so the event source counts them as succeeded. */
  #requeued(): number {
    return this.#deps.enricherMetrics?.total(EnricherMetric.Requeued) ?? 0;
  }

  /**
   * Records the enricher finished with, less those it handed back to the queue as new messages (the
   * deadline's unstarted ones, a short batch's spread single calls): each of those is finished again later.
   */
  #enriched(): number {
    return Math.max(0, this.#counts.enriched - this.#requeued());
  }

  #snapshot(): StatusSnapshot {
    const { api, settings, labels } = this.#deps;
    const queued = this.#depth.visible + this.#depth.inFlight + this.#depth.delayed;
    // Records archived in a batch still running are on the queue until the batch returns: they are done,
    // and a batch of 100 may run for minutes, so "enriched" counts them as soon as they are archived.
    const enriched = this.#enriched();
    const doneInFlight = Math.max(0, this.#mirror.archivedThisRun - enriched);
    return {
      cortex: labels.cortex,
      aws: labels.aws,
      polled: this.#counts.polled,
      queued,
      backlog: Math.max(0, queued - doneInFlight),
      enriched: enriched + doneInFlight,
      archived: this.#mirror.archivedThisRun,
      notified: this.#counts.notified,
      failed: this.#counts.failedAttempts,
      failedInvocations: this.#counts.failedInvocations,
      notStarted: this.#counts.notStarted,
      inDlq: this.#deadLetters,
      apiCallsLastMinute: api.callsLastMinute("get_incident_extra_data"),
      budgetPerMinute: settings.budgetPerMinute,
      batch:
        settings.batchBudgetPerMinute === undefined
          ? undefined
          : {
              callsLastMinute: api.callsLastMinute("get_multiple_incidents_extra_data"),
              budgetPerMinute: settings.batchBudgetPerMinute,
            },
      throttled: api.throttled,
      activeInvocations: this.#source.activeInvocations,
      maxConcurrency: this.#source.maxConcurrency,
      nextPollInSeconds: this.#nextPollAt === undefined ? undefined : (this.#nextPollAt - this.#now()) / 1000,
      archiveDir: this.#mirror.outDir,
      ...(this.#deps.changeEventsWritten === undefined ? {} : { events: this.#deps.changeEventsWritten() }),
      phase: this.#phase,
    };
  }
}

/** A credential, license or permission error anywhere in the cause chain, as a message a person can act on. */
export function accessProblemOf(error: unknown, hint: string): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth += 1) {
    if (current instanceof CortexApiError && current.isAccessProblem)
      return `${withPeriod(current.message)} ${hint}`;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeDenial(attempt: ApiAttempt, hint: string): string {
  const status = attempt.status === undefined ? "" : ` (HTTP ${attempt.status})`;
  const what =
    attempt.errorKind === "license"
      ? "says this tenant has no license for"
      : attempt.errorKind === "permission"
        ? "says the key's role lacks permission for"
        : "rejected the API key on";
  return `The Cortex API ${what} ${attempt.path}${status}. ${hint}`;
}

function withPeriod(text: string): string {
  return /[.!?]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
