// The poller's two parts of the priority lane: versions at or above the notification threshold are also
// hinted on the priority queue (the ordinary queue still gets every version), and one invocation polls
// several times within the schedule's minute. An in-memory tenant, the embedded AWS endpoint (fauxqs)
// for the queues and the cursor, and an injected clock.
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createPollerHandler, type PollerDependencies } from "../../functions/poller/create-handler.ts";
import { createPollLoop } from "../../functions/poller/poll-loop.ts";
import { PollerMetric } from "../../functions/shared/metric-names.ts";
import { drainQueue } from "../support/aws.ts";
import { lambdaContext } from "../support/lambda-context.ts";
import { recordingMetrics, silentLogger } from "../support/powertools.ts";
import { awsHarnessPerFile, HOUR, pollerDependencies } from "./fixtures.ts";
import { InMemoryTenant } from "./in-memory-tenant.ts";

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

const aws = awsHarnessPerFile();

async function setup() {
  let clock = T0 + 60_000;
  const now = () => clock;
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock += ms;
  };
  const tenant = new InMemoryTenant({ now });
  const pipeline = await aws.createPipeline();
  const priority = await pipeline.sqs.send(
    new CreateQueueCommand({ QueueName: `${pipeline.bucket}-priority` }),
  );
  const priorityQueueUrl = priority.QueueUrl ?? "";
  const { metrics, published } = recordingMetrics();
  const deps: PollerDependencies = {
    ...pollerDependencies(pipeline, { incidents: tenant, firstRunLookbackMs: HOUR, metrics, now }),
    deadlineMarginMs: undefined, // the handler's default margin, as in the Lambda
    priority: { queueUrl: priorityQueueUrl, minSeverity: "high" },
  };
  return {
    tenant,
    pipeline,
    priorityQueueUrl,
    published,
    deps,
    now,
    sleep,
    sleeps,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe("priority hints", () => {
  it("hints versions at or above the threshold, the analyst's severity included, and queues every version", async () => {
    const s = await setup();
    s.tenant.put({ incident_id: "1", modification_time: T0 + 1, severity: "low" });
    s.tenant.put({ incident_id: "2", modification_time: T0 + 2, severity: "critical" });
    s.tenant.put({
      incident_id: "3",
      modification_time: T0 + 3,
      severity: "medium",
      manual_severity: "high",
    });
    s.tenant.put({ incident_id: "4", modification_time: T0 + 4, severity: "high" });

    await createPollerHandler(s.deps)({}, lambdaContext(s.now, 60_000));

    const ordinary = await drainQueue(s.pipeline.sqs, s.pipeline.queueUrl);
    const hints = await drainQueue(s.pipeline.sqs, s.priorityQueueUrl);
    expect(ordinary.map((m) => m.incident_id).sort()).toEqual(["1", "2", "3", "4"]);
    expect(hints.map((m) => m.incident_id).sort()).toEqual(["2", "3", "4"]);
    // The same message on both queues: the hint is a copy of the durable one.
    const hintOf3 = hints.find((m) => m.incident_id === "3");
    expect(hintOf3).toEqual(ordinary.find((m) => m.incident_id === "3"));
    expect(hintOf3?.manual_severity).toBe("high");
  });

  it("sends no hint below the threshold and counts the ones it sends", async () => {
    const s = await setup();
    s.tenant.put({ incident_id: "7", modification_time: T0 + 1, severity: "critical" });
    s.tenant.put({ incident_id: "8", modification_time: T0 + 2, severity: "medium" });
    await createPollerHandler({
      ...s.deps,
      priority: { queueUrl: s.priorityQueueUrl, minSeverity: "critical" },
    })({}, lambdaContext(s.now, 60_000));
    expect((await drainQueue(s.pipeline.sqs, s.priorityQueueUrl)).map((m) => m.incident_id)).toEqual(["7"]);
    expect(s.published[0]?.[PollerMetric.PriorityHintsSent]).toBe(1);
  });

  it("sends a severity it cannot rank ahead rather than behind, with a WARN naming the value and a metric", async () => {
    const s = await setup();
    s.tenant.put({ incident_id: "11", modification_time: T0 + 1, severity: "SEV_040_HIGH" });
    s.tenant.put({ incident_id: "12", modification_time: T0 + 2, severity: "SEV_045_SEVERE" });
    s.tenant.put({ incident_id: "13", modification_time: T0 + 3, severity: "SEV_020_LOW" });
    const warnings: { message: string; fields: unknown }[] = [];
    const logger = silentLogger();
    logger.warn = ((message: string, fields: unknown) => {
      warnings.push({ message, fields });
    }) as typeof logger.warn;

    await createPollerHandler({ ...s.deps, logger })({}, lambdaContext(s.now, 60_000));

    const hints = await drainQueue(s.pipeline.sqs, s.priorityQueueUrl);
    expect(hints.map((m) => m.incident_id).sort()).toEqual(["11", "12"]);
    expect(warnings.map((w) => w.fields)).toEqual([
      { incident_id: "12", unranked_severities: ["SEV_045_SEVERE"], judged_as: "high" },
    ]);
    expect(s.published[0]?.[PollerMetric.UnrankedSeverity]).toBe(1);
  });

  it("still queues and advances the cursor when the priority queue refuses the hints, and says so", async () => {
    const s = await setup();
    s.tenant.put({ incident_id: "9", modification_time: T0 + 1, severity: "critical" });
    const warnings: string[] = [];
    const logger = silentLogger();
    logger.warn = ((message: string) => {
      warnings.push(message);
    }) as typeof logger.warn;
    // The priority queue fails every call; the ordinary queue works.
    s.pipeline.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const queueUrl = (args.input as { QueueUrl?: string }).QueueUrl;
        if (context.commandName === "SendMessageBatchCommand" && queueUrl === s.priorityQueueUrl) {
          throw new Error("injected: the priority queue is unavailable");
        }
        return next(args);
      },
      { step: "initialize", name: "failPriorityQueue" },
    );

    const summary = await createPollerHandler({ ...s.deps, logger })({}, lambdaContext(s.now, 60_000));

    expect(summary.messagesSent).toBe(1);
    expect(summary.cursorAfter.modificationTime).toBe(T0 + 1);
    expect(await drainQueue(s.pipeline.sqs, s.priorityQueueUrl)).toEqual([]);
    expect(warnings).toEqual([
      "Could not send priority hints; those versions wait their turn on the ordinary queue",
    ]);
    expect(s.published[0]?.[PollerMetric.PriorityHintsFailed]).toBe(1);
  });
});

describe("polling several times per scheduled invocation", () => {
  const loopOf = (s: Awaited<ReturnType<typeof setup>>, intervalMs: number, windowMs = 60_000) =>
    createPollLoop(createPollerHandler(s.deps), {
      intervalMs,
      windowMs,
      logger: silentLogger(),
      now: s.now,
      sleep: s.sleep,
    });

  it("polls at 0, 20 and 40 s of a one-minute schedule and returns before the next tick", async () => {
    const s = await setup();
    const starts: number[] = [];
    const walk = s.tenant.incidentsModifiedSince.bind(s.tenant);
    s.tenant.incidentsModifiedSince = (cursor, options) => {
      starts.push(s.now());
      return walk(cursor, options);
    };
    const startedAt = s.now();
    const summary = await loopOf(s, 20_000)({}, lambdaContext(s.now, 300_000));
    expect(starts.map((at) => at - startedAt)).toEqual([0, 20_000, 40_000]);
    expect(summary.polls).toBe(3);
    expect(s.now() - startedAt).toBeLessThan(60_000);
  });

  it("finds a version that appears between two polls of the same invocation", async () => {
    const s = await setup();
    s.tenant.put({ incident_id: "1", modification_time: T0 + 1 });
    const walk = s.tenant.incidentsModifiedSince.bind(s.tenant);
    let walks = 0;
    s.tenant.incidentsModifiedSince = (cursor, options) => {
      // A critical incident appears just before the second poll.
      if (++walks === 2)
        s.tenant.put({ incident_id: "2", modification_time: s.now() - 5, severity: "critical" });
      return walk(cursor, options);
    };
    const summary = await loopOf(s, 20_000)({}, lambdaContext(s.now, 300_000));
    expect(summary.messagesSent).toBe(2);
    expect((await drainQueue(s.pipeline.sqs, s.priorityQueueUrl)).map((m) => m.incident_id)).toEqual(["2"]);
  });

  it("returns after one poll when that poll left a backlog for the next invocation", async () => {
    const s = await setup();
    for (let i = 0; i < 300; i++) s.tenant.put({ incident_id: String(100 + i), modification_time: T0 + i });
    s.tenant.beforePage = () => s.advance(10_000);
    // 45 s of Lambda time, 10 s per page and a 10 s margin: the poll stops early with pages left.
    const summary = await loopOf(s, 20_000)({}, lambdaContext(s.now, 45_000));
    expect(summary).toMatchObject({ polls: 1, stoppedEarly: true });
  });

  it("polls once per invocation when the interval is the schedule's period", async () => {
    const s = await setup();
    const summary = await loopOf(s, 60_000)({}, lambdaContext(s.now, 300_000));
    expect(summary.polls).toBe(1);
    expect(s.sleeps).toEqual([]);
  });

  it("refuses an interval longer than the schedule's period", async () => {
    const s = await setup();
    expect(() => loopOf(s, 90_000)).toThrow(/at most the schedule's period/);
  });
});
