import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { incidentVersionMessage } from "../../functions/poller/enqueue.ts";
import { effectiveSeverity } from "../../functions/shared/cortex/vocabulary.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import { buildIncidentNotification, digestIncident } from "../../functions/shared/notification.ts";
import { type AwsFixture, drainNotifications, resetQueues, sendVersions, startAws } from "../support/aws.ts";
import { extraDataResult, incidentFields, scriptedEnricher, versionMessage } from "./fixtures.ts";

describe("effective severity", () => {
  it("is the higher of the detection's severity and the analyst's", () => {
    expect(effectiveSeverity("low", "high")).toBe("high");
    expect(effectiveSeverity("critical", "medium")).toBe("critical");
    expect(effectiveSeverity("medium", null)).toBe("medium");
    expect(effectiveSeverity("medium", "")).toBe("medium");
    // An unknown word ranks lowest: it never lowers what the API said.
    expect(effectiveSeverity("high", "whatever")).toBe("high");
  });

  it("travels in the queue message the poller builds", () => {
    const incident = incidentFields("31", { severity: "low", manual_severity: "critical" });
    expect(incidentVersionMessage(incident, 5).manual_severity).toBe("critical");
    expect(incidentVersionMessage(incidentFields("32"), 5).manual_severity).toBeNull();
  });
});

describe("a notification for an incident the analyst escalated", () => {
  const incident = incidentFields("893", { severity: "low", manual_severity: "high" });
  const sent = buildIncidentNotification({
    topicArn: "arn:aws:sns:us-east-1:000000000000:incidents",
    digest: digestIncident(incident, versionMessage(incident)),
    archive: { bucket: "b", key: "k" },
    firstSeenAt: 1_000,
  });
  const parts = JSON.parse(sent.Message ?? "") as { default: string; email: string; sms: string };

  it("carries the severity it was notified at in the subject and the filterable attribute", () => {
    expect(sent.Subject).toMatch(/^Cortex incident 893 \[HIGH\]/);
    expect(sent.MessageAttributes?.severity?.StringValue).toBe("high");
  });

  it("shows both severities to people and to programs", () => {
    expect(parts.email).toContain("Severity:      high (analyst high, Cortex low)");
    expect(parts.sms).toMatch(/^HIGH Cortex incident 893 \(new, 2 alerts, analyst high, Cortex low\)/);
    expect(parts.sms.length).toBeLessThanOrEqual(140);
    expect(JSON.parse(parts.default)).toMatchObject({
      severity: "low",
      manual_severity: "high",
      notified_severity: "high",
      first_seen_at: 1_000,
    });
  });
});

describe("the enricher and manual_severity", () => {
  let aws: AwsFixture;
  beforeAll(async () => {
    aws = await startAws();
  });
  afterAll(async () => aws?.close());
  beforeEach(() => resetQueues(aws));

  const enricher = () => scriptedEnricher(aws, {}, 120_000);

  it("notifies a low incident once the analyst raises it to high, and again when raised to critical", async () => {
    const run = enricher();
    const base = incidentFields("4100", { severity: "low", modification_time: run.clock.now() - 50_000 });
    const raised = { ...base, manual_severity: "high", modification_time: base.modification_time + 10_000 };
    const critical = {
      ...raised,
      manual_severity: "critical",
      modification_time: raised.modification_time + 10_000,
    };

    run.extraData.answer("4100", extraDataResult(base), extraDataResult(raised), extraDataResult(critical));
    await sendVersions(aws, [versionMessage(base)]);
    await run.invoke();
    expect(await drainNotifications(aws)).toEqual([]);

    await sendVersions(aws, [versionMessage(raised, { polled_at: run.clock.now() })]);
    await run.invoke();
    const first = await drainNotifications(aws);
    expect(first.map((n) => n.attributes.severity)).toEqual(["high"]);

    await sendVersions(aws, [versionMessage(critical, { polled_at: run.clock.now() })]);
    await run.invoke();
    const second = await drainNotifications(aws);
    expect(second.map((n) => n.attributes.severity)).toEqual(["critical"]);
    expect(JSON.parse(JSON.parse(second[0]?.body ?? "{}").default ?? "{}")).toMatchObject({
      reason: "escalation",
      previous_severity: "high",
      severity: "low",
      manual_severity: "critical",
    });
  });

  it("does not notify again when the analyst sets the severity the incident already had", async () => {
    const run = enricher();
    const high = incidentFields("4200", { severity: "high", modification_time: run.clock.now() - 50_000 });
    const confirmed = { ...high, manual_severity: "high", modification_time: high.modification_time + 1 };
    run.extraData.answer("4200", extraDataResult(high), extraDataResult(confirmed));
    await sendVersions(aws, [versionMessage(high)]);
    await run.invoke();
    await sendVersions(aws, [versionMessage(confirmed)]);
    await run.invoke();
    expect((await drainNotifications(aws)).map((n) => n.attributes.severity)).toEqual(["high"]);
  });

  it("reports each notification's time to alert from the poll that first read the version", async () => {
    const run = enricher();
    const incident = incidentFields("4300", {
      severity: "critical",
      modification_time: run.clock.now() - 9_000,
    });
    run.extraData.answer("4300", extraDataResult(incident));
    const polledAt = run.clock.now() - 7_000;
    await sendVersions(aws, [versionMessage(incident, { polled_at: polledAt })]);
    await run.invoke();
    // One call, archived and published at once on the idle pacer: the 7 s since the poll.
    expect(run.recorded.values(EnricherMetric.TimeToAlert)).toEqual([7]);
  });
});
