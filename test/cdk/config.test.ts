// A wrong configuration must stop synth with one readable message that names each wrong field and says
// what is allowed; a right one must get the documented defaults.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import {
  ENRICHER_TIMEOUT_MARGIN_SECONDS,
  enricherTimeoutSeconds,
  loadPipelineConfigFile,
  PipelineConfigError,
  type PipelineConfigInput,
  parsePipelineConfig,
  scheduleIntervalMinutes,
} from "../../lib/config.ts";
import { IncidentExportStack } from "../../lib/incident-export-stack.ts";
import { PROJECT_ROOT } from "../../lib/pipeline-function.ts";
import { exampleConfig } from "./synth.ts";

const minimal: PipelineConfigInput = { cortexApiUrl: "https://api-acme.xdr.eu.paloaltonetworks.com" };

/** The PipelineConfigError thrown for this input (fails the test if none is thrown). */
function rejectionOf(input: unknown): PipelineConfigError {
  try {
    parsePipelineConfig(input, "test.json");
  } catch (error) {
    if (error instanceof PipelineConfigError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe("valid configuration", () => {
  it("accepts the shipped example", () => {
    expect(parsePipelineConfig(exampleConfig).cortexApiUrl).toBe(exampleConfig.cortexApiUrl);
  });

  it("fills the documented defaults when only the tenant URL is given", () => {
    const config = parsePipelineConfig(minimal);
    expect(config).toMatchObject({
      stackName: "CortexIncidentExport",
      product: "xdr",
      schedule: "rate(1 minute)",
      firstRunLookbackMinutes: 1440,
      lateArrivalWindowMinutes: 5,
      incidentFilters: [],
      alertsLimit: 1000,
      apiBudgetPerMinute: 10,
      batchApiBudgetPerMinute: 10,
      enricher: { mode: "auto", maxConcurrency: 2, batchSize: 100, batchingWindowSeconds: 10 },
      notifyMinSeverity: "high",
      notificationEmails: [],
      notificationSmsNumbers: [],
      archive: { storageClass: "GLACIER_IR", transitionAfterDays: 90 },
      logRetentionDays: 30,
      dlqMaxReceiveCount: 10,
    });
    expect(config.secretArn).toBeUndefined();
    expect(config.archive.expireAfterDays).toBeUndefined();
  });
});

describe("invalid configuration names the field and what is allowed", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      "a plain-http tenant URL",
      { cortexApiUrl: "http://api-acme.xdr.eu.paloaltonetworks.com" },
      "cortexApiUrl",
      /https/,
    ],
    ["an unknown product", { product: "xsoar" }, "product", /"xdr"\|"xpanse"/],
    ["a malformed secret ARN", { secretArn: "my-secret" }, "secretArn", /Secrets Manager secret ARN/],
    ["a schedule that is not rate() or cron()", { schedule: "every minute" }, "schedule", /rate\(1 minute\)/],
    ["alerts_limit above 1000", { alertsLimit: 1001 }, "alertsLimit", /<=1000/],
    [
      "an enricher concurrency below the AWS minimum of 2",
      { enricher: { maxConcurrency: 1 } },
      "enricher.maxConcurrency",
      />=2/,
    ],
    ["a batch size above 100", { enricher: { batchSize: 101 } }, "enricher.batchSize", /<=100/],
    [
      "an unknown enricher mode",
      { enricher: { mode: "turbo" } },
      "enricher.mode",
      /"auto"\|"batch"\|"single"/,
    ],
    [
      "an unknown severity threshold",
      { notifyMinSeverity: "urgent" },
      "notifyMinSeverity",
      /"low"\|"medium"\|"high"\|"critical"/,
    ],
    [
      "an invalid email address",
      { notificationEmails: ["soc@example.com", "not-an-email"] },
      "notificationEmails[1]",
      /email/i,
    ],
    [
      "an SMS number that is not E.164",
      { notificationSmsNumbers: ["0151 2345678"] },
      "notificationSmsNumbers[0]",
      /E\.164/,
    ],
    ["a DLQ receive count below 5", { dlqMaxReceiveCount: 3 }, "dlqMaxReceiveCount", />=5/],
    [
      "a log retention CloudWatch does not offer",
      { logRetentionDays: 10 },
      "logRetentionDays",
      /one of 1, 3, 5, 7, 14, 30/,
    ],
    [
      "an archive storage class that is not an archive class",
      { archive: { storageClass: "STANDARD" } },
      "archive.storageClass",
      /"GLACIER_IR"\|"GLACIER"\|"DEEP_ARCHIVE"/,
    ],
    [
      "expiry before the archive transition",
      { archive: { transitionAfterDays: 90, expireAfterDays: 30 } },
      "archive.expireAfterDays",
      /greater than transitionAfterDays/,
    ],
    [
      "a filter on the cursor field",
      { incidentFilters: [{ field: "modification_time", operator: "gte", value: 1 }] },
      "incidentFilters[0]",
      /modification_time is the poller's cursor/,
    ],
    [
      "a filter operator the API does not know",
      { incidentFilters: [{ field: "status", operator: "like", value: "new" }] },
      "incidentFilters[0]",
      /operator "like" is not allowed on "status"; allowed: eq, neq/,
    ],
    [
      "an operator the API does not allow on that field",
      { incidentFilters: [{ field: "status", operator: "in", value: ["new"] }] },
      "incidentFilters[0]",
      /operator "in" is not allowed on "status"; allowed: eq, neq/,
    ],
    [
      "an Xpanse-only filter on an XDR tenant",
      { incidentFilters: [{ field: "integration_source", operator: "in", value: ["AWS"] }] },
      "incidentFilters[0]",
      /Cortex Xpanse only/,
    ],
    [
      "a malformed topic KMS key ARN",
      { incidentTopicKmsKeyArn: "alias/aws/sns" },
      "incidentTopicKmsKeyArn",
      /KMS key ARN/,
    ],
    [
      "a malformed operations topic KMS key ARN",
      { operationsTopicKmsKeyArn: "alias/aws/sns" },
      "operationsTopicKmsKeyArn",
      /KMS key ARN/,
    ],
    [
      "a late-arrival window over an hour",
      { lateArrivalWindowMinutes: 61 },
      "lateArrivalWindowMinutes",
      /<=60/,
    ],
    ["a misspelled field", { alertLimit: 10 }, "(configuration)", /Unrecognized key: "alertLimit"/],
  ];

  for (const [what, change, field, allowed] of cases) {
    it(`rejects ${what}, naming ${field}`, () => {
      const error = rejectionOf({ ...minimal, ...change });
      expect(error.fields).toContain(field);
      const line = error.message.split("\n").find((l) => l.startsWith(`  - ${field}: `));
      expect(line, error.message).toMatch(allowed);
    });
  }

  it("rejects a missing tenant URL", () => {
    const error = rejectionOf({});
    expect(error.message).toMatch(/^ {2}- cortexApiUrl: required, must be an https:\/\/ URL/m);
  });

  it("shows the wrong value next to the field", () => {
    expect(rejectionOf({ ...minimal, product: "xsoar" }).message).toContain('(got "xsoar")');
  });

  it("lists every wrong field in one message, with the file it came from", () => {
    const error = rejectionOf({ ...minimal, alertsLimit: 0, dlqMaxReceiveCount: 1, product: "x" });
    expect(error.fields.sort()).toEqual(["alertsLimit", "dlqMaxReceiveCount", "product"]);
    expect(error.message).toMatch(/^Invalid cortex-incident-export configuration in test\.json:\n/);
    expect(error.message).toContain("config/README.md");
  });
});

describe("enricher timeout follows the API budget", () => {
  it("gives each call 60 x maxConcurrency / budget seconds, plus a margin", () => {
    const single = { mode: "single", batchingWindowSeconds: 0 } as const;
    const seconds = enricherTimeoutSeconds({
      apiBudgetPerMinute: 10,
      batchApiBudgetPerMinute: 10,
      enricher: { ...single, maxConcurrency: 2, batchSize: 5 },
    });
    expect(seconds).toBeGreaterThanOrEqual(5 * 12);
    expect(seconds).toBeLessThan(5 * 12 + 120);
    const doubled = enricherTimeoutSeconds({
      apiBudgetPerMinute: 10,
      batchApiBudgetPerMinute: 10,
      enricher: { ...single, maxConcurrency: 4, batchSize: 5 },
    });
    expect(doubled - seconds).toBe(5 * 12);
  });

  it("in batch mode sizes one batch call and the single calls of the incidents it cut, whatever the batch size", () => {
    const config = parsePipelineConfig({ ...minimal });
    expect(config.enricher).toMatchObject({ mode: "auto", batchSize: 100, batchingWindowSeconds: 10 });
    const seconds = enricherTimeoutSeconds(config);
    // 12 s for the batch slot, ten single slots of 12 s, and the margin.
    expect(seconds).toBe(12 + 10 * 12 + ENRICHER_TIMEOUT_MARGIN_SECONDS);
    const slowerBatch = enricherTimeoutSeconds({ ...config, batchApiBudgetPerMinute: 5 });
    expect(slowerBatch - seconds).toBe(12);
  });

  it("keeps the first version's sizes in single mode, and needs a batching window above 10 messages", () => {
    expect(parsePipelineConfig({ ...minimal, enricher: { mode: "single" } }).enricher).toMatchObject({
      batchSize: 5,
      batchingWindowSeconds: 0,
    });
    const error = rejectionOf({ ...minimal, enricher: { batchSize: 50, batchingWindowSeconds: 0 } });
    expect(error.fields).toEqual(["enricher.batchingWindowSeconds"]);
  });

  it("rejects a batch that cannot be paced within Lambda's 900 s, naming the fields and the largest batch that fits", () => {
    const error = rejectionOf({
      ...minimal,
      apiBudgetPerMinute: 10,
      enricher: { mode: "single", maxConcurrency: 20, batchSize: 10 },
    });
    expect(error.fields).toEqual(["enricher.batchSize", "enricher.maxConcurrency", "apiBudgetPerMinute"]);
    expect(error.message).toContain("one extra-data call every 120 s");
    expect(error.message).toMatch(/Lower enricher\.batchSize to 7 or less/);
  });
});

describe("synth with a bad configuration", () => {
  it("fails when the construct is built, before anything is bundled", () => {
    const app = new App();
    expect(
      () => new IncidentExportStack(app, "Bad", { config: { ...minimal, enricher: { maxConcurrency: 0 } } }),
    ).toThrow(/enricher\.maxConcurrency: Too small: expected number to be >=2 \(got 0\)/);
  });

  it("makes the CDK app exit 1 with the message, reading the file named by CORTEX_EXPORT_CONFIG", () => {
    const dir = mkdtempSync(join(tmpdir(), "cie-config-"));
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ ...minimal, notifyMinSeverity: "urgent" }));
    const run = spawnSync(join(PROJECT_ROOT, "node_modules/.bin/node"), ["bin/app.ts"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CORTEX_EXPORT_CONFIG: file, CDK_OUTDIR: join(dir, "cdk.out") },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`Invalid cortex-incident-export configuration in ${file}`);
    expect(run.stderr).toMatch(/- notifyMinSeverity: .*"high"/);
  });

  it("names the file when it cannot be read, and how to pass another", () => {
    expect(() => loadPipelineConfigFile("/nonexistent/config.json")).toThrow(
      /Cannot read the configuration file \/nonexistent\/config\.json \(ENOENT\).*-c config=<path>/,
    );
  });
});

describe("schedule interval", () => {
  it("reads the minutes between runs of a rate() schedule, and none for cron()", () => {
    expect(scheduleIntervalMinutes("rate(1 minute)")).toBe(1);
    expect(scheduleIntervalMinutes("rate(30 minutes)")).toBe(30);
    expect(scheduleIntervalMinutes("rate(2 hours)")).toBe(120);
    expect(scheduleIntervalMinutes("rate(1 day)")).toBe(1440);
    expect(scheduleIntervalMinutes("cron(0/2 * * * ? *)")).toBeUndefined();
  });
});
