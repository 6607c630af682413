// Change events: the kind of each change over one incident's version history, the detail's size limit
// whatever the incident holds, and what the publisher does when EventBridge refuses some entries.
// There is no EventBridge to run locally, so PutEvents is mocked with aws-sdk-client-mock here.
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ChangeEventPublisher,
  eventBridgeTarget,
  putEventsBatches,
} from "../../functions/shared/change-event-publisher.ts";
import {
  type ArchivedFacts,
  archivedFacts,
  buildChangeEventDetail,
  CHANGE_EVENT_DETAIL_TYPE,
  CHANGE_EVENT_SOURCE,
  type ChangeKind,
  changeEventEntry,
  classifyChange,
  DETAIL_MAX_BYTES,
  EVENT_ENTRY_MAX_BYTES,
  entrySize,
  isNewVersion,
} from "../../functions/shared/change-events.ts";
import { METRICS_NAMESPACE } from "../../functions/shared/metric-names.ts";
import { digestIncident } from "../../functions/shared/notification.ts";
import { incidentFields, versionMessage } from "../enricher/fixtures.ts";

const archive = { bucket: "archive-bucket", key: "incidents/2026/11/20/893/1795200000000.json.gz" };

function digestOf(overrides: Record<string, unknown>) {
  const incident = { ...incidentFields("893"), ...overrides } as ReturnType<typeof incidentFields>;
  return digestIncident(incident as unknown as Record<string, unknown>, versionMessage(incident));
}

function previousOf(facts: ArchivedFacts, modificationTime = 1) {
  return { modification_time: modificationTime, key: "k", archived_at: 1, ...facts };
}

describe("the change against the previous archived version", () => {
  it("names every kind over a history with escalation, de-escalation, resolution and reopening", () => {
    const history: [ArchivedFacts, ChangeKind][] = [
      [{ severity: "medium", status: "new" }, "created"],
      [{ severity: "medium", status: "under_investigation" }, "updated"],
      [{ severity: "high", status: "under_investigation" }, "escalated"],
      [{ severity: "high", manual_severity: "critical", status: "under_investigation" }, "escalated"],
      [{ severity: "high", manual_severity: null, status: "under_investigation" }, "deescalated"],
      [{ severity: "SEV_040_HIGH", status: "under_investigation" }, "updated"],
      [{ severity: "low", status: "under_investigation" }, "deescalated"],
      [{ severity: "low", status: "resolved_false_positive" }, "resolved"],
      [{ severity: "low", status: "resolved_known_issue" }, "updated"],
      [{ severity: "critical", status: "under_investigation" }, "reopened"],
      [{ severity: "critical", status: "STATUS_025_RESOLVED" }, "resolved"],
    ];
    let previous: ReturnType<typeof previousOf> | undefined;
    const kinds = history.map(([facts], i) => {
      const kind = classifyChange(previous, facts);
      previous = previousOf(facts, i + 1);
      return kind;
    });
    expect(kinds).toEqual(history.map(([, kind]) => kind));
  });

  it("calls a change against a version archived before its facts were kept an update, not a creation", () => {
    expect(
      classifyChange(
        { modification_time: 1, key: "k", archived_at: 1 },
        { severity: "critical", status: "new" },
      ),
    ).toBe("updated");
  });
});

describe("the event's detail", () => {
  it("carries what a rule routes on, the previous version and the archive object", () => {
    const digest = digestOf({ severity: "high", manual_severity: "critical", status: "under_investigation" });
    const detail = buildChangeEventDetail({
      digest,
      previous: previousOf({ severity: "high", status: "new" }, 1795100000000),
      alertsReturned: 2,
      alertsComplete: true,
      archive,
    });
    expect(detail).toMatchObject({
      change: "escalated",
      version_id: `893:${digest.modificationTime}`,
      severity: "critical",
      detected_severity: "high",
      manual_severity: "critical",
      status: "under_investigation",
      previous: { severity: "high", status: "new", modification_time: 1795100000000 },
      alert_count: 2,
      hosts: ["host-a:0123456789abcdef", "host-b:fedcba9876543210"],
      console_url: expect.stringContaining("caseId=893"),
      archive,
      truncated: [],
    });
    const entry = changeEventEntry(detail, new Date(0), "security-bus");
    expect(entry).toMatchObject({
      Source: CHANGE_EVENT_SOURCE,
      DetailType: CHANGE_EVENT_DETAIL_TYPE,
      EventBusName: "security-bus",
      Resources: [`arn:aws:s3:::${archive.bucket}/${archive.key}`],
    });
  });

  it("stays under the entry limit for a 1,000-alert incident on 1,000 hosts, and says what it shortened", () => {
    const hosts = Array.from({ length: 1000 }, (_, i) => `${"host-".repeat(60)}${i}:${"f".repeat(32)}`);
    const users = Array.from({ length: 1000 }, (_, i) => `CORP\\user-${i}-${"x".repeat(300)}`);
    const digest = digestOf({
      alert_count: 1000,
      critical_severity_alert_count: 1000,
      host_count: 1000,
      hosts,
      users,
      user_count: 1000,
      description: "d".repeat(200_000),
      incident_name: "n".repeat(10_000),
    });
    const detail = buildChangeEventDetail({
      digest,
      previous: undefined,
      alertsReturned: 1000,
      alertsComplete: true,
      archive,
    });
    const entry = changeEventEntry(detail, new Date());
    expect(Buffer.byteLength(entry.Detail)).toBeLessThanOrEqual(DETAIL_MAX_BYTES);
    expect(entrySize(entry)).toBeLessThan(EVENT_ENTRY_MAX_BYTES);
    expect(detail.truncated).toEqual(
      expect.arrayContaining(["description", "hosts", "incident_name", "users"]),
    );
    expect(detail.host_count).toBe(1000);
    expect(detail.hosts.length).toBeGreaterThan(0);
    expect(detail.hosts[0]).toBe(hosts[0]?.slice(0, 255).concat("…"));
    // Ten such events go out in requests that each stay within PutEvents' 256 KB.
    const batches = putEventsBatches(Array.from({ length: 10 }, () => entry));
    expect(batches.flat()).toHaveLength(10);
    for (const batch of batches)
      expect(batch.reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThanOrEqual(EVENT_ENTRY_MAX_BYTES);
  });
});

describe("the publisher", () => {
  const eventBridge = mockClient(EventBridgeClient);
  afterEach(() => eventBridge.reset());

  function publisher() {
    const logger = new Logger({ serviceName: "test", logLevel: "SILENT" });
    const errors = vi.spyOn(logger, "error");
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "test" });
    const counted = vi.spyOn(metrics, "addMetric");
    const sleeps: number[] = [];
    const target = eventBridgeTarget(new EventBridgeClient({ region: "us-east-1" }));
    const instance = new ChangeEventPublisher({
      target,
      logger,
      metrics,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    return { instance, errors, counted, sleeps };
  }

  function details(count: number) {
    return Array.from({ length: count }, (_, i) =>
      buildChangeEventDetail({
        digest: digestOf({ incident_id: String(900 + i), modification_time: 1795200000000 + i }),
        previous: undefined,
        alertsReturned: 2,
        alertsComplete: true,
        archive,
      }),
    );
  }

  it("sends 23 events as PutEvents of 10, 10 and 3, in order", async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      FailedEntryCount: 0,
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `e${i}` })),
    }));
    const { instance, counted } = publisher();
    for (const detail of details(23)) instance.add(detail);
    expect(await instance.flush()).toEqual({ sent: 23, failed: 0 });
    const calls = eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);
    expect(calls.map((entries) => entries.length)).toEqual([10, 10, 3]);
    const ids = calls.flat().map((entry) => JSON.parse(entry.Detail ?? "{}").incident_id);
    expect(ids).toEqual(Array.from({ length: 23 }, (_, i) => String(900 + i)));
    expect(counted).toHaveBeenCalledWith("ChangeEventsSent", "Count", 23);
    expect(await instance.flush()).toEqual({ sent: 0, failed: 0 });
  });

  it("retries only the entries PutEvents refused, until they are accepted", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: "a" },
          { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" },
          { EventId: "c" },
          { ErrorCode: "InternalFailure", ErrorMessage: "internal" },
        ],
      })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: "b" }, { ErrorCode: "InternalFailure" }] })
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: "d" }] });
    const { instance, errors, sleeps } = publisher();
    for (const detail of details(4)) instance.add(detail);
    expect(await instance.flush()).toEqual({ sent: 4, failed: 0 });
    const sentIds = eventBridge
      .commandCalls(PutEventsCommand)
      .map((call) =>
        (call.args[0].input.Entries ?? []).map((entry) => JSON.parse(entry.Detail ?? "{}").incident_id),
      );
    expect(sentIds).toEqual([["900", "901", "902", "903"], ["901", "903"], ["903"]]);
    expect(sleeps).toEqual([200, 400]);
    expect(errors).not.toHaveBeenCalled();
  });

  it("gives up after three attempts without throwing, and logs and counts what was lost", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ EventId: "a" }, { ErrorCode: "ThrottlingException" }],
      })
      .rejectsOnce(Object.assign(new Error("socket hang up"), { name: "TimeoutError" }))
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: "ThrottlingException" }] });
    const { instance, errors, counted } = publisher();
    for (const detail of details(2)) instance.add(detail);
    expect(await instance.flush()).toEqual({ sent: 1, failed: 1 });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(counted).toHaveBeenCalledWith("ChangeEventsFailed", "Count", 1);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("could not be sent"), {
      versions: ["901:1795200000001"],
      error_codes: ["ThrottlingException"],
      attempts: 3,
    });
  });

  it("survives EventBridge being unreachable altogether", async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error("getaddrinfo ENOTFOUND"), { name: "Error" }));
    const { instance, counted } = publisher();
    for (const detail of details(12)) instance.add(detail);
    await expect(instance.flush()).resolves.toEqual({ sent: 0, failed: 12 });
    expect(counted).toHaveBeenCalledWith("ChangeEventsFailed", "Count", 12);
  });
});

it("keeps the facts the next version is compared with", () => {
  expect(
    archivedFacts(
      digestOf({ severity: "SEV_040_HIGH", manual_severity: "critical", status: "STATUS_010_NEW" }),
    ),
  ).toEqual({
    severity: "high",
    manual_severity: "critical",
    status: "new",
  });
});

describe("one event per version", () => {
  const input = (previousTime: number | undefined) => ({
    digest: digestOf({ modification_time: 1795200000000 }),
    previous:
      previousTime === undefined ? undefined : previousOf({ severity: "high", status: "new" }, previousTime),
    alertsReturned: 50,
    alertsComplete: false,
    archive,
  });

  it("announces a version newer than the one the state had, and the first one", () => {
    expect(isNewVersion(input(undefined))).toBe(true);
    expect(isNewVersion(input(1795199999999))).toBe(true);
  });

  it("stays silent for the same version again (the complete object after a partial one) or an older one", () => {
    expect(isNewVersion(input(1795200000000))).toBe(false);
    expect(isNewVersion(input(1795200000001))).toBe(false);
  });
});
