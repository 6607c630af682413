// The priority lane in the enricher: before each API call it takes the hints waiting on the priority queue
// and serves them first, out of the same paced budget. The embedded AWS endpoint (fauxqs) holds both
// queues, the archive and the topic; the Cortex side is scripted and time is an injected clock, so call
// times are exact. S3 conditional writes are enforced as S3 does (fauxqs does not).
import { PurgeQueueCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EnricherDependencies } from "../../functions/enricher/create-handler.ts";
import type { IncidentSummary } from "../../functions/shared/cortex/api.ts";
import { CortexApiError } from "../../functions/shared/cortex/errors.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import { paceInterval } from "../../functions/shared/pacing.ts";
import { localAwsClients } from "../../local/aws-endpoint.ts";
import { ConditionalWrites } from "../../local/conditional-writes.ts";
import { queueDepth } from "../../local/runner/aws-resources.ts";
import {
  type AwsFixture,
  createQueue,
  drainNotifications,
  drainQueue,
  receiveEvent,
  resetQueues,
  sendVersions,
  startAws,
} from "../support/aws.ts";
import { extraDataResult, incidentFields, scriptedEnricher, versionMessage } from "./fixtures.ts";

const INVOCATION_MS = 120_000;
const INTERVAL_MS = paceInterval(10, 2);

let aws: AwsFixture;
let priorityQueueUrl: string;
let conditionalWrites: ConditionalWrites;

beforeAll(async () => {
  aws = await startAws();
  conditionalWrites = new ConditionalWrites(aws.s3);
  priorityQueueUrl = await createQueue(aws.sqs, `priority-${process.pid}`);
});
afterAll(async () => aws?.close());
beforeEach(() => resetQueues(aws, priorityQueueUrl));

let idBase = 7000;
const nextIds = (count: number) => Array.from({ length: count }, () => String(++idBase));

async function sendHints(bodies: readonly unknown[]): Promise<void> {
  await aws.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: priorityQueueUrl,
      Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: JSON.stringify(body) })),
    }),
  );
}

/** One enricher container with the priority lane on, its extra-data calls recorded with their times. */
function container(overrides: Partial<EnricherDependencies> = {}, options: { lane?: boolean } = {}) {
  const clients = localAwsClients(aws.endpoint.url);
  const run = scriptedEnricher(
    aws,
    {
      s3: conditionalWrites.enforceOn(clients.s3),
      sqs: clients.sqs,
      sns: clients.sns,
      ...(options.lane === false ? {} : { priorityQueueUrl }),
      ...overrides,
    },
    INVOCATION_MS,
  );
  /** Visibility timeouts the enricher set on returned records. */
  const visibilities: number[] = [];
  clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "ChangeMessageVisibilityBatchCommand") {
        const entries = (args.input as { Entries?: { VisibilityTimeout?: number }[] }).Entries ?? [];
        for (const entry of entries) visibilities.push(entry.VisibilityTimeout ?? -1);
      }
      return next(args);
    },
    { step: "initialize", name: "record-visibility" },
  );
  return {
    clock: run.clock,
    scripted: run.extraData,
    recorded: run.recorded,
    visibilities,
    onCall: (hook: (callNumber: number) => Promise<void>) => run.extraData.onCall(hook),
    answer(incidents: readonly IncidentSummary[]) {
      for (const incident of incidents) run.extraData.answer(incident.incident_id, extraDataResult(incident));
    },
    invoke: (max = 5, visibilitySeconds = 300) => run.invoke({ max, visibilitySeconds }),
    close() {
      clients.s3.destroy();
      clients.sqs.destroy();
      clients.sns.destroy();
    },
  };
}

const backlogOf = (ids: readonly string[], now: number) =>
  ids.map((id, index) => incidentFields(id, { severity: "low", modification_time: now - 600_000 + index }));

describe("the priority lane", () => {
  it("publishes a critical version queued behind a backlog before the backlog is done", async () => {
    const run = container();
    const backlog = backlogOf(nextIds(20), run.clock.now());
    const [criticalId] = nextIds(1) as [string];
    const critical = incidentFields(criticalId, { severity: "critical", modification_time: run.clock.now() });
    run.answer([...backlog, critical]);
    await sendVersions(
      aws,
      backlog.map((incident) => versionMessage(incident)),
    );
    // The poller's two copies, arriving while the enricher works on the backlog's first batch.
    const message = versionMessage(critical, { polled_at: run.clock.now() });
    run.onCall(async (callNumber) => {
      if (callNumber !== 2) return;
      await sendVersions(aws, [message]);
      await sendHints([message]);
    });

    const first = await run.invoke();

    // Served with the very next slot, inside the batch that was running when it arrived.
    expect(run.scripted.calls.map((call) => call.incidentId).slice(0, 3)).toEqual([
      backlog[0]?.incident_id,
      backlog[1]?.incident_id,
      criticalId,
    ]);
    expect(first.failedIds).toEqual([]);
    const notifications = await drainNotifications(aws);
    expect(notifications.map((n) => n.attributes.incident_id)).toContain(criticalId);
    // 16 backlog versions and the critical's ordinary copy are still waiting.
    const waiting = await receiveEvent(aws, 10, 0);
    expect(waiting.Records.length).toBeGreaterThan(0);
    // Two slots of waiting: the time to alert from the poll, not the 20 versions ahead of it.
    expect(run.recorded.values(EnricherMetric.TimeToAlert)[0]).toBeLessThanOrEqual((2 * INTERVAL_MS) / 1000);

    // The rest of the backlog drains; the critical's ordinary copy is skipped as covered, not fetched again.
    for (let i = 0; i < 6; i++) await run.invoke();
    const calls = run.scripted.calls.map((call) => call.incidentId);
    expect(calls.filter((id) => id === criticalId)).toHaveLength(1);
    expect(calls).toHaveLength(21);
    expect(await drainQueue(aws.sqs, priorityQueueUrl)).toEqual([]);
    expect(await drainNotifications(aws)).toEqual([]);
    run.close();
  });

  it("keeps the ordinary lane's whole budget when no priority traffic comes, at one empty receive per slot", async () => {
    const withLane = container();
    const without = container({}, { lane: false });
    const ids = nextIds(5);
    for (const run of [withLane, without]) {
      run.answer(backlogOf(ids, run.clock.now()));
      await sendVersions(
        aws,
        backlogOf(ids, run.clock.now()).map((incident) => versionMessage(incident)),
      );
      await run.invoke();
      await aws.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.queueUrl }));
      // A fresh incident state per run: the second container must fetch too.
      ids.splice(0, ids.length, ...nextIds(5));
    }
    const times = (run: ReturnType<typeof container>) =>
      run.scripted.calls.map((call) => call.at - (run.scripted.calls[0]?.at ?? 0));
    expect(times(withLane)).toEqual(times(without));
    expect(times(withLane)).toEqual([0, 1, 2, 3, 4].map((slot) => slot * INTERVAL_MS));
    withLane.close();
    without.close();
  });

  it("never spends more than the budget: priority calls take ordinary slots, not extra ones", async () => {
    const run = container();
    const backlog = backlogOf(nextIds(5), run.clock.now());
    const urgent = nextIds(4).map((id) =>
      incidentFields(id, { severity: "critical", modification_time: run.clock.now() }),
    );
    run.answer([...backlog, ...urgent]);
    await sendVersions(
      aws,
      backlog.map((incident) => versionMessage(incident)),
    );
    await sendHints(urgent.map((incident) => versionMessage(incident)));

    const { failedIds } = await run.invoke();

    const calls = run.scripted.calls;
    // Every call one full slot after the one before, hints first, then the batch as far as the deadline allows.
    expect(calls.map((call, i) => (i === 0 ? 0 : call.at - (calls[i - 1]?.at ?? 0)))).toEqual(
      calls.map((_, i) => (i === 0 ? 0 : INTERVAL_MS)),
    );
    expect(calls.slice(0, 4).map((call) => call.incidentId)).toEqual(urgent.map((i) => i.incident_id));
    // Nine slots do not fit a 120 s invocation with its 35 s margin: the ordinary records left over come back.
    const slotsThatFit = Math.floor((INVOCATION_MS - 35_000) / INTERVAL_MS);
    expect(calls).toHaveLength(slotsThatFit);
    expect(failedIds).toHaveLength(9 - slotsThatFit);
    // Never tried, they come back after one slot rather than the queue's visibility timeout.
    expect(run.visibilities).toEqual(failedIds.map(() => Math.ceil(INTERVAL_MS / 1000)));
    run.close();
  });

  it("serves the newest version once when an incident has several hints, and deletes them all", async () => {
    const run = container();
    const [id] = nextIds(1) as [string];
    const older = incidentFields(id, { severity: "high", modification_time: run.clock.now() - 2_000 });
    const newer = { ...older, severity: "critical", modification_time: run.clock.now() - 1_000 };
    run.answer([newer]);
    const [backlogIncident] = backlogOf(nextIds(1), run.clock.now()) as [IncidentSummary];
    run.answer([backlogIncident]);
    await sendVersions(aws, [versionMessage(backlogIncident)]);
    await sendHints([versionMessage(older), versionMessage(newer)]);

    await run.invoke();

    expect(run.scripted.calls.map((call) => call.incidentId)).toEqual([id, backlogIncident.incident_id]);
    expect((await drainNotifications(aws)).map((n) => n.attributes.severity)).toEqual(["critical"]);
    expect(await drainQueue(aws.sqs, priorityQueueUrl)).toEqual([]);
    run.close();
  });

  it("deletes an unreadable hint, counts it, and carries on with the batch", async () => {
    const run = container();
    const [backlogIncident] = backlogOf(nextIds(1), run.clock.now()) as [IncidentSummary];
    run.answer([backlogIncident]);
    await sendVersions(aws, [versionMessage(backlogIncident)]);
    await sendHints([{ not: "a version" }]);

    const { failedIds } = await run.invoke();

    expect(failedIds).toEqual([]);
    expect(run.recorded.total(EnricherMetric.PriorityHintsInvalid)).toBe(1);
    expect(await drainQueue(aws.sqs, priorityQueueUrl)).toEqual([]);
    run.close();
  });

  it("stops the batch on a throttled hint as it would on a throttled message, keeping the hint", async () => {
    const run = container({ throttleBackoff: () => 0 });
    const [id] = nextIds(1) as [string];
    const urgent = incidentFields(id, { severity: "critical", modification_time: run.clock.now() });
    run.scripted.answer(id, new CortexApiError("throttled", "Too many requests.", { status: 429 }));
    const backlog = backlogOf(nextIds(2), run.clock.now());
    run.answer(backlog);
    await sendVersions(
      aws,
      backlog.map((incident) => versionMessage(incident)),
    );
    await sendHints([versionMessage(urgent)]);

    const { failedIds } = await run.invoke(5, 0);

    expect(failedIds).toHaveLength(2);
    expect(run.scripted.calls.map((call) => call.incidentId)).toEqual([id]);
    // Not deleted: it is back on the priority queue after its visibility timeout.
    expect(await queueDepth(aws.sqs, priorityQueueUrl)).toMatchObject({ visible: 0, inFlight: 1 });
    run.close();
  });

  it("still publishes once when the enricher fails between archiving a hint and publishing it", async () => {
    let publishes = 0;
    const sns = localAwsClients(aws.endpoint.url).sns;
    sns.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PublishCommand" && ++publishes === 1) {
          throw new Error("simulated crash after the archive write, before the publish");
        }
        return next(args);
      },
      { step: "initialize", name: "crash-first-publish" },
    );
    const run = container({ sns });
    const [id] = nextIds(1) as [string];
    const critical = incidentFields(id, { severity: "critical", modification_time: run.clock.now() });
    run.answer([critical]);
    const message = versionMessage(critical, { polled_at: run.clock.now() });
    await sendVersions(aws, [message]);
    await sendHints([message]);

    // The hint is archived, its publish fails; the ordinary copy in the same batch finds the claim still live.
    await run.invoke();
    expect(await drainNotifications(aws)).toEqual([]);

    // Later the hint comes back (or any message of the incident does): the expired claim is taken over.
    run.clock.advance(INVOCATION_MS);
    await sendVersions(aws, [message]);
    await run.invoke();
    expect((await drainNotifications(aws)).map((n) => n.attributes.incident_id)).toEqual([id]);
    expect(run.scripted.calls).toHaveLength(1);

    // Done means done: every copy left publishes nothing more.
    run.clock.advance(INVOCATION_MS);
    await sendVersions(aws, [message]);
    await sendHints([message]);
    await run.invoke();
    expect(await drainNotifications(aws)).toEqual([]);
    expect(publishes).toBe(2);
    sns.destroy();
    run.close();
  });
});
