// What fauxqs delivers to an SQS subscriber is checked for real; how SNS itself treats MessageStructure
// (fauxqs ignores it) is the reason the preview reads the email/sms parts of the structure.
import { describe, expect, it } from "vitest";
import {
  formatNotification,
  type NotificationPreview,
  renderNotification,
} from "../../local/runner/notifications.ts";
import { runnerTopicPerFile } from "./runner-topic.ts";

const runnerTopic = runnerTopicPerFile();

const structure = {
  default: JSON.stringify({ incident_id: "893", severity: "critical" }),
  email: "Incident 893 (critical) on host-1.\n\nOpen: https://tenant/incident-view?caseId=893\n",
  sms: "Cortex critical incident 893: Ransomware on host-1",
};

describe("notification previews", () => {
  it("shows the email (subject and body) and the SMS line of a structured publish, as fauxqs delivers it", async () => {
    const { publish, inbox, seen } = await runnerTopic();
    await publish({
      Message: JSON.stringify(structure),
      Subject: "[critical] Cortex incident 893: Ransomware on host-1",
      MessageAttributes: {
        severity: { DataType: "String", StringValue: "critical" },
        alert_count: { DataType: "Number", StringValue: "3" },
      },
    });
    expect(await inbox.drain()).toBe(1);
    expect(await inbox.drain()).toBe(0);

    expect(seen[0]).toEqual({
      subject: "[critical] Cortex incident 893: Ransomware on host-1",
      email: structure.email,
      sms: structure.sms,
      attributes: { severity: "critical", alert_count: "3" },
    });
    expect(formatNotification(seen[0] as NotificationPreview)).toEqual([
      "EMAIL  Subject: [critical] Cortex incident 893: Ransomware on host-1",
      "       | Incident 893 (critical) on host-1.",
      "       | ",
      "       | Open: https://tenant/incident-view?caseId=893",
      "SMS    Cortex critical incident 893: Ransomware on host-1",
    ]);
  });

  it("shows a plain publish (or the `default` text real SNS sends to SQS) as the email body, with no SMS line", () => {
    const envelope = (message: string) =>
      JSON.stringify({ Type: "Notification", Subject: "hello", Message: message, MessageAttributes: {} });
    expect(renderNotification(envelope("plain text"))).toEqual({
      subject: "hello",
      email: "plain text",
      sms: undefined,
      attributes: {},
    });
    expect(renderNotification(envelope(JSON.stringify({ default: "machine json" }))).email).toBe(
      "machine json",
    );
    // A raw-delivery body (no envelope) is shown as it is.
    expect(renderNotification("raw body")).toEqual({
      subject: undefined,
      email: "raw body",
      sms: undefined,
      attributes: {},
    });
  });
});
