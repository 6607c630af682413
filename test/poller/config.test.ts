import { describe, expect, it } from "vitest";
import { PollerConfigError, readPollerConfig } from "../../functions/poller/config.ts";

const env = {
  ARCHIVE_BUCKET: "incident-archive",
  INCIDENT_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/incidents",
  CORTEX_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cortex",
  CORTEX_API_URL: "https://api-acme.xdr.eu.paloaltonetworks.com",
  CORTEX_PRODUCT: "xdr",
};

describe("poller configuration", () => {
  it("reads the environment with defaults: no extra filters, a one-day first-run look-back", () => {
    expect(readPollerConfig(env)).toEqual({
      bucket: "incident-archive",
      queueUrl: env.INCIDENT_QUEUE_URL,
      secretArn: env.CORTEX_SECRET_ARN,
      apiUrl: env.CORTEX_API_URL,
      product: "xdr",
      filters: [],
      firstRunLookbackMs: 24 * 3_600_000,
      priority: undefined,
      pollIntervalMs: 60_000,
      pollWindowMs: 60_000,
      lateWindowMs: 5 * 60_000,
    });
  });

  it("reads the late-arrival window in seconds, 0 turning it off, and names a malformed one", () => {
    expect(readPollerConfig({ ...env, LATE_ARRIVAL_WINDOW_SECONDS: "900" }).lateWindowMs).toBe(900_000);
    expect(readPollerConfig({ ...env, LATE_ARRIVAL_WINDOW_SECONDS: "0" }).lateWindowMs).toBe(0);
    expect(() => readPollerConfig({ ...env, LATE_ARRIVAL_WINDOW_SECONDS: "-1" })).toThrow(
      /LATE_ARRIVAL_WINDOW_SECONDS/,
    );
  });

  it("reads the priority lane and the poll loop's interval and window", () => {
    const config = readPollerConfig({
      ...env,
      PRIORITY_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/priority",
      NOTIFY_MIN_SEVERITY: "critical",
      POLL_INTERVAL_SECONDS: "20",
      POLL_WINDOW_SECONDS: "60",
    });
    expect(config.priority).toEqual({
      queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/priority",
      minSeverity: "critical",
    });
    expect([config.pollIntervalMs, config.pollWindowMs]).toEqual([20_000, 60_000]);
    expect(() => readPollerConfig({ ...env, POLL_INTERVAL_SECONDS: "soon" })).toThrow(
      /POLL_INTERVAL_SECONDS/,
    );
  });

  it("parses extra filters and the look-back in minutes", () => {
    const config = readPollerConfig({
      ...env,
      INCIDENT_FILTERS: '[{"field":"status","operator":"eq","value":"new"}]',
      FIRST_RUN_LOOKBACK_MINUTES: "30",
    });
    expect(config.filters).toEqual([{ field: "status", operator: "eq", value: "new" }]);
    expect(config.firstRunLookbackMs).toBe(30 * 60_000);
  });

  it("names the variable that is missing or malformed", () => {
    const { ARCHIVE_BUCKET: _, ...withoutBucket } = env;
    expect(() => readPollerConfig(withoutBucket)).toThrow(PollerConfigError);
    expect(() => readPollerConfig(withoutBucket)).toThrow(/ARCHIVE_BUCKET/);
    expect(() =>
      readPollerConfig({ ...env, INCIDENT_FILTERS: '[{"field":"status","operator":"in","value":["new"]}]' }),
    ).toThrow(/INCIDENT_FILTERS\[0\]: .*operator "in" is not allowed on "status"/);
    expect(() => readPollerConfig({ ...env, INCIDENT_FILTERS: "status=new" })).toThrow(
      /INCIDENT_FILTERS is not JSON/,
    );
    expect(() => readPollerConfig({ ...env, INCIDENT_FILTERS: '[{"field":"status"}]' })).toThrow(
      /INCIDENT_FILTERS\[0\]: must be an object \{field, operator, value\}/,
    );
  });
});
