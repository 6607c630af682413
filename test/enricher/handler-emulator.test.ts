import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EnricherDependencies } from "../../functions/enricher/create-handler.ts";
import type { IncidentSummary } from "../../functions/shared/cortex/api.ts";
import type { CortexClient } from "../../functions/shared/cortex/client.ts";
import { readIncidentState } from "../../functions/shared/incident-state.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import type { CortexEmulator, EmulatedIncident } from "../../local/emulator/index.ts";
import {
  type AwsFixture,
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
  emulatorCortex,
  enricherOn,
  startEmulatedTenant,
  versionMessage,
} from "./fixtures.ts";

const EXTRA_DATA = "get_incident_extra_data";
const WINDOW_MS = 60_000;
const BUDGET = 10;

const time = new VirtualTime();
let tenant: EmulatedTenant;
let aws: AwsFixture;
let emulator: CortexEmulator;
let cortex: CortexClient;
/** Same client, but giving up on an attempt after 150 ms: for the timeout scenario only. */
let impatientCortex: CortexClient;

beforeAll(async () => {
  tenant = await startEmulatedTenant(time, {
    seed: "enricher",
    rateLimits: { extraData: { requests: BUDGET, windowMs: WINDOW_MS } },
  });
  ({ aws, emulator, cortex } = tenant);
  impatientCortex = emulatorCortex(emulator, time, { requestTimeoutMs: 150 });
});
afterAll(async () => {
  await impatientCortex?.close();
  await tenant?.close();
});
beforeEach(async () => {
  emulator.control.clearFaults();
  await resetQueues(aws);
});

function enricher(overrides: Partial<EnricherDependencies> = {}) {
  return enricherOn(
    aws,
    { extraData: cortex, now: time.now, sleep: time.sleep },
    { budgetPerMinute: BUDGET, ...overrides },
  );
}

/**
 * Drives one handler instance the way Lambda's event source does until the queue looks empty.
 * `visibilityTimeout` 0 makes a failed message come straight back, standing in for its timeout passing.
 */
const drain = (handler: ReturnType<typeof enricher>["handler"], visibilitySeconds = 300) =>
  invokeUntilEmpty(aws, handler, () => lambdaContext(time.now, 900_000), {
    maxInvocations: 60,
    visibilitySeconds,
  });

function messageFor(incident: EmulatedIncident) {
  return versionMessage(incident as IncidentSummary, { polled_at: time.now() });
}

/**
 * Extra-data requests the emulator has answered, optionally only those for some incidents. Filter by
 * incident: a request the client gave up on is journaled when its late answer goes out, maybe mid-next-test.
 */
function extraDataRequests(incidents?: readonly EmulatedIncident[]) {
  const ids =
    incidents === undefined ? undefined : new Set(incidents.map((incident) => incident.incident_id));
  return emulator.control
    .requests()
    .filter((request) => request.endpoint === EXTRA_DATA)
    .filter(
      (request) =>
        ids === undefined || ids.has(String((request.requestData as { incident_id?: unknown })?.incident_id)),
    );
}

describe("enricher against the Cortex emulator", () => {
  it("archives a normal batch as the tenant sent it and notifies the high and critical incidents", async () => {
    const { handler, recorded } = enricher();
    const incidents = emulator.control.addIncidents(
      ["low", "medium", "high", "critical"].map((severity) => ({ severity, alert_count: 3 })),
    );
    await sendVersions(aws, incidents.map(messageFor));

    await time.run(() => drain(handler));

    for (const incident of incidents) {
      const keys = await listKeys(aws, archivePrefix(incident));
      expect(keys).toEqual([`${archivePrefix(incident)}${incident.modification_time}.json.gz`]);
      const archived = await readObject(aws, keys[0] ?? "");
      const reply = JSON.parse(archived.body);
      expect(reply.incident.incident_id).toBe(incident.incident_id);
      expect(reply.incident.incident_domain).toBe("DOMAIN_SECURITY"); // a field the documented shape lacks, kept
      expect(reply.alerts.data).toHaveLength(3);
      expect(archived.metadata["schema-valid"]).toBe("true");
    }
    const notified = (await drainNotifications(aws)).map((notification) => notification.attributes.severity);
    expect(notified.sort()).toEqual(["critical", "high"]);
    expect(extraDataRequests(incidents)).toHaveLength(4);
    expect(recorded.total(EnricherMetric.Archived)).toBe(4);
  });

  it("archives an incident with 1,000 alerts whole", async () => {
    const { handler } = enricher();
    const [incident] = emulator.control.addIncidents([{ severity: "low", alert_count: 1000 }]);
    if (incident === undefined) throw new Error("the emulator added no incident");
    await sendVersions(aws, [messageFor(incident)]);

    await time.run(() => drain(handler));

    const [key = ""] = await listKeys(aws, archivePrefix(incident));
    const archived = await readObject(aws, key);
    expect(JSON.parse(archived.body).alerts.data).toHaveLength(1000);
    expect(archived.metadata["alerts-returned"]).toBe("1000");
    expect(archived.metadata["alerts-total"]).toBe("1000");
    const request = extraDataRequests([incident]).at(-1)?.requestData as { alerts_limit?: number };
    expect(request.alerts_limit).toBe(1000);
  });

  it("loses nothing in a storm of 429s and never goes over the budget, with two concurrent instances", async () => {
    // Throttled messages come straight back (backoff 0) so the storm plays out within the test.
    const first = enricher({ throttleBackoff: () => 0 });
    const second = enricher({ throttleBackoff: () => 0 });
    const incidents = emulator.control.addIncidents(16);
    await sendVersions(aws, incidents.map(messageFor));
    await time.sleep(WINDOW_MS); // a fresh budget window, whatever earlier tests spent
    emulator.control.setFaults({ throttleBurst: { count: 8, endpoint: EXTRA_DATA } });

    await Promise.all([time.run(() => drain(first.handler)), time.run(() => drain(second.handler))]);

    for (const incident of incidents) expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
    const storm = extraDataRequests(incidents);
    expect(storm.filter((request) => request.fault === "throttleBurst")).toHaveLength(8);
    // One accepted call per incident: nothing fetched twice, nothing skipped.
    expect(storm.filter((request) => request.endpoint === EXTRA_DATA && request.status === 200)).toHaveLength(
      16,
    );
    // Apart from the injected burst, the tenant never had to throttle us: the budget was respected.
    expect(storm.filter((request) => request.reason === "extra data rate limit")).toEqual([]);
    expect(busiestWindow(extraDataRequests(), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    // ...and used: two instances together reach the full budget in a window.
    expect(busiestWindow(extraDataRequests(), WINDOW_MS)).toBeGreaterThanOrEqual(BUDGET - 1);
    expect(
      first.recorded.total(EnricherMetric.Throttles) + second.recorded.total(EnricherMetric.Throttles),
    ).toBeGreaterThan(0);
  });

  it("does not lose an incident after one transient not-found answer", async () => {
    const { handler, recorded } = enricher({ incidentLookup: cortex });
    const [incident] = emulator.control.addIncidents(1);
    if (incident === undefined) throw new Error("the emulator added no incident");
    await sendVersions(aws, [messageFor(incident)]);
    await time.sleep(WINDOW_MS);
    emulator.control.setFaults({ transientNotFound: 1 });

    await time.run(() => drain(handler, 0));

    expect(extraDataRequests([incident]).filter((r) => r.fault === "transientNotFound")).toHaveLength(1);
    expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
    const state = await readIncidentState(aws.s3, aws.bucket, incident.incident_id);
    expect(state?.record.not_found).toBeUndefined();
    expect(recorded.total(EnricherMetric.NotFoundUnconfirmed)).toBe(1);
    expect(recorded.total(EnricherMetric.IncidentNotFound)).toBe(0);
  });

  it("counts every request sent against the budget, retries included: truncated bodies with a tight budget meet no 429", async () => {
    const first = enricher();
    const second = enricher();
    const incidents = emulator.control.addIncidents(14);
    await sendVersions(aws, incidents.map(messageFor));
    await time.sleep(WINDOW_MS);
    emulator.control.setFaults({ truncatedBodyRate: { rate: 0.4, endpoint: EXTRA_DATA } });

    await Promise.all([time.run(() => drain(first.handler, 0)), time.run(() => drain(second.handler, 0))]);

    const sent = extraDataRequests(incidents);
    expect(sent.filter((request) => request.fault === "truncatedBody").length).toBeGreaterThan(2);
    expect(sent.filter((request) => request.status === 429)).toEqual([]);
    expect(busiestWindow(extraDataRequests(), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    for (const incident of incidents) expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
  });

  it("retries through 5xx answers and timeouts until every incident is archived", async () => {
    const { handler, recorded } = enricher();
    const incidents = emulator.control.addIncidents(3);
    await sendVersions(aws, incidents.map(messageFor));

    emulator.control.setFaults({ serverErrorRate: { rate: 1, endpoint: EXTRA_DATA } });
    const firstRound = await receiveEvent(aws, 10, 0);
    const failedOn5xx = await time.run(() => handler(firstRound, lambdaContext(time.now, 900_000)));
    expect(failedOn5xx.batchItemFailures).toHaveLength(3);

    emulator.control.clearFaults();
    emulator.control.setFaults({ latencyMs: { ms: 400, endpoint: EXTRA_DATA } });
    const impatient = enricher({ extraData: impatientCortex }); // gives up on an attempt after 150 ms
    const secondRound = await receiveEvent(aws, 10, 0);
    const failedOnTimeout = await time.run(() =>
      impatient.handler(secondRound, lambdaContext(time.now, 900_000)),
    );
    expect(failedOnTimeout.batchItemFailures).toHaveLength(3);

    emulator.control.clearFaults();
    await time.run(() => drain(handler, 0));

    for (const incident of incidents) expect(await listKeys(aws, archivePrefix(incident))).toHaveLength(1);
    const statuses = extraDataRequests(incidents).map((request) => request.status);
    expect(statuses).toContain(500);
    expect(recorded.total(EnricherMetric.Archived)).toBe(3);
  });

  it("archives a reply that breaks the documented schema raw, flagged", async () => {
    const { handler, recorded } = enricher();
    const [incident] = emulator.control.addIncidents(1);
    if (incident === undefined) throw new Error("the emulator added no incident");
    emulator.control.setFaults({ schemaViolationRate: { rate: 1, endpoint: EXTRA_DATA } });
    await sendVersions(aws, [messageFor(incident)]);

    await time.run(() => drain(handler));

    const [key = ""] = await listKeys(aws, archivePrefix(incident));
    const archived = await readObject(aws, key);
    expect(archived.metadata["schema-valid"]).toBe("false");
    expect(archived.metadata["schema-issues"]).toBeTruthy();
    expect(JSON.parse(archived.body)).toHaveProperty("incident");
    expect(recorded.total(EnricherMetric.SchemaWarnings)).toBe(1);
  });

  it("makes one API call and sends one notification for a message delivered twice", async () => {
    const { handler, recorded } = enricher();
    const [incident] = emulator.control.addIncidents([{ severity: "critical" }]);
    if (incident === undefined) throw new Error("the emulator added no incident");
    await sendVersions(aws, [messageFor(incident), messageFor(incident)]);

    await time.run(() => drain(handler));

    expect(extraDataRequests([incident])).toHaveLength(1);
    expect(await drainNotifications(aws)).toHaveLength(1);
    expect(recorded.total(EnricherMetric.Coalesced)).toBe(1);
  });

  it("notifies once, at the escalation from medium to critical", async () => {
    const { handler } = enricher();
    const [medium] = emulator.control.addIncidents([{ severity: "medium" }]);
    if (medium === undefined) throw new Error("the emulator added no incident");
    await sendVersions(aws, [messageFor(medium)]);
    await time.run(() => drain(handler));
    expect(await drainNotifications(aws)).toEqual([]);

    const critical = emulator.control.modifyIncident(medium.incident_id, { severity: "critical" });
    await sendVersions(aws, [messageFor(critical)]);
    await time.run(() => drain(handler));

    const notifications = await drainNotifications(aws);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]?.attributes).toMatchObject({
      incident_id: medium.incident_id,
      severity: "critical",
    });
    expect(JSON.parse(JSON.parse(notifications[0]?.body ?? "").default)).toMatchObject({
      reason: "threshold",
      severity: "critical",
    });
    expect(await listKeys(aws, archivePrefix(medium))).toHaveLength(2);
  });

  it("records an incident the tenant does not have and acknowledges it", async () => {
    const { handler } = enricher();
    const ghost = { ...emulator.control.addIncidents(1)[0], incident_id: "987654321" } as EmulatedIncident;
    await sendVersions(aws, [messageFor(ghost)]);

    await time.run(() => drain(handler));

    expect((await readIncidentState(aws.s3, aws.bucket, ghost.incident_id))?.record.not_found).toBeTruthy();
    expect(await listKeys(aws, archivePrefix(ghost))).toEqual([]);
  });
});
