// Batch enrichment against the Cortex tenant emulator (real HTTP on 127.0.0.1, through the project's
// Cortex client) and the embedded AWS endpoint, on one VirtualTime: both extra-data endpoints enforce
// their 10-per-minute budgets on it, so a 300-incident backlog plays out in virtual minutes.
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EnricherDependencies } from "../../functions/enricher/create-handler.ts";
import type { IncidentSummary } from "../../functions/shared/cortex/api.ts";
import type { CortexClient } from "../../functions/shared/cortex/client.ts";
import { readIncidentState } from "../../functions/shared/incident-state.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import { paceInterval } from "../../functions/shared/pacing.ts";
import type { CortexEmulator, EmulatedIncident } from "../../local/emulator/index.ts";
import {
  type AwsFixture,
  acknowledge,
  createQueue,
  drainNotifications,
  invokeUntilEmpty,
  listKeys,
  readObject,
  receiveEvent,
  resetQueues,
  sendVersions,
} from "../support/aws.ts";
import { VirtualTime } from "../support/clock.ts";
import { lambdaContext } from "../support/lambda-context.ts";
import {
  archivePrefix,
  busiestWindow,
  type EmulatedTenant,
  enricherOn,
  startEmulatedTenant,
  versionMessage,
} from "./fixtures.ts";

const SINGLE = "get_incident_extra_data";
const BATCH = "get_multiple_incidents_extra_data";
const WINDOW_MS = 60_000;
const BUDGET = 10;
const ALERTS_LIMIT = 200;
/** As the stack sizes a batch-mode invocation: one batch slot and ten single slots at 12 s, plus the margin. */
const TIMEOUT_MS = 192_000;

const time = new VirtualTime();
let tenant: EmulatedTenant;
let aws: AwsFixture;
let emulator: CortexEmulator;
let cortex: CortexClient;
let priorityQueueUrl: string;

beforeAll(async () => {
  const rateLimit = { requests: BUDGET, windowMs: WINDOW_MS };
  tenant = await startEmulatedTenant(time, {
    seed: "batch-mode",
    rateLimits: { extraData: rateLimit, batchExtraData: rateLimit },
  });
  ({ aws, emulator, cortex } = tenant);
  priorityQueueUrl = await createQueue(aws.sqs, `batch-priority-${process.pid}`);
});
afterAll(() => tenant?.close());
beforeEach(async () => {
  emulator.control.clearFaults();
  await resetQueues(aws, priorityQueueUrl);
  await time.sleep(WINDOW_MS); // a fresh budget window, whatever earlier tests spent
});

function enricher(overrides: Partial<EnricherDependencies> = {}) {
  return enricherOn(
    aws,
    { extraData: cortex, now: time.now, sleep: time.sleep },
    {
      batchExtraData: cortex,
      incidentLookup: cortex,
      budgetPerMinute: BUDGET,
      batchBudgetPerMinute: BUDGET,
      alertsLimit: ALERTS_LIMIT,
      throttleBackoff: () => 0,
      ...overrides,
    },
  );
}

/** What the event source hands one invocation: up to 100 messages (SQS receives 10 at a time). */
async function receiveBatch(visibilityTimeout: number): Promise<SQSEvent> {
  const event: SQSEvent = { Records: [] };
  for (let receives = 0; receives < 10; receives++) {
    const { Records } = await receiveEvent(aws, 10, visibilityTimeout);
    if (Records.length === 0) break;
    event.Records.push(...Records);
  }
  return event;
}

/** Drives one instance like the event source until the queue looks empty (throttled messages come straight back: backoff 0). */
const drain = (handler: ReturnType<typeof enricher>["handler"]) =>
  invokeUntilEmpty(aws, handler, () => lambdaContext(time.now, TIMEOUT_MS), {
    maxInvocations: 40,
    receive: () => receiveBatch(300),
  });

function messageFor(incident: EmulatedIncident) {
  return versionMessage(incident as IncidentSummary, { polled_at: time.now() });
}

function requestsTo(endpoint: string, incidents?: readonly EmulatedIncident[]) {
  const ids = incidents && new Set(incidents.map((incident) => incident.incident_id));
  return emulator.control.requests().filter((request) => {
    if (request.endpoint !== endpoint) return false;
    if (ids === undefined) return true;
    const data = request.requestData as { incident_id?: unknown; filters?: { value?: unknown }[] };
    const asked =
      endpoint === SINGLE ? [data?.incident_id] : ((data?.filters?.[0]?.value as unknown[]) ?? []);
    return asked.some((id) => ids.has(String(id)));
  });
}

async function archivedAlerts(incident: EmulatedIncident) {
  const keys = await listKeys(aws, archivePrefix(incident));
  expect(keys).toEqual([`${archivePrefix(incident)}${incident.modification_time}.json.gz`]);
  const object = await readObject(aws, keys[0] ?? "");
  return { alerts: JSON.parse(object.body).alerts.data as unknown[], metadata: object.metadata };
}

describe("batch enrichment against the Cortex emulator", () => {
  it("archives a 300-incident backlog with 3% large incidents completely, in a few batch calls", async () => {
    const { handler, recorded } = enricher();
    const large = emulator.control.addIncidents(
      Array.from({ length: 9 }, (_, index) => ({ severity: "low", alert_count: index < 3 ? 120 : 400 })),
    );
    const normal = emulator.control.addIncidents(
      Array.from({ length: 291 }, (_, index) => ({
        severity: index % 50 === 0 ? "critical" : "low",
        alert_count: 3,
      })),
    );
    await sendVersions(aws, [...large, ...normal].map(messageFor));

    await time.run(() => drain(handler));

    for (const incident of large) {
      const { alerts, metadata } = await archivedAlerts(incident);
      expect(alerts).toHaveLength(Math.min(incident.alert_count, ALERTS_LIMIT));
      expect(metadata["alerts-complete"]).toBe("true");
      expect(metadata.source).toBe(SINGLE);
    }
    for (const incident of normal) {
      const { alerts, metadata } = await archivedAlerts(incident);
      expect(alerts).toHaveLength(3);
      expect(metadata.source).toBe(BATCH);
    }
    const batchCalls = requestsTo(BATCH).filter((request) => request.status === 200);
    expect(batchCalls.length).toBeLessThanOrEqual(4); // 300 ids in calls of 100, one more at most for a straggler
    expect(requestsTo(SINGLE, normal)).toEqual([]);
    expect(requestsTo(SINGLE, large).filter((request) => request.status === 200)).toHaveLength(9);
    expect(recorded.total(EnricherMetric.ArchivedPartial)).toBe(9);
    expect(emulator.control.requests().filter((request) => request.status === 429)).toEqual([]);
    expect(busiestWindow(requestsTo(BATCH), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    expect(busiestWindow(requestsTo(SINGLE), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    const notified = (await drainNotifications(aws)).map(
      (notification) => notification.attributes.incident_id,
    );
    expect(notified.sort()).toEqual(
      normal
        .filter((incident) => incident.severity === "critical")
        .map((i) => i.incident_id)
        .sort(),
    );
  });

  it("announces a large critical incident from its partial object, and not again when it is complete", async () => {
    const { handler } = enricher();
    const [incident] = emulator.control.addIncidents([{ severity: "critical", alert_count: 150 }]);
    if (incident === undefined) throw new Error("no incident");
    await sendVersions(aws, [messageFor(incident)]);

    await time.run(() => drain(handler));

    const notifications = await drainNotifications(aws);
    expect(notifications).toHaveLength(1);
    const { alerts, metadata } = await archivedAlerts(incident);
    expect(alerts).toHaveLength(150);
    expect(metadata["alerts-complete"]).toBe("true");
    const state = await readIncidentState(aws.s3, aws.bucket, incident.incident_id);
    expect(state?.record.archived).toMatchObject({ modification_time: incident.modification_time });
    expect(state?.record.archived?.complete).toBeUndefined();
    // The notification was published before the complete fetch: the batch call came first, then one single call.
    const calls = emulator.control
      .requests()
      .filter((request) => request.status === 200 && request.endpoint !== "get_incidents");
    expect(calls.map((request) => request.endpoint).slice(-2)).toEqual([BATCH, SINGLE]);
  });

  it("falls back to single calls on a tenant without the batch endpoint, and still archives everything", async () => {
    emulator.control.setFaults({ withoutBatchEndpoint: true });
    const { handler, recorded } = enricher();
    const incidents = emulator.control.addIncidents(24);
    await sendVersions(aws, incidents.map(messageFor));

    await time.run(() => drain(handler));

    for (const incident of incidents) expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
    expect(requestsTo(BATCH).filter((request) => request.status === 404).length).toBe(1); // asked once, remembered
    expect(recorded.total(EnricherMetric.BatchEndpointUnavailable)).toBe(1);
    expect(recorded.total(EnricherMetric.Requeued)).toBeGreaterThan(0); // 24 do not fit one invocation's single slots
    expect(busiestWindow(requestsTo(SINGLE), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
  });

  it("puts a critical hint first into the next batch call: announced before the backlog ahead of it is archived", async () => {
    const { handler } = enricher({ priorityQueueUrl });
    const backlog = emulator.control.addIncidents(
      Array.from({ length: 250 }, () => ({ severity: "low", alert_count: 2 })),
    );
    await sendVersions(aws, backlog.map(messageFor));
    const [critical] = emulator.control.addIncidents([{ severity: "critical", alert_count: 2 }]);
    if (critical === undefined) throw new Error("no incident");
    // The poller queues the critical version behind the backlog and hints it on the priority queue.
    await sendVersions(aws, [messageFor(critical)]);
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: priorityQueueUrl,
        Entries: [{ Id: "0", MessageBody: JSON.stringify(messageFor(critical)) }],
      }),
    );

    // One invocation: its 100 messages are backlog (the queue hands them out oldest first).
    const event = await receiveBatch(300);
    expect(event.Records.map((record) => JSON.parse(record.body).incident_id)).not.toContain(
      critical.incident_id,
    );
    const response = await time.run(() => handler(event, lambdaContext(time.now, TIMEOUT_MS)));
    await acknowledge(aws, event, response);

    const notified = (await drainNotifications(aws)).map(
      (notification) => notification.attributes.incident_id,
    );
    expect(notified).toEqual([critical.incident_id]);
    const [firstCall] = requestsTo(BATCH, [critical]);
    const askedFirst =
      (firstCall?.requestData as { filters?: { value: string[] }[] } | undefined)?.filters?.[0]?.value ?? [];
    expect(askedFirst[0]).toBe(critical.incident_id);
    expect(askedFirst).toHaveLength(100); // the hint took one of the call's 100 places, not an extra call
    let archivedBacklog = 0;
    for (const incident of backlog) archivedBacklog += (await listKeys(aws, archivePrefix(incident))).length;
    expect(archivedBacklog).toBeLessThan(backlog.length);
  });

  it("serves a hint that arrives while the invocation is busy with single calls before the next of them", async () => {
    const large = emulator.control.addIncidents(
      Array.from({ length: 6 }, () => ({ severity: "low", alert_count: 80 })),
    );
    const [critical] = emulator.control.addIncidents([{ severity: "critical", alert_count: 2 }]);
    if (critical === undefined) throw new Error("no incident");
    // The hint reaches the priority queue just after the batch call: only the single-call phase can serve it.
    const hintAfterBatch = {
      getMultipleIncidentsExtraData: async (
        ids: readonly string[],
        options?: Parameters<CortexClient["getMultipleIncidentsExtraData"]>[1],
      ) => {
        const reply = await cortex.getMultipleIncidentsExtraData(ids, options);
        await aws.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: priorityQueueUrl,
            Entries: [{ Id: "0", MessageBody: JSON.stringify(messageFor(critical)) }],
          }),
        );
        return reply;
      },
    };
    const { handler } = enricher({ priorityQueueUrl, batchExtraData: hintAfterBatch });
    await sendVersions(aws, large.map(messageFor));
    const event = await receiveBatch(300);

    await time.run(() => handler(event, lambdaContext(time.now, TIMEOUT_MS)));

    expect(await drainNotifications(aws)).toHaveLength(1);
    const singles = requestsTo(SINGLE).filter((request) => request.status === 200);
    const ids = singles.map((request) =>
      String((request.requestData as { incident_id?: unknown }).incident_id),
    );
    const largeIds = new Set(large.map((incident) => incident.incident_id));
    // The critical incident's call came before the last of the large incidents' completion calls.
    expect(ids.indexOf(critical.incident_id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(critical.incident_id)).toBeLessThan(ids.findLastIndex((id) => largeIds.has(id)));
  });

  it("fails the messages in batch mode on a tenant without the endpoint, saying to change the mode", async () => {
    emulator.control.setFaults({ withoutBatchEndpoint: true });
    const { handler } = enricher({ mode: "batch" });
    const incidents = emulator.control.addIncidents(2);
    await sendVersions(aws, incidents.map(messageFor));
    const event = await receiveBatch(300);

    const response = await time.run(() => handler(event, lambdaContext(time.now, TIMEOUT_MS)));

    expect(response.batchItemFailures).toHaveLength(2);
    expect(requestsTo(SINGLE, incidents)).toEqual([]);
  });

  it.each([BATCH, SINGLE] as const)("loses nothing in a storm of 429s on %s", async (endpoint) => {
    const since = time.now();
    const { handler } = enricher();
    const incidents = emulator.control.addIncidents(
      Array.from({ length: 30 }, (_, index) => ({ alert_count: index < 3 ? 80 : 2 })),
    );
    await sendVersions(aws, incidents.map(messageFor));
    emulator.control.setFaults({ throttleBurst: { count: 4, endpoint } });

    await time.run(() => drain(handler));

    for (const incident of incidents) {
      const { alerts } = await archivedAlerts(incident);
      expect(alerts).toHaveLength(incident.alert_count);
    }
    const storm = emulator.control.requests().filter((request) => request.time >= since);
    expect(storm.filter((request) => request.fault === "throttleBurst")).toHaveLength(4);
    expect(storm.filter((request) => request.reason?.includes("rate limit"))).toEqual([]);
  });

  it("confirms an id the batch reply does not hold with the single call before recording it as not found", async () => {
    const { handler, recorded } = enricher();
    const [real] = emulator.control.addIncidents(1);
    if (real === undefined) throw new Error("no incident");
    const ghost = { ...real, incident_id: "990001" };
    await sendVersions(aws, [messageFor(real), messageFor(ghost)]);

    await time.run(() => drain(handler));

    expect(await listKeys(aws, archivePrefix(real))).toHaveLength(1);
    expect(recorded.total(EnricherMetric.BatchAbsent)).toBe(1);
    expect(requestsTo(SINGLE, [ghost]).length).toBeGreaterThanOrEqual(1);
    const state = await readIncidentState(aws.s3, aws.bucket, ghost.incident_id);
    expect(state?.record.not_found?.modification_time).toBe(ghost.modification_time);
  });

  it("archives the newer version when the incident changed between poll and fetch, once, with duplicates", async () => {
    const { handler } = enricher();
    const [incident] = emulator.control.addIncidents([{ severity: "low", alert_count: 2 }]);
    if (incident === undefined) throw new Error("no incident");
    const polled = messageFor(incident);
    await time.sleep(1_000);
    const changed = emulator.control.modifyIncident(incident.incident_id, { severity: "critical" });
    // The old version twice (at-least-once delivery) and the new one.
    await sendVersions(aws, [polled, polled, messageFor(changed)]);

    await time.run(() => drain(handler));

    expect(await listKeys(aws, archivePrefix(incident))).toEqual([
      `${archivePrefix(incident)}${changed.modification_time}.json.gz`,
    ]);
    expect(await drainNotifications(aws)).toHaveLength(1);
    expect(requestsTo(BATCH, [incident]).filter((request) => request.status === 200)).toHaveLength(1);
  });

  it("archives a batch element that breaks the schema raw and flagged, and the others as usual", async () => {
    const { handler, recorded } = enricher();
    const incidents = emulator.control.addIncidents(6);
    await sendVersions(aws, incidents.map(messageFor));
    emulator.control.setFaults({ schemaViolationRate: { rate: 1, endpoint: BATCH } });

    await time.run(() => drain(handler));

    for (const incident of incidents) expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
    // The emulator breaks the first element: a string total_count (archived, flagged), or no incident id
    // (kept in quarantine, and the incident fetched by the single call).
    const flagged = recorded.total(EnricherMetric.SchemaWarnings);
    const unmatched = recorded.total(EnricherMetric.BatchElementsUnmatched);
    expect(flagged + unmatched).toBeGreaterThanOrEqual(1);
    if (unmatched > 0) expect(await listKeys(aws, "state/quarantine/")).not.toEqual([]);
  });
});

describe("how batch mode spends the single endpoint's slots", () => {
  /** Virtual ms between two single calls of one instance: the budget shared by max concurrency 2. */
  const singleInterval = () => paceInterval(BUDGET, 2);

  it("starts the single call of an incident the batch cut while the rest of the batch is still being archived", async () => {
    const [large] = emulator.control.addIncidents([{ severity: "low", alert_count: 120 }]);
    const normal = emulator.control.addIncidents(
      Array.from({ length: 30 }, () => ({ severity: "low", alert_count: 2 })),
    );
    if (large === undefined) throw new Error("no incident");
    const last = normal.at(-1);
    // The archive write of one ordinary incident is held until the cut incident's single call starts (or,
    // if the single phase waited for the whole batch, until 5 real seconds have passed).
    let singleCallStarted: () => void = () => {};
    const started = new Promise<"single call">((resolve) => {
      singleCallStarted = () => resolve("single call");
    });
    let released: string | undefined;
    const gate = "hold-one-archive-write";
    aws.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = String((args.input as { Key?: string }).Key);
        if (context.commandName === "PutObjectCommand" && last && key.startsWith(archivePrefix(last))) {
          const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5_000));
          released ??= await Promise.race([started, timeout]);
        }
        return next(args);
      },
      { step: "initialize", name: gate },
    );
    try {
      const { handler } = enricher({
        extraData: {
          getIncidentExtraData: (id, options) => {
            singleCallStarted();
            return cortex.getIncidentExtraData(id, options);
          },
        },
      });
      await sendVersions(aws, [large, ...normal].map(messageFor));
      await time.run(() => drain(handler));
    } finally {
      aws.s3.middlewareStack.remove(gate);
    }

    expect(released).toBe("single call");
    expect((await archivedAlerts(large)).metadata["alerts-complete"]).toBe("true");
    for (const incident of normal) expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
  });

  it("holds the single slot from the invocation's start, so it ends without waiting out its last single call", async () => {
    const { handler } = enricher();
    const [large] = emulator.control.addIncidents([{ severity: "low", alert_count: 120 }]);
    if (large === undefined) throw new Error("no incident");
    await sendVersions(aws, [messageFor(large)]);
    const event = await receiveBatch(300);
    const startedAt = time.now();

    const response = await time.run(() => handler(event, lambdaContext(time.now, TIMEOUT_MS)));
    const endedAt = time.now();
    await acknowledge(aws, event, response);

    const [single] = requestsTo(SINGLE, [large]);
    if (single === undefined) throw new Error("no single call");
    const interval = singleInterval();
    expect(single.time - startedAt).toBeGreaterThanOrEqual(interval);
    expect(endedAt - single.time).toBeLessThan(interval);
    expect((await archivedAlerts(large)).metadata["alerts-complete"]).toBe("true");
  });

  it("hands the single calls beyond its share of a short batch back to the queue, for another instance", async () => {
    const { handler, recorded } = enricher();
    const large = emulator.control.addIncidents(
      Array.from({ length: 3 }, () => ({ severity: "low", alert_count: 120 })),
    );
    const normal = emulator.control.addIncidents(
      Array.from({ length: 5 }, () => ({ severity: "low", alert_count: 2 })),
    );
    await sendVersions(aws, [...large, ...normal].map(messageFor));

    const event = await receiveBatch(300);
    expect(event.Records).toHaveLength(8);
    const response = await time.run(() => handler(event, lambdaContext(time.now, TIMEOUT_MS)));
    await acknowledge(aws, event, response);

    // Max concurrency 2: this invocation makes two of the three single calls, the third goes back.
    expect(response.batchItemFailures).toEqual([]);
    expect(requestsTo(SINGLE, large).filter((request) => request.status === 200)).toHaveLength(2);
    expect(recorded.total(EnricherMetric.Requeued)).toBe(1);
    const handedBack = await receiveBatch(300);
    expect(handedBack.Records.map((record) => JSON.parse(record.body).incident_id)).toEqual([
      large.find((incident) => requestsTo(SINGLE, [incident]).length === 0)?.incident_id,
    ]);
    const other = enricher().handler;
    const second = await time.run(() => other(handedBack, lambdaContext(time.now, TIMEOUT_MS)));
    await acknowledge(aws, handedBack, second);
    for (const incident of large) {
      expect((await archivedAlerts(incident)).metadata["alerts-complete"]).toBe("true");
    }
    expect(requestsTo(SINGLE, large).filter((request) => request.status === 200)).toHaveLength(3);
    expect(requestsTo(BATCH, large).filter((request) => request.status === 200)).toHaveLength(1);
  });
});
