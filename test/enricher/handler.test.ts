// The enricher handler end to end on the real embedded AWS endpoint (fauxqs: S3, SQS, SNS with an SQS
// subscriber counting notifications), with the Cortex side played by an in-test ExtraDataSource fake
// (ScriptedExtraData) so each failure mode can be produced exactly. The same scenarios against the
// Cortex emulator and the real client are in handler-emulator.test.ts. Time is an injected clock.

import { Logger } from "@aws-lambda-powertools/logger";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type EnricherDependencies,
  throttleBackoffSeconds,
} from "../../functions/enricher/create-handler.ts";
import type { IncidentSummary } from "../../functions/shared/cortex/api.ts";
import { CortexApiError } from "../../functions/shared/cortex/errors.ts";
import { readIncidentState } from "../../functions/shared/incident-state.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import { paceInterval } from "../../functions/shared/pacing.ts";
import {
  type AwsFixture,
  drainNotifications,
  listKeys,
  readObject,
  receiveEvent,
  sendVersions,
  startAws,
} from "../support/aws.ts";
import { lambdaContext } from "../support/lambda-context.ts";
import { silentLogger } from "../support/powertools.ts";
import {
  extraDataReply,
  extraDataResult,
  incidentFields,
  scriptedEnricher,
  versionMessage,
} from "./fixtures.ts";

const INTERVAL = paceInterval(10, 2);

let aws: AwsFixture;
beforeAll(async () => {
  aws = await startAws();
});
afterAll(async () => {
  await aws?.close();
});

/** Each test gets its own bucket prefix of incident ids so tests cannot see each other's state. */
let idBase = 1000;
function nextIds(count: number): string[] {
  idBase += 100;
  return Array.from({ length: count }, (_, index) => String(idBase + index));
}

const harness = (overrides: Partial<EnricherDependencies> = {}) => scriptedEnricher(aws, overrides);

/** Powertools Logger writes JSON lines to stdout (errors to stderr) in the Lambda runtime's format: collect them. */
function captureJsonLogs() {
  const lines: Record<string, unknown>[] = [];
  const capture = (chunk: unknown) => {
    for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture);
  return {
    lines,
    restore: () => {
      stdout.mockRestore();
      stderr.mockRestore();
    },
  };
}

async function queueDepth(sqs: SQSClient, queueUrl: string) {
  const attributes = (
    await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    )
  ).Attributes;
  return (
    Number(attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

beforeEach(async () => {
  // A test that fails midway, or leaves throttled messages in flight, must not leak into the next one.
  await aws.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.queueUrl }));
  await drainNotifications(aws);
});

describe("enricher handler on the embedded AWS endpoint", () => {
  it("archives a normal batch exactly as received and notifies the high and critical incidents", async () => {
    const run = harness();
    const [a = "", b = "", c = ""] = nextIds(3);
    const incidents = [
      incidentFields(a, { severity: "high" }),
      incidentFields(b, { severity: "medium" }),
      incidentFields(c, { severity: "critical", creation_time: Date.UTC(2026, 0, 2, 23, 30) }),
    ];
    for (const incident of incidents) run.extraData.answer(incident.incident_id, extraDataResult(incident));
    await sendVersions(
      aws,
      incidents.map((incident) => versionMessage(incident)),
    );

    const { failedIds, event } = await run.invoke();

    expect(event.Records).toHaveLength(3);
    expect(failedIds).toEqual([]);
    expect(await queueDepth(aws.sqs, aws.queueUrl)).toBe(0);
    const keyOfC = `incidents/2026/01/02/${c}/${incidents[2]?.modification_time}.json.gz`;
    expect(await listKeys(aws, `incidents/2026/01/02/${c}/`)).toEqual([keyOfC]);
    const archived = await readObject(aws, keyOfC);
    expect(JSON.parse(archived.body)).toEqual(extraDataReply(incidents[2] as IncidentSummary));
    expect(archived.contentType).toBe("application/json");
    expect(archived.contentEncoding).toBe("gzip");
    expect(archived.metadata).toEqual({
      "incident-id": c,
      severity: "critical",
      status: "new",
      "modification-time": String(incidents[2]?.modification_time),
      "fetch-time": expect.stringMatching(/^\d+$/),
      "alerts-returned": "2",
      "alerts-total": "2",
      "alerts-complete": "true",
      source: "get_incident_extra_data",
      "schema-valid": "true",
    });

    const notifications = await drainNotifications(aws);
    expect(notifications.map((notification) => notification.attributes.incident_id).sort()).toEqual(
      [a, c].sort(),
    );
    // fauxqs delivers the MessageStructure envelope as is; its `default` is what programs get from real SNS.
    const machine = JSON.parse(
      JSON.parse(notifications.find((n) => n.attributes.incident_id === c)?.body ?? "").default,
    );
    expect(machine.archive).toEqual({ bucket: aws.bucket, key: keyOfC });

    expect(run.extraData.calls.map((call) => call.incidentId)).toEqual([a, b, c]);
    expect(run.extraData.calls.every((call) => call.options?.alertsLimit === 1000)).toBe(true);
    expect(run.recorded.total(EnricherMetric.ExtraDataCalls)).toBe(3);
    expect(run.recorded.total(EnricherMetric.Archived)).toBe(3);
    expect(run.recorded.total(EnricherMetric.Notified)).toBe(2);
    // Each version was modified a minute before the first call; the calls are one interval apart.
    expect(run.recorded.values(EnricherMetric.EndToEndLagSeconds)).toEqual([
      60,
      60 + INTERVAL / 1000,
      60 + (2 * INTERVAL) / 1000,
    ]);
  });

  it("notifies a severity it cannot rank rather than dropping it, with a WARN naming the value and a metric", async () => {
    const logs = captureJsonLogs();
    const run = harness({ logger: new Logger({ serviceName: "enricher-test", logLevel: "WARN" }) });
    const [odd = "", high = "", low = ""] = nextIds(3);
    const incidents = [
      incidentFields(odd, { severity: "SEV_045_SEVERE" }),
      incidentFields(high, { severity: "SEV_040_HIGH" }),
      incidentFields(low, { severity: "sev_020_low" }),
    ];
    try {
      for (const incident of incidents) run.extraData.answer(incident.incident_id, extraDataResult(incident));
      await sendVersions(
        aws,
        incidents.map((incident) => versionMessage(incident)),
      );
      expect((await run.invoke()).failedIds).toEqual([]);
    } finally {
      logs.restore();
    }
    const notified = (await drainNotifications(aws)).map((n) => n.attributes.incident_id).sort();
    expect(notified).toEqual([odd, high].sort());
    expect(run.recorded.total(EnricherMetric.UnrankedSeverity)).toBe(1);
    const warnings = logs.lines.filter((line) => Array.isArray(line.unranked_severities));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: "WARN",
      incident_id: odd,
      unranked_severities: ["SEV_045_SEVERE"],
      judged_as: "high",
    });
  });

  it("archives an incident with 1,000 alerts in one object and says how many came back", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const incident = incidentFields(id, { alert_count: 1000, severity: "low" });
    run.extraData.answer(id, extraDataResult(incident, 1000));
    await sendVersions(aws, [versionMessage(incident)]);

    expect((await run.invoke()).failedIds).toEqual([]);
    const [key = ""] = await listKeys(aws, `incidents/2026/11/20/${id}/`);
    const archived = await readObject(aws, key);
    expect((JSON.parse(archived.body) as { alerts: { data: unknown[] } }).alerts.data).toHaveLength(1000);
    expect(archived.metadata["alerts-returned"]).toBe("1000");
    expect(archived.metadata["alerts-total"]).toBe("1000");
  });

  it("makes one API call and sends one notification for the same message delivered twice", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const incident = incidentFields(id, { severity: "critical" });
    run.extraData.answer(id, extraDataResult(incident));
    await sendVersions(aws, [versionMessage(incident), versionMessage(incident)]);

    expect((await run.invoke()).failedIds).toEqual([]);
    await sendVersions(aws, [versionMessage(incident)]); // and once more, later
    expect((await run.invoke()).failedIds).toEqual([]);

    expect(run.extraData.calls).toHaveLength(1);
    expect(await drainNotifications(aws)).toHaveLength(1);
    expect(run.recorded.total(EnricherMetric.Coalesced)).toBe(2);
  });

  it("skips versions older than the archive holds without calling the API", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const newer = incidentFields(id, { modification_time: 2_000_000 });
    run.extraData.answer(id, extraDataResult(newer));
    await sendVersions(aws, [versionMessage(newer)]);
    await run.invoke();
    await sendVersions(aws, [versionMessage(newer, { modification_time: 1_000_000 })]);
    expect((await run.invoke()).failedIds).toEqual([]);
    expect(run.extraData.calls).toHaveLength(1);
  });

  it("notifies once at the escalation from medium to critical, and not again when it drops back to high", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const medium = incidentFields(id, { severity: "medium", modification_time: 1_000 });
    const critical = incidentFields(id, { severity: "critical", modification_time: 2_000 });
    const high = incidentFields(id, { severity: "high", modification_time: 3_000 });
    run.extraData.answer(id, extraDataResult(medium), extraDataResult(critical), extraDataResult(high));

    await sendVersions(aws, [versionMessage(medium)]);
    await run.invoke();
    expect(await drainNotifications(aws)).toHaveLength(0);

    await sendVersions(aws, [versionMessage(critical)]);
    await run.invoke();
    const atEscalation = await drainNotifications(aws);
    expect(atEscalation).toHaveLength(1);
    expect(atEscalation[0]?.attributes.severity).toBe("critical");

    await sendVersions(aws, [versionMessage(high)]);
    await run.invoke();
    expect(await drainNotifications(aws)).toHaveLength(0);
    expect(run.extraData.calls).toHaveLength(3);
    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toHaveLength(3);
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record.notified?.severity).toBe("critical");
  });

  it("archives under the reply's modification_time when the API already has a newer version", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const queued = incidentFields(id, { modification_time: 5_000 });
    const current = incidentFields(id, { modification_time: 9_000, status: "under_investigation" });
    run.extraData.answer(id, extraDataResult(current));
    await sendVersions(aws, [versionMessage(queued)]);
    await run.invoke();

    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toEqual([
      `incidents/2026/11/20/${id}/9000.json.gz`,
    ]);
    // The newer version the poller will queue next is already archived: no second call.
    await sendVersions(aws, [versionMessage(current)]);
    await run.invoke();
    expect(run.extraData.calls).toHaveLength(1);
  });

  it("archives a reply that fails the schema raw, flagged in its metadata and a metric", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const incident = incidentFields(id);
    const reply = { ...extraDataReply(incident), alerts: { total_count: "many", data: "not a list" } };
    run.extraData.answer(id, {
      reply,
      schemaIssues: ["alerts.total_count: expected number, received string", "alerts.data: expected array"],
      incident,
      alertsReturned: 0,
      alertsTotal: null,
    });
    await sendVersions(aws, [versionMessage(incident)]);

    expect((await run.invoke()).failedIds).toEqual([]);
    const [key = ""] = await listKeys(aws, `incidents/2026/11/20/${id}/`);
    const archived = await readObject(aws, key);
    expect(JSON.parse(archived.body)).toEqual(reply);
    expect(archived.metadata["schema-valid"]).toBe("false");
    expect(archived.metadata["schema-issues"]).toBe(
      "alerts.total_count: expected number, received string; alerts.data: expected array",
    );
    expect(archived.metadata["alerts-total"]).toBe("unknown");
    expect(run.recorded.total(EnricherMetric.SchemaWarnings)).toBe(1);
  });

  it("keys a reply whose incident fails the schema by the times in the reply, not the queued ones", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const queued = incidentFields(id, { modification_time: 5_000 });
    // The tenant's current version, created on another day, arrives without its incident_id.
    const { incident_id: _dropped, ...incident } = incidentFields(id, {
      modification_time: 9_000,
      creation_time: Date.UTC(2026, 4, 17, 8, 0),
      severity: "critical",
    });
    const reply = { ...extraDataReply(queued), incident };
    run.extraData.answer(id, {
      reply,
      schemaIssues: ["incident.incident_id: Invalid input"],
      incident: undefined,
      alertsReturned: 2,
      alertsTotal: 2,
    });
    await sendVersions(aws, [versionMessage(queued)]);

    expect((await run.invoke()).failedIds).toEqual([]);
    const key = `incidents/2026/05/17/${id}/9000.json.gz`;
    expect(await listKeys(aws, `incidents/2026/05/17/${id}/`)).toEqual([key]);
    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toEqual([]);
    const archived = await readObject(aws, key);
    expect(JSON.parse(archived.body)).toEqual(reply);
    expect(archived.metadata).toMatchObject({
      "modification-time": "9000",
      severity: "critical",
      "schema-valid": "false",
    });
  });

  it("keeps a reply that is not JSON in quarantine and returns the message for a retry", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    const raw = '{"reply": {"incident": {"incident_id": "trunc';
    run.extraData.answer(
      id,
      new CortexApiError("unparseable_reply", "The Cortex API answered 200 with a body that is not JSON", {
        status: 200,
        rawBody: raw,
        attempts: 1,
      }),
    );
    const message = versionMessage(incidentFields(id));
    await sendVersions(aws, [message]);

    const { failedIds, event } = await run.invoke();
    expect(failedIds).toEqual([event.Records[0]?.messageId]);
    const [quarantined = ""] = await listKeys(aws, `state/quarantine/${id}/`);
    expect(quarantined).toMatch(new RegExp(`^state/quarantine/${id}/\\d+\\.txt\\.gz$`));
    expect((await readObject(aws, quarantined)).body).toBe(raw);
    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toEqual([]);
    expect(await queueDepth(aws.sqs, aws.queueUrl)).toBe(1);
  });

  it("still fails the message with the API's error when the quarantine cannot be written", async () => {
    // Each record logs through its own child logger: watch every Logger's error().
    const logged = vi.spyOn(Logger.prototype, "error");
    const run = harness();
    const send = aws.s3.send.bind(aws.s3);
    const denied = vi
      .spyOn(aws.s3, "send")
      .mockImplementation(((command: { input: { Key?: string } }) =>
        command instanceof PutObjectCommand && command.input.Key?.startsWith("state/quarantine/")
          ? Promise.reject(Object.assign(new Error("Access Denied"), { name: "AccessDenied" }))
          : send(command as never)) as never);
    try {
      const [id = ""] = nextIds(1);
      const notJson = new CortexApiError(
        "unparseable_reply",
        "Cortex API answered 200 without the JSON envelope",
        {
          status: 200,
          rawBody: "<html>maintenance</html>",
        },
      );
      run.extraData.answer(id, notJson);
      await sendVersions(aws, [versionMessage(incidentFields(id))]);
      const { failedIds } = await run.invoke();
      expect(failedIds).toHaveLength(1);
      const extras = logged.mock.calls.map(
        ([, extra]) => extra as { error?: unknown; quarantine_error?: Error },
      );
      expect(
        extras.some((extra) => extra.error === notJson && extra.quarantine_error?.name === "AccessDenied"),
      ).toBe(true);
    } finally {
      denied.mockRestore();
      logged.mockRestore();
    }
  });

  it("records an incident the API says does not exist, acknowledges it, and does not ask again", async () => {
    const run = harness();
    const [id = ""] = nextIds(1);
    run.extraData.answer(id, new CortexApiError("incident_not_found", `No incident ${id}`, { status: 500 }));
    const message = versionMessage(incidentFields(id));
    await sendVersions(aws, [message]);
    expect((await run.invoke()).failedIds).toEqual([]);
    await sendVersions(aws, [message]);
    expect((await run.invoke()).failedIds).toEqual([]);

    expect(run.extraData.calls).toHaveLength(1);
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record.not_found?.modification_time).toBe(
      message.modification_time,
    );
    expect(run.recorded.total(EnricherMetric.IncidentNotFound)).toBe(1);
  });

  it("fails only the incident whose call failed with a 5xx or a timeout, and carries on with the rest", async () => {
    const run = harness();
    const [a = "", b = "", c = ""] = nextIds(3);
    run.extraData
      .answer(a, new CortexApiError("server_error", "Cortex API answered 502", { status: 502, attempts: 3 }))
      .answer(b, new CortexApiError("timeout", "No answer from the Cortex API within 30 s", { attempts: 1 }))
      .answer(c, extraDataResult(incidentFields(c)));
    await sendVersions(
      aws,
      [a, b, c].map((id) => versionMessage(incidentFields(id))),
    );

    const { failedIds, event } = await run.invoke();
    const idOf = (messageId: string) =>
      JSON.parse(event.Records.find((r) => r.messageId === messageId)?.body ?? "").incident_id;
    expect(failedIds.map(idOf).sort()).toEqual([a, b].sort());
    expect(await listKeys(aws, `incidents/2026/11/20/${c}/`)).toHaveLength(1);
    // The 5xx used three requests: the pacer held three slots before the next call.
    const [first, second] = run.extraData.calls.map((call) => call.at);
    expect((second ?? 0) - (first ?? 0)).toBe(3 * INTERVAL);
  });

  it("stops the batch at a throttle, backs the rest off by receive count and makes no further call", async () => {
    const sqsSend = vi.spyOn(aws.sqs, "send");
    const run = harness();
    const ids = nextIds(5);
    let calls = 0;
    for (const id of ids) {
      run.extraData.answer(id, (incidentId) =>
        ++calls === 2
          ? new CortexApiError("throttled", "Too many requests (429)", { status: 429, attempts: 4 })
          : extraDataResult(incidentFields(incidentId)),
      );
    }
    await sendVersions(
      aws,
      ids.map((id) => versionMessage(incidentFields(id))),
    );

    const { failedIds, event } = await run.invoke();

    const idsInBatch = event.Records.map((record) => JSON.parse(record.body).incident_id);
    expect(run.extraData.calls.map((call) => call.incidentId)).toEqual(idsInBatch.slice(0, 2));
    expect(failedIds).toEqual(event.Records.slice(1).map((record) => record.messageId));
    const visibilityChanges = sqsSend.mock.calls
      .map(([command]) => command)
      .filter((command) => command instanceof ChangeMessageVisibilityBatchCommand)
      .flatMap((command) => (command as ChangeMessageVisibilityBatchCommand).input.Entries ?? []);
    expect(visibilityChanges.map((entry) => entry.ReceiptHandle)).toEqual(
      event.Records.slice(1).map((record) => record.receiptHandle),
    );
    expect(visibilityChanges.every((entry) => entry.VisibilityTimeout === 60)).toBe(true);
    expect(run.recorded.total(EnricherMetric.Throttles)).toBe(1);
    // The throttled one was tried; the three after it were not, and the metric says so.
    expect(run.recorded.total(EnricherMetric.NotStarted)).toBe(3);
    expect(await queueDepth(aws.sqs, aws.queueUrl)).toBe(4);
    sqsSend.mockRestore();
  });

  it("loses nothing and never calls faster than the budget through a storm of throttles", async () => {
    // Every third call is throttled; throttled messages come back at once (backoff 0) to keep the test short.
    const run = harness({ throttleBackoff: () => 0 });
    const ids = nextIds(12);
    let calls = 0;
    for (const id of ids) {
      run.extraData.answer(id, (incidentId) =>
        ++calls % 3 === 0
          ? new CortexApiError("throttled", "Rate limit exceeded (429)", { status: 429, attempts: 1 })
          : extraDataResult(incidentFields(incidentId)),
      );
    }
    await sendVersions(
      aws,
      ids.map((id) => versionMessage(incidentFields(id))),
    );

    for (let invocation = 0; invocation < 40 && (await queueDepth(aws.sqs, aws.queueUrl)) > 0; invocation++) {
      await run.invoke();
    }

    expect(await queueDepth(aws.sqs, aws.queueUrl)).toBe(0);
    for (const id of ids) expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toHaveLength(1);
    const starts = run.extraData.calls.map((call) => call.at);
    const gaps = starts.slice(1).map((start, index) => start - (starts[index] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(INTERVAL);
  });

  it("keeps calls at least the interval apart across back-to-back invocations and holds the last slot", async () => {
    const run = harness();
    const ids = nextIds(6);
    for (const id of ids) run.extraData.answer(id, extraDataResult(incidentFields(id)));
    const returnedAt: number[] = [];
    for (const batch of [ids.slice(0, 3), ids.slice(3)]) {
      await sendVersions(
        aws,
        batch.map((id) => versionMessage(incidentFields(id))),
      );
      await run.invoke();
      returnedAt.push(run.clock.now());
    }
    const starts = run.extraData.calls.map((call) => call.at);
    expect(starts).toHaveLength(6);
    const gaps = starts.slice(1).map((start, index) => start - (starts[index] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(INTERVAL);
    // Each invocation returned only once its last call's slot was over.
    expect(returnedAt[0]).toBeGreaterThanOrEqual((starts[2] ?? 0) + INTERVAL);
    expect(returnedAt[1]).toBeGreaterThanOrEqual((starts[5] ?? 0) + INTERVAL);
  });

  it("returns the messages it has no time for, unstarted, instead of running into the timeout", async () => {
    const run = harness({ deadlineMarginMs: 10_000 });
    const ids = nextIds(5);
    for (const id of ids) run.extraData.answer(id, extraDataResult(incidentFields(id)));
    for (const id of ids) await sendVersions(aws, [versionMessage(incidentFields(id))]);

    // 47 s of invocation, 10 s kept free: three 12.24 s slots end by 36.72 s, a fourth would end at 48.96 s.
    const { failedIds, event } = await run.invoke({ timeoutMs: 47_000 });
    expect(run.extraData.calls).toHaveLength(3);
    expect(failedIds).toEqual(event.Records.slice(3).map((record) => record.messageId));
    expect(run.recorded.total(EnricherMetric.NotStarted)).toBe(2);
    expect(run.clock.now() - (run.extraData.calls[0]?.at ?? 0)).toBeLessThanOrEqual(47_000);
  });

  it("stops the batch on an access problem with the client's actionable message", async () => {
    const run = harness();
    const ids = nextIds(3);
    const rejection = new CortexApiError(
      "bad_key",
      "Cortex API rejected the key (401). Check the API key and key id.",
      {
        status: 401,
      },
    );
    for (const id of ids) run.extraData.answer(id, rejection);
    for (const id of ids) await sendVersions(aws, [versionMessage(incidentFields(id))]);

    const { failedIds } = await run.invoke();
    expect(failedIds).toHaveLength(3);
    expect(run.extraData.calls).toHaveLength(1);
  });

  it("fails an invalid message body with its reason logged and processes the others", async () => {
    const logger = silentLogger();
    const logged = vi.spyOn(logger, "error");
    const run = harness({ logger });
    const [id = ""] = nextIds(1);
    run.extraData.answer(id, extraDataResult(incidentFields(id)));
    await sendVersions(aws, ["not json at all", { incident_id: id, modification_time: "yesterday" }]);
    await sendVersions(aws, [versionMessage(incidentFields(id))]);

    const { failedIds } = await run.invoke();
    expect(failedIds).toHaveLength(2);
    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toHaveLength(1);
    const reasons = logged.mock.calls.map(([, extra]) =>
      String((extra as { error?: Error })?.error?.message),
    );
    expect(reasons.some((reason) => reason.includes("body is not JSON"))).toBe(true);
    expect(reasons.some((reason) => reason.includes("modification_time"))).toBe(true);
    expect(reasons.every((reason) => reason.includes("dead-letter queue"))).toBe(true);
  });

  it("puts the right incident id on every log line about a message, even with instances sharing a logger", async () => {
    const { lines, restore } = captureJsonLogs();
    const logger = new Logger({ serviceName: "enricher-test", logLevel: "DEBUG" });
    const incidentOf = new Map<string, string>();
    try {
      // Two instances, as the local runner runs them, on one logger and at the same time.
      const instances = [harness({ logger }), harness({ logger })];
      const ids = nextIds(4);
      for (const [index, id] of ids.entries()) {
        const answer =
          index % 2 === 0
            ? extraDataResult(incidentFields(id, { severity: "critical" }))
            : new CortexApiError("server_error", "Cortex API answered 503", { status: 503 });
        for (const instance of instances) instance.extraData.answer(id, answer);
      }
      await sendVersions(
        aws,
        ids.map((id) => versionMessage(incidentFields(id, { severity: "critical" }))),
      );
      const events = [await receiveEvent(aws, 2), await receiveEvent(aws, 2)];
      for (const record of events.flatMap((event) => event.Records)) {
        incidentOf.set(record.messageId, JSON.parse(record.body).incident_id);
      }
      await Promise.all(
        instances.map((instance, index) =>
          instance.handler(events[index] ?? { Records: [] }, lambdaContext(instance.clock.now, 900_000)),
        ),
      );
    } finally {
      restore();
    }
    const perMessage = lines.filter((line) => line.message !== "Batch done");
    expect(perMessage.length).toBeGreaterThanOrEqual(6); // per message: archived and notified, or failed
    for (const line of perMessage) {
      expect(line.incident_id).toBe(incidentOf.get(String(line.message_id)));
    }
    expect(new Set(perMessage.map((line) => line.incident_id)).size).toBe(4);
    const summaries = lines.filter((line) => line.message === "Batch done");
    expect(summaries).toHaveLength(2);
    for (const summary of summaries) expect(summary.incident_id).toBeUndefined();
  });
});

describe("throttle backoff", () => {
  it("starts at one budget window and doubles with every receive, up to 15 minutes", () => {
    expect([1, 2, 3, 4, 5, 6, 50].map(throttleBackoffSeconds)).toEqual([60, 120, 240, 480, 900, 900, 900]);
  });
});
