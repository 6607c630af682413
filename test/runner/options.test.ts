import { describe, expect, it } from "vitest";
import { PipelineConfigError, parsePipelineConfig } from "../../lib/config.ts";
import { DEFAULTS, helpText, parseRunnerOptions, RunnerOptionsError } from "../../local/runner/options.ts";

const tenantEnv = {
  CORTEX_API_URL: "https://api-acme.xdr.eu.paloaltonetworks.com/",
  CORTEX_API_KEY: "s3cr3t-key-value",
  CORTEX_API_KEY_ID: "7",
  CORTEX_AUTH_TYPE: "Advanced",
};

function parseError(argv: string[], env: Record<string, string> = {}): RunnerOptionsError {
  try {
    parseRunnerOptions(argv, env);
  } catch (error) {
    if (error instanceof RunnerOptionsError) return error;
    throw error;
  }
  throw new Error("expected a RunnerOptionsError");
}

/** Every flag taking a number, and every other flag: the runner's whole command line, written once here. */
const NUMERIC_FLAGS = [
  "--poll-interval",
  "--batch-size",
  "--batching-window",
  "--max-concurrency",
  "--function-timeout",
  "--visibility-timeout",
  "--max-receive-count",
  "--budget-per-minute",
  "--batch-budget-per-minute",
  "--alerts-limit",
  "--lookback-minutes",
  "--late-window",
  "--seed",
  "--incidents",
  "--live-interval",
  "--late-listing",
];
const OTHER_FLAGS = [
  "--once",
  "--summary-json",
  "--out",
  "--events-out",
  "--mode",
  "--notify-min-severity",
  "--filters",
  "--product",
  "--log-level",
  "--help",
];

describe("parseRunnerOptions", () => {
  it("runs the emulator and the embedded endpoint with the documented defaults when given nothing", () => {
    const options = parseRunnerOptions([], {});
    expect(options).toMatchObject({
      help: false,
      once: false,
      summaryJsonPath: undefined,
      outDir: "./incident-archive",
      pollIntervalSeconds: DEFAULTS.pollIntervalSeconds,
      mode: "auto",
      batchSize: 100,
      batchingWindowSeconds: 10,
      maxConcurrency: 2,
      maxReceiveCount: 5,
      budgetPerMinute: 10,
      product: "xdr",
      logLevel: "WARN",
      filters: [],
      cortex: { kind: "emulator", seed: DEFAULTS.seed, incidents: DEFAULTS.incidents },
      awsEndpointUrl: undefined,
    });
    // Sized like the stack: one batch slot and ten single slots, one every 12 s per instance
    // (2 instances share 10/min on each endpoint), plus 60 s.
    expect(options.functionTimeoutSeconds).toBe(192);
    // Lambda's rule of thumb, applied by default.
    expect(options.visibilityTimeoutSeconds).toBe(6 * 192);
  });

  it("keeps the first version's sizes in single mode, and refuses a large batch without a window", () => {
    const single = parseRunnerOptions(["--mode", "single"], {});
    expect(single).toMatchObject({ batchSize: 5, batchingWindowSeconds: 0, functionTimeoutSeconds: 120 });
    expect(() => parseRunnerOptions(["--batch-size", "50", "--batching-window", "0"], {})).toThrow(
      /--batch-size 50 needs a --batching-window above 0/,
    );
    expect(() => parseRunnerOptions(["--mode", "turbo"], {})).toThrow(/mode/);
  });

  it("reads every flag", () => {
    const options = parseRunnerOptions(
      [
        "--once",
        "--summary-json",
        "out/summary.json",
        "--out",
        "/tmp/archive",
        "--events-out",
        "/tmp/events.jsonl",
        "--poll-interval",
        "5",
        "--batch-size",
        "10",
        "--max-concurrency",
        "4",
        "--function-timeout",
        "20",
        "--visibility-timeout",
        "30",
        "--max-receive-count",
        "3",
        "--budget-per-minute",
        "600",
        "--alerts-limit",
        "50",
        "--notify-min-severity",
        "critical",
        "--lookback-minutes",
        "60",
        "--filters",
        '[{"field":"status","operator":"eq","value":"new"}]',
        "--product",
        "xpanse",
        "--log-level",
        "debug",
        "--seed",
        "7",
        "--incidents",
        "3",
        "--live-interval",
        "0",
      ],
      {},
    );
    expect(options).toMatchObject({
      once: true,
      summaryJsonPath: "out/summary.json",
      outDir: "/tmp/archive",
      eventsOutPath: "/tmp/events.jsonl",
      pollIntervalSeconds: 5,
      batchSize: 10,
      maxConcurrency: 4,
      functionTimeoutSeconds: 20,
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 3,
      budgetPerMinute: 600,
      alertsLimit: 50,
      notifyMinSeverity: "critical",
      lookbackMinutes: 60,
      filters: [{ field: "status", operator: "eq", value: "new" }],
      product: "xpanse",
      logLevel: "DEBUG",
      cortex: { kind: "emulator", seed: 7, incidents: 3 },
      liveIntervalSeconds: 0,
    });
  });

  it("uses a real tenant when all four CORTEX_* variables are set", () => {
    const options = parseRunnerOptions([], { ...tenantEnv, AWS_ENDPOINT_URL: "http://127.0.0.1:4566" });
    expect(options.cortex).toEqual({
      kind: "tenant",
      url: "https://api-acme.xdr.eu.paloaltonetworks.com",
      apiKey: "s3cr3t-key-value",
      apiKeyId: "7",
      authType: "advanced",
    });
    expect(options.awsEndpointUrl).toBe("http://127.0.0.1:4566");
  });

  it("names exactly the missing CORTEX_* variables, and never echoes the key", () => {
    const error = parseError([], {
      CORTEX_API_URL: tenantEnv.CORTEX_API_URL,
      CORTEX_API_KEY: "s3cr3t-key-value",
    });
    expect(error.message).toContain("missing: CORTEX_API_KEY_ID, CORTEX_AUTH_TYPE");
    expect(error.message).not.toContain("s3cr3t");
  });

  it("rejects an unknown auth type and a URL that is not http(s)", () => {
    expect(parseError([], { ...tenantEnv, CORTEX_AUTH_TYPE: "basic" }).message).toContain(
      "CORTEX_AUTH_TYPE must be one of standard, advanced",
    );
    expect(parseError([], { ...tenantEnv, CORTEX_API_URL: "ftp://x" }).message).toContain("CORTEX_API_URL");
    expect(parseError([], { AWS_ENDPOINT_URL: "not a url" }).message).toContain("AWS_ENDPOINT_URL");
  });

  it("names CORTEX_API_URL when it breaks the client's rule: https, or http only to a loopback host", () => {
    const message = parseError([], { ...tenantEnv, CORTEX_API_URL: "http://example.com" }).message;
    expect(message).toMatch(/^CORTEX_API_URL: Cortex base URL must use https/);
    expect(message).not.toContain("s3cr3t");
    // A stand-alone emulator (npm run emulator) on loopback is still allowed.
    const local = parseRunnerOptions([], { ...tenantEnv, CORTEX_API_URL: "http://127.0.0.1:8080" });
    expect(local.cortex).toMatchObject({ kind: "tenant", url: "http://127.0.0.1:8080" });
  });

  it("names the flag for a negative number, for every numeric flag, rather than Node's 'ambiguous'", () => {
    for (const flag of NUMERIC_FLAGS) {
      for (const value of ["-1", "-0.5"]) {
        const message = parseError([flag, value]).message;
        expect(message, `${flag} ${value}`).toContain(flag);
        expect(message, `${flag} ${value}`).not.toContain("ambiguous");
      }
    }
    // The joined form keeps working, and a dash-leading non-number is still a flag.
    expect(parseError(["--budget-per-minute=-1"]).message).toContain("--budget-per-minute");
    expect(parseError(["--out", "--once"]).message).toContain("ambiguous");
  });

  it("refuses emulator-only flags with a real tenant instead of silently ignoring them", () => {
    expect(parseError(["--incidents", "3"], tenantEnv).message).toContain(
      "--seed, --incidents, --live-interval and --late-listing",
    );
  });

  it("explains bad flags and values, naming the flag", () => {
    expect(parseError(["--bogus"]).message).toMatch(/bogus.*--help/);
    expect(parseError(["--batch-size", "101"]).message).toContain("--batch-size");
    expect(parseError(["--max-concurrency", "1"]).message).toContain("--max-concurrency");
    expect(parseError(["--log-level", "loud"]).message).toContain("--log-level");
    expect(parseError(["--filters", "{not json"]).message).toContain(
      "--filters is not JSON: it must be a JSON array",
    );
    expect(parseError(["--filters", '[{"field":"status"}]']).message).toContain("--filters");
    expect(
      parseError(["--filters", '[{"field":"status","operator":"in","value":["new"]}]']).message,
    ).toContain('--filters[0]: Invalid get_incidents request: operator "in" is not allowed on "status"');
    expect(
      parseError(["--filters", '[{"field":"integration_source","operator":"in","value":["AWS"]}]']).message,
    ).toContain("Cortex Xpanse only");
    expect(parseError(["--batch-size", "10", "--budget-per-minute", "1"]).message).toContain(
      "more than Lambda's 900 s",
    );
  });

  it("takes --late-listing as the share of live changes the emulator lists late, and refuses it with a real tenant", () => {
    expect(parseRunnerOptions([], {}).lateListingShare).toBe(0);
    expect(parseRunnerOptions(["--late-listing", "0.25"], {}).lateListingShare).toBe(0.25);
    expect(parseError(["--late-listing", "1.5"]).message).toContain("--late-listing");
    const tenant = {
      CORTEX_API_URL: "https://api-acme.xdr.eu.paloaltonetworks.com",
      CORTEX_API_KEY: "k",
      CORTEX_API_KEY_ID: "1",
      CORTEX_AUTH_TYPE: "standard",
    };
    expect(() => parseRunnerOptions(["--late-listing", "0.2"], tenant)).toThrow(/--late-listing/);
  });

  it("takes --late-window in minutes (fractions allowed, 0 = off), five by default, an hour at most", () => {
    expect(parseRunnerOptions([], {}).lateWindowMs).toBe(5 * 60_000);
    expect(parseRunnerOptions(["--late-window", "0.5"], {}).lateWindowMs).toBe(30_000);
    expect(parseRunnerOptions(["--late-window", "0"], {}).lateWindowMs).toBe(0);
    expect(parseError(["--late-window", "61"]).message).toContain("--late-window");
  });

  it("documents every flag and environment variable in --help", () => {
    const help = helpText();
    for (const flag of [...NUMERIC_FLAGS, ...OTHER_FLAGS]) {
      expect(help).toContain(flag);
    }
    for (const variable of [
      "CORTEX_API_URL",
      "CORTEX_API_KEY",
      "CORTEX_API_KEY_ID",
      "CORTEX_AUTH_TYPE",
      "AWS_ENDPOINT_URL",
    ]) {
      expect(help).toContain(variable);
    }
    expect(parseRunnerOptions(["--help"], {}).help).toBe(true);
  });

  it("rejects a modification_time filter with the very message cdk synth gives", () => {
    const filter = { field: "modification_time", operator: "gte", value: 1 };
    const runner = parseError(["--filters", JSON.stringify([filter])]).message;
    let synth = "";
    try {
      parsePipelineConfig({
        cortexApiUrl: "https://api-acme.xdr.eu.paloaltonetworks.com",
        incidentFilters: [filter],
      });
    } catch (error) {
      if (error instanceof PipelineConfigError) synth = error.message;
    }
    const reason = "modification_time is the poller's cursor and cannot be filtered on here";
    expect(runner).toBe(`--filters[0]: ${reason}`);
    expect(synth).toContain(`incidentFilters[0]: ${reason}`);
  });
});
