// What exactly goes to SNS. The embedded endpoint (fauxqs) ignores MessageStructure and would deliver
// the JSON envelope as is, so these tests mock the SNS client (aws-sdk-client-mock) and inspect the
// PublishCommand input itself: subject, the three per-protocol messages, and the attributes.
import { PublishCommand, type PublishCommandInput, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  consoleBaseUrlFor,
  digestIncident,
  type IncidentNotificationInput,
  notificationDue,
  publishIncidentNotification,
} from "../../functions/shared/notification.ts";
import { incidentFields, versionMessage } from "./fixtures.ts";

const snsMock = mockClient(SNSClient);
const sns = new SNSClient({ region: "us-east-1" });
const TOPIC = "arn:aws:sns:us-east-1:000000000000:incidents";
const ARCHIVE = { bucket: "archive-bucket", key: "incidents/2026/11/20/893/1763683080000.json.gz" };

beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: "m-1" });
});
afterEach(() => snsMock.reset());

function inputFor(
  overrides: Parameters<typeof incidentFields>[1] = {},
  extra: Partial<IncidentNotificationInput> = {},
) {
  const incident = incidentFields("893", { severity: "critical", ...overrides });
  return {
    topicArn: TOPIC,
    digest: digestIncident(incident, versionMessage(incident)),
    archive: ARCHIVE,
    ...extra,
  } satisfies IncidentNotificationInput;
}

/** Publishes through the real publish function and returns the one PublishCommand input SNS received. */
async function published(input: IncidentNotificationInput): Promise<PublishCommandInput> {
  await publishIncidentNotification(sns, input);
  const calls = snsMock.commandCalls(PublishCommand);
  expect(calls).toHaveLength(1);
  const sent = calls[0]?.args[0].input;
  if (sent === undefined) throw new Error("no PublishCommand was sent");
  return sent;
}

function messages(sent: PublishCommandInput): { default: string; email: string; sms: string } {
  return JSON.parse(sent.Message ?? "");
}

const ASCII_ONE_LINE = /^[\x20-\x7e]+$/;

const NASTY_NAMES: Record<string, string> = {
  newlines: "Lateral movement\r\nfrom host-a\nto host-b\u2028and beyond",
  emoji: "🚨🔥 Ransomware 💀 on finance-server 🧨",
  "500 characters": `Credential dumping ${"x".repeat(482)}`,
  "right-to-left text": "\u202eهجوم على الخادم\u202c מתקפה על השרת",
  "control characters": "Name\u0000with\u0007controls\u001b[31m and a tab\there",
  "combining accents": "Cafe\u0301 cre\u0300me bru\u0302le\u0301e",
  "zero-width and fullwidth": "Ｐｈｉｓｈｉｎｇ\u200b campaign",
};

describe("SNS subject", () => {
  for (const [label, name] of Object.entries(NASTY_NAMES)) {
    it(`is one line of printable ASCII of fewer than 100 characters (SNS: "less than 100") for a name with ${label}`, async () => {
      const sent = await published(inputFor({ incident_name: name }));
      expect(sent.Subject).toMatch(ASCII_ONE_LINE);
      expect(sent.Subject?.length).toBeLessThan(100);
      expect(sent.Subject).toMatch(/^Cortex incident 893 \[CRITICAL\]/);
    });
  }

  it("keeps readable ASCII from the name and folds accents", async () => {
    const sent = await published(inputFor({ incident_name: NASTY_NAMES["combining accents"] }));
    expect(sent.Subject).toBe("Cortex incident 893 [CRITICAL]: Cafe creme brulee");
  });

  it("turns line breaks in the name into spaces", async () => {
    const sent = await published(inputFor({ incident_name: NASTY_NAMES.newlines }));
    expect(sent.Subject).toBe(
      "Cortex incident 893 [CRITICAL]: Lateral movement from host-a to host-b and beyond",
    );
  });

  it("drops the name rather than sending an empty or non-ASCII one when it has no Latin characters", async () => {
    const sent = await published(inputFor({ incident_name: "هجوم على الخادم" }));
    expect(sent.Subject).toBe("Cortex incident 893 [CRITICAL]");
  });

  it("cuts a 500-character name below SNS's limit (less than 100 characters) and marks the cut", async () => {
    const sent = await published(inputFor({ incident_name: NASTY_NAMES["500 characters"] }));
    expect(sent.Subject).toHaveLength(99);
    expect(sent.Subject?.endsWith("...")).toBe(true);
  });

  it("still has a subject when the incident has no name at all", async () => {
    const sent = await published(inputFor({ incident_name: null }));
    expect(sent.Subject).toBe("Cortex incident 893 [CRITICAL]");
  });
});

describe("SMS text", () => {
  for (const [label, name] of Object.entries(NASTY_NAMES)) {
    it(`is one ASCII line of at most 140 characters for a name with ${label}`, async () => {
      const sms = messages(await published(inputFor({ incident_name: name }))).sms;
      expect(sms).toMatch(ASCII_ONE_LINE);
      expect(sms.length).toBeLessThanOrEqual(140);
    });
  }

  it("leads with severity, id, status and alert count so the cut falls on the name", async () => {
    const sms = messages(await published(inputFor({ incident_name: NASTY_NAMES["500 characters"] }))).sms;
    expect(sms).toHaveLength(140);
    expect(sms.startsWith("CRITICAL Cortex incident 893 (new, 2 alerts): Credential dumping xxx")).toBe(true);
  });
});

describe("email text", () => {
  it("tells a person what happened and where to look", async () => {
    const email = messages(
      await published(
        inputFor({
          critical_severity_alert_count: 1,
          high_severity_alert_count: 3,
          med_severity_alert_count: 5,
          low_severity_alert_count: 0,
          alert_count: 9,
        }),
      ),
    ).email;
    expect(email).toContain("Incident:      893 - Suspicious activity on host-893");
    expect(email).toContain("Severity:      critical");
    expect(email).toContain("Status:        new");
    expect(email).toContain("Hosts:         host-a:0123456789abcdef, host-b:fedcba9876543210");
    expect(email).toContain("Users:         corp\\alice");
    expect(email).toContain("Alerts:        9 (critical 1, high 3, medium 5, low 0)");
    expect(email).toContain("MITRE tactics: TA0011 - Command and Control");
    expect(email).toContain("Spyware Phone Home Detection generated by PAN NGFW");
    expect(email).toContain(
      "Console:       https://tenant.xdr.us.paloaltonetworks.com/incident-view?caseId=893",
    );
    expect(email).toContain(`Archive:       s3://${ARCHIVE.bucket}/${ARCHIVE.key}`);
  });

  it("keeps emoji and right-to-left names readable but on one line and without bidi overrides", async () => {
    const rtl = messages(
      await published(inputFor({ incident_name: NASTY_NAMES["right-to-left text"] })),
    ).email;
    expect(rtl).toContain("Incident:      893 - هجوم على الخادم מתקפה על השרת\n");
    expect(rtl).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    snsMock.resetHistory();
    const emoji = messages(await published(inputFor({ incident_name: NASTY_NAMES.newlines }))).email;
    expect(emoji).toContain("Incident:      893 - Lateral movement from host-a to host-b and beyond\n");
  });

  it("links the console from the configured base URL when the reply has no usable xdr_url", async () => {
    const email = messages(
      await published(
        inputFor({ xdr_url: "javascript:alert(1)" }, { consoleBaseUrl: "https://tenant.example/" }),
      ),
    ).email;
    expect(email).toContain("Console:       https://tenant.example/incident-view?caseId=893");
    expect(email).not.toContain("javascript:");
  });

  it("says an escalation is an escalation", async () => {
    const email = messages(await published(inputFor({}, { previousSeverity: "high" }))).email;
    expect(email.split("\n")[0]).toBe("A Cortex incident escalated from high to critical.");
  });
});

describe("machine-readable default message", () => {
  it("is JSON with the incident summary and the archive bucket and key", async () => {
    const sent = await published(inputFor());
    expect(sent.MessageStructure).toBe("json");
    expect(Object.keys(messages(sent)).sort()).toEqual(["default", "email", "sms"]);
    const machine = JSON.parse(messages(sent).default);
    expect(machine).toMatchObject({
      reason: "threshold",
      previous_severity: null,
      incident_id: "893",
      incident_name: "Suspicious activity on host-893",
      severity: "critical",
      status: "new",
      alert_count: 2,
      alerts_by_severity: { critical: 0, high: 1, medium: 1, low: 0 },
      hosts: ["host-a:0123456789abcdef", "host-b:fedcba9876543210"],
      users: ["corp\\alice"],
      xdr_url: "https://tenant.xdr.us.paloaltonetworks.com/incident-view?caseId=893",
      archive: ARCHIVE,
    });
    expect(typeof machine.creation_time).toBe("number");
    expect(typeof machine.modification_time).toBe("number");
  });

  it("stays far below SNS's 256 KB limit for an incident with thousands of hosts and a huge description", async () => {
    const hosts = Array.from({ length: 5000 }, (_, index) => `host-${index}:${"f".repeat(32)}`);
    const sent = await published(inputFor({ hosts, host_count: 5000, description: "d".repeat(100_000) }));
    expect(Buffer.byteLength(sent.Message ?? "", "utf8")).toBeLessThan(64 * 1024);
    expect(JSON.parse(messages(sent).default).host_count).toBe(5000);
    expect(messages(sent).email).toContain("and 4950 more");
  });
});

describe("message attributes", () => {
  it("carries severity, status and incident_id as String and alert_count as Number for filter policies", async () => {
    const sent = await published(inputFor({ status: "under_investigation", alert_count: 1000 }));
    expect(sent.MessageAttributes).toEqual({
      severity: { DataType: "String", StringValue: "critical" },
      status: { DataType: "String", StringValue: "under_investigation" },
      incident_id: { DataType: "String", StringValue: "893" },
      alert_count: { DataType: "Number", StringValue: "1000" },
    });
  });

  it("sends a valid Number even when the reply does not say how many alerts there are", async () => {
    const incident = incidentFields("894", { severity: "high", alert_count: null });
    const sent = await published({
      topicArn: TOPIC,
      digest: digestIncident(incident, versionMessage(incident, { alert_count: null })),
      archive: ARCHIVE,
    });
    expect(sent.MessageAttributes?.alert_count).toEqual({ DataType: "Number", StringValue: "0" });
  });
});

describe("when a notification is due", () => {
  it("notifies high and critical by default, never lower", () => {
    expect(notificationDue("critical", "high", undefined)).toBe(true);
    expect(notificationDue("high", "high", undefined)).toBe(true);
    expect(notificationDue("medium", "high", undefined)).toBe(false);
    expect(notificationDue("informational", "high", undefined)).toBe(false);
    expect(notificationDue("unknown", "low", undefined)).toBe(false);
  });

  it("honours a configured threshold", () => {
    expect(notificationDue("medium", "medium", undefined)).toBe(true);
    expect(notificationDue("high", "critical", undefined)).toBe(false);
  });

  it("notifies again only when the severity rises above what was notified", () => {
    expect(notificationDue("high", "high", "high")).toBe(false);
    expect(notificationDue("high", "high", "critical")).toBe(false);
    expect(notificationDue("critical", "high", "high")).toBe(true);
  });
});

describe("console link base", () => {
  it("is the tenant console next to the API host", () => {
    expect(consoleBaseUrlFor("https://api-acme.xdr.eu.paloaltonetworks.com")).toBe(
      "https://acme.xdr.eu.paloaltonetworks.com",
    );
    expect(consoleBaseUrlFor("http://127.0.0.1:4010")).toBeUndefined();
    expect(consoleBaseUrlFor("not a url")).toBeUndefined();
  });
});
