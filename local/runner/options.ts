// The local runner's command line: flags and environment variables, validated into one RunnerOptions object.
import { parseArgs } from "node:util";
import { z } from "zod";
import { DEFAULT_LATE_WINDOW_MINUTES, MAX_LATE_WINDOW_MINUTES } from "../../functions/poller/late-window.ts";
import type {
  CortexAuthType,
  CortexProduct,
  IncidentFilterInput,
} from "../../functions/shared/cortex/api.ts";
import { validateCortexBaseUrl } from "../../functions/shared/cortex/client.ts";
import { CortexConfigurationError } from "../../functions/shared/cortex/errors.ts";
import {
  IncidentFilterConfigError,
  parseIncidentFiltersJson,
} from "../../functions/shared/cortex/filter-config.ts";
import {
  CORTEX_AUTH_TYPES,
  CORTEX_PRODUCTS,
  DEFAULT_NOTIFY_MIN_SEVERITY,
  isCortexAuthType,
  NOTIFY_SEVERITIES,
  type NotifySeverity,
} from "../../functions/shared/cortex/vocabulary.ts";
import { ENRICHER_MODES, type EnricherMode } from "../../functions/shared/lambda-environment.ts";
import { type EnricherSizingInput, enricherSizing, LAMBDA_MAX_TIMEOUT_SECONDS } from "../../lib/config.ts";

export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "SILENT"] as const;
export type RunnerLogLevel = (typeof LOG_LEVELS)[number];

/** A real tenant, given through the four CORTEX_* variables. The key is never printed. */
export interface TenantTarget {
  kind: "tenant";
  url: string;
  apiKey: string;
  apiKeyId: string;
  authType: CortexAuthType;
}

/** The embedded Cortex tenant emulator. */
export interface EmulatorTarget {
  kind: "emulator";
  seed: number;
  incidents: number;
}

export interface RunnerOptions {
  help: boolean;
  once: boolean;
  summaryJsonPath: string | undefined;
  outDir: string;
  /** --events-out: one JSON line per change event the enricher would send to EventBridge (unset: none). */
  eventsOutPath: string | undefined;
  pollIntervalSeconds: number;
  /** auto (default), batch or single: as the stack's enricher.mode. */
  mode: EnricherMode;
  batchSize: number;
  /** Seconds the event source gathers messages (10 with the batch endpoint, 0 in single mode). */
  batchingWindowSeconds: number;
  maxConcurrency: number;
  functionTimeoutSeconds: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  budgetPerMinute: number;
  batchBudgetPerMinute: number;
  alertsLimit: number;
  notifyMinSeverity: NotifySeverity;
  lookbackMinutes: number;
  /** The poller's late-arrival window in ms (0 = off). */
  lateWindowMs: number;
  filters: IncidentFilterInput[];
  product: CortexProduct;
  logLevel: RunnerLogLevel;
  /** Emulator live mode: seconds between arrivals (one new, one modified incident); 0 = off. */
  liveIntervalSeconds: number;
  /** Emulator: share (0-1) of live changes get_incidents lists late (LATE_LISTING_DELAY_MS); 0 = off. */
  lateListingShare: number;
  cortex: TenantTarget | EmulatorTarget;
  /** AWS_ENDPOINT_URL, or undefined for the embedded endpoint. */
  awsEndpointUrl: string | undefined;
}

export const DEFAULTS = {
  outDir: "./incident-archive",
  pollIntervalSeconds: 20,
  mode: "auto",
  /** Per mode: a batch call takes 100; single calls 5 an invocation. */
  batchSize: { batching: 100, single: 5 },
  batchingWindowSeconds: { batching: 10, single: 0 },
  maxConcurrency: 2,
  maxReceiveCount: 5,
  budgetPerMinute: 10,
  batchBudgetPerMinute: 10,
  alertsLimit: 1000,
  notifyMinSeverity: DEFAULT_NOTIFY_MIN_SEVERITY,
  lookbackMinutes: 1440,
  lateWindowMinutes: DEFAULT_LATE_WINDOW_MINUTES,
  product: "xdr",
  logLevel: "WARN",
  seed: 42,
  incidents: 12,
  liveIntervalSeconds: 20,
  lateListingShare: 0,
} as const;

/** --late-listing delays, drawn from the seed: from the vendor's one-minute xdr_delay's half to 4 min (API-FACTS "Late listing"). */
export const LATE_LISTING_DELAY_MS: [number, number] = [30_000, 240_000];

/** Bad flags or environment: the message says which one and what is allowed. */
export class RunnerOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunnerOptionsError";
  }
}

const TENANT_VARIABLES = [
  "CORTEX_API_URL",
  "CORTEX_API_KEY",
  "CORTEX_API_KEY_ID",
  "CORTEX_AUTH_TYPE",
] as const;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const flagSchema = z.object({
  "summary-json": z.string().min(1).optional(),
  out: z.string().min(1).default(DEFAULTS.outDir),
  "events-out": z.string().min(1).optional(),
  "poll-interval": z.coerce.number().positive().default(DEFAULTS.pollIntervalSeconds),
  mode: z.enum(ENRICHER_MODES).default(DEFAULTS.mode),
  "batch-size": int(1, 100).optional(),
  "batching-window": z.coerce.number().min(0).max(300).optional(),
  // Lambda's SQS maximum concurrency is 2 at least.
  "max-concurrency": int(2, 1000).default(DEFAULTS.maxConcurrency),
  "function-timeout": int(1, 900).optional(),
  "visibility-timeout": int(0, 43_200).optional(),
  "max-receive-count": int(1, 1000).default(DEFAULTS.maxReceiveCount),
  "budget-per-minute": z.coerce.number().positive().default(DEFAULTS.budgetPerMinute),
  "batch-budget-per-minute": z.coerce.number().positive().default(DEFAULTS.batchBudgetPerMinute),
  "alerts-limit": int(1, 1000).default(DEFAULTS.alertsLimit),
  "notify-min-severity": z.enum(NOTIFY_SEVERITIES).default(DEFAULTS.notifyMinSeverity),
  "lookback-minutes": int(1).default(DEFAULTS.lookbackMinutes),
  // Fractions of a minute are allowed, so a demo can compress time.
  "late-window": z.coerce.number().min(0).max(MAX_LATE_WINDOW_MINUTES).default(DEFAULTS.lateWindowMinutes),
  filters: z.string().default("[]"),
  product: z.enum(CORTEX_PRODUCTS).default(DEFAULTS.product),
  "log-level": z
    .string()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(LOG_LEVELS))
    .default(DEFAULTS.logLevel),
  seed: int(0).default(DEFAULTS.seed),
  incidents: int(0, 100_000).default(DEFAULTS.incidents),
  "live-interval": z.coerce.number().min(0).default(DEFAULTS.liveIntervalSeconds),
  "late-listing": z.coerce.number().min(0).max(1).default(DEFAULTS.lateListingShare),
});

const STRING_FLAGS = [
  "summary-json",
  "out",
  "events-out",
  "poll-interval",
  "mode",
  "batch-size",
  "batching-window",
  "max-concurrency",
  "function-timeout",
  "visibility-timeout",
  "max-receive-count",
  "budget-per-minute",
  "batch-budget-per-minute",
  "alerts-limit",
  "notify-min-severity",
  "lookback-minutes",
  "late-window",
  "filters",
  "product",
  "log-level",
  "seed",
  "incidents",
  "live-interval",
  "late-listing",
] as const;

export function parseRunnerOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RunnerOptions {
  const parsed = parseFlags(argv);
  const flags = flagSchema.safeParse(parsed.values);
  if (!flags.success) {
    throw new RunnerOptionsError(
      `Invalid flag: ${formatIssues(flags.error)}. Run with --help for every flag.`,
    );
  }
  const values = flags.data;
  const filters = parseFilters(values.filters, values.product);
  const incidentsGiven =
    parsed.values.incidents !== undefined ||
    parsed.values.seed !== undefined ||
    parsed.values["live-interval"] !== undefined ||
    parsed.values["late-listing"] !== undefined;
  const cortex = cortexTarget(env, values.seed, values.incidents, incidentsGiven);
  const awsEndpointUrl = optionalUrl(env, "AWS_ENDPOINT_URL");
  const sizes = values.mode === "single" ? "single" : "batching";
  const batchSize = values["batch-size"] ?? DEFAULTS.batchSize[sizes];
  const batchingWindowSeconds = values["batching-window"] ?? DEFAULTS.batchingWindowSeconds[sizes];
  if (batchSize > 10 && batchingWindowSeconds <= 0) {
    throw new RunnerOptionsError(
      `--batch-size ${batchSize} needs a --batching-window above 0 (as on Lambda, more than 10 messages an invocation need one).`,
    );
  }
  const functionTimeoutSeconds =
    values["function-timeout"] ??
    enricherTimeoutSeconds({
      mode: values.mode,
      batchSize,
      maxConcurrency: values["max-concurrency"],
      budgetPerMinute: values["budget-per-minute"],
      batchBudgetPerMinute: values["batch-budget-per-minute"],
    });

  return {
    help: parsed.values.help === true,
    once: parsed.values.once === true,
    summaryJsonPath: values["summary-json"],
    outDir: values.out,
    eventsOutPath: values["events-out"],
    pollIntervalSeconds: values["poll-interval"],
    mode: values.mode,
    batchSize,
    batchingWindowSeconds,
    maxConcurrency: values["max-concurrency"],
    functionTimeoutSeconds,
    // Lambda's guidance: visibility timeout at least 6x the function timeout.
    visibilityTimeoutSeconds: values["visibility-timeout"] ?? 6 * functionTimeoutSeconds,
    maxReceiveCount: values["max-receive-count"],
    budgetPerMinute: values["budget-per-minute"],
    batchBudgetPerMinute: values["batch-budget-per-minute"],
    alertsLimit: values["alerts-limit"],
    notifyMinSeverity: values["notify-min-severity"],
    lookbackMinutes: values["lookback-minutes"],
    lateWindowMs: Math.round(values["late-window"] * 60_000),
    filters,
    product: values.product,
    logLevel: values["log-level"],
    liveIntervalSeconds: values["live-interval"],
    lateListingShare: values["late-listing"],
    cortex,
    awsEndpointUrl,
  };
}

const argSpec = {
  help: { type: "boolean", short: "h" },
  once: { type: "boolean" },
  ...Object.fromEntries(STRING_FLAGS.map((name) => [name, { type: "string" }])),
} as { help: { type: "boolean"; short: string }; once: { type: "boolean" } } & Record<
  (typeof STRING_FLAGS)[number],
  { type: "string" }
>;

/** As the stack sizes it (lib/config.ts): a whole batch at the paced rate plus the stack's margin. */
export function enricherTimeoutSeconds(input: EnricherSizingInput): number {
  const sizing = enricherSizing(input);
  const { intervalSeconds, timeoutSeconds: needed } = sizing;
  if (!sizing.fits) {
    throw new RunnerOptionsError(
      `A batch of ${input.batchSize} paced at one extra-data call every ${intervalSeconds} s per instance needs ${needed} s, ` +
        `more than Lambda's ${LAMBDA_MAX_TIMEOUT_SECONDS} s: lower --batch-size or --max-concurrency, or raise --budget-per-minute.`,
    );
  }
  return needed;
}

const VALUE_FLAGS: ReadonlySet<string> = new Set(STRING_FLAGS.map((name) => `--${name}`));
const DASH_LEADING_NUMBER = /^-\.?\d/;

/**
 * `--budget-per-minute -1` as `--budget-per-minute=-1`: parseArgs takes a dash-leading value for a flag and
 * answers "argument is ambiguous"; joined, the value reaches the schema, whose message names the flag.
 */
function joinDashLeadingNumbers(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const next = argv[index + 1];
    if (VALUE_FLAGS.has(arg) && next !== undefined && DASH_LEADING_NUMBER.test(next)) {
      joined.push(`${arg}=${next}`);
      index++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: joinDashLeadingNumbers(argv),
      options: argSpec,
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new RunnerOptionsError(`${(error as Error).message}. Run with --help for every flag.`);
  }
}

/** The tenant the four CORTEX_* variables name, or undefined when none is set (npm run ops uses this too). */
export function tenantFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): TenantTarget | undefined {
  const target = cortexTarget(env, DEFAULTS.seed, DEFAULTS.incidents, false);
  return target.kind === "tenant" ? target : undefined;
}

function cortexTarget(
  env: Readonly<Record<string, string | undefined>>,
  seed: number,
  incidents: number,
  emulatorFlagsGiven: boolean,
): TenantTarget | EmulatorTarget {
  const present = TENANT_VARIABLES.filter((name) => (env[name] ?? "").trim() !== "");
  if (present.length === 0) return { kind: "emulator", seed, incidents };
  const missing = TENANT_VARIABLES.filter((name) => !present.includes(name));
  if (missing.length > 0) {
    throw new RunnerOptionsError(
      `To use a real Cortex tenant set all four of ${TENANT_VARIABLES.join(", ")}; missing: ${missing.join(", ")}. ` +
        "Unset them all to use the embedded emulator.",
    );
  }
  if (emulatorFlagsGiven) {
    throw new RunnerOptionsError(
      "--seed, --incidents, --live-interval and --late-listing configure the embedded emulator; they cannot be used with CORTEX_API_URL (a real tenant).",
    );
  }
  const url = cortexApiUrl(env);
  const authType = (env.CORTEX_AUTH_TYPE ?? "").trim().toLowerCase();
  if (!isCortexAuthType(authType)) {
    throw new RunnerOptionsError(
      `CORTEX_AUTH_TYPE must be one of ${CORTEX_AUTH_TYPES.join(", ")}, not "${authType}".`,
    );
  }
  return {
    kind: "tenant",
    url,
    apiKey: (env.CORTEX_API_KEY ?? "").trim(),
    apiKeyId: (env.CORTEX_API_KEY_ID ?? "").trim(),
    authType,
  };
}

/** CORTEX_API_URL under the client's own rule (https; http only to loopback), checked before anything starts. */
function cortexApiUrl(env: Readonly<Record<string, string | undefined>>): string {
  const url = optionalUrl(env, "CORTEX_API_URL") as string;
  try {
    validateCortexBaseUrl(url);
  } catch (error) {
    if (error instanceof CortexConfigurationError) {
      throw new RunnerOptionsError(`CORTEX_API_URL: ${error.message}.`);
    }
    throw error;
  }
  return url;
}

function optionalUrl(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = (env[name] ?? "").trim();
  if (value === "") return undefined;
  const url = z.url({ protocol: /^https?$/ }).safeParse(value);
  if (!url.success) throw new RunnerOptionsError(`${name} must be an http(s) URL, not "${value}".`);
  return url.data.replace(/\/+$/, "");
}

export function parseFilters(text: string, product: CortexProduct): IncidentFilterInput[] {
  try {
    // The rule `cdk synth` applies (filter-config.ts), so a filter the API would reject stops the start.
    return parseIncidentFiltersJson(text, product, "--filters");
  } catch (error) {
    if (error instanceof IncidentFilterConfigError) throw new RunnerOptionsError(error.message);
    throw error;
  }
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? `--${issue.path.join(".")}` : "value"}: ${issue.message}`)
    .join("; ");
}

export function helpText(): string {
  return `Usage: npm start -- [flags]      (or: node bin/local.ts [flags])

Runs the whole pipeline on this machine: the real poller on a schedule, the real enricher
behind a Lambda-like SQS event source, an S3 bucket, an SQS queue with a DLQ and an SNS topic
on an embedded AWS endpoint (127.0.0.1), and an embedded Cortex tenant emulator, unless the
environment names a real tenant. Archived incidents are also written under --out.

Flags
  --once                    drain everything, print a summary and exit (0 = all archived;
                            1 = something ended in the DLQ; 2 = a credential was rejected;
                            3 = stopped with versions queued, or incidents not found)
  --summary-json FILE       also write the summary as JSON to FILE
  --out DIR                 local copy of the archive, same key layout as the bucket
                            (default ${DEFAULTS.outDir})
  --events-out FILE         write each change event the stack would put on EventBridge, one
                            JSON line each (created, escalated, resolved...; local/query/README.md)
  --poll-interval SECONDS   how often the poller runs (default ${DEFAULTS.pollIntervalSeconds})
  --mode auto|batch|single  how the enricher fetches extra data (default ${DEFAULTS.mode}: up to 100
                            incidents per get_multiple_incidents_extra_data call, single calls
                            for incidents with more alerts than it returns, and where the tenant
                            lacks the batch endpoint; single: one call per incident version)
  --batch-size N            SQS messages per enricher invocation, 1-100 (default ${DEFAULTS.batchSize.batching},
                            ${DEFAULTS.batchSize.single} in single mode)
  --batching-window SECONDS how long the event source gathers messages (default
                            ${DEFAULTS.batchingWindowSeconds.batching}, 0 in single mode; above 10 messages it must be > 0)
  --max-concurrency N       concurrent enricher invocations, at least 2 (default ${DEFAULTS.maxConcurrency})
  --function-timeout SECONDS  enricher time limit per invocation (default: sized like the stack,
                            one batch slot + 10 single slots + 60 s, 192 s with the defaults;
                            single mode: batch size x paced call interval + 60 s)
  --visibility-timeout SECONDS  queue visibility timeout (default 6 x --function-timeout)
  --max-receive-count N     receives before a message moves to the DLQ (default ${DEFAULTS.maxReceiveCount})
  --budget-per-minute N     get_incident_extra_data calls per minute (default ${DEFAULTS.budgetPerMinute}, the
                            documented API limit); with the emulator its limit follows this flag,
                            so a larger value compresses time for demos and tests
  --batch-budget-per-minute N  get_multiple_incidents_extra_data calls per minute (default
                            ${DEFAULTS.batchBudgetPerMinute}; undocumented, so as conservative as the single one)
  --alerts-limit N          alerts fetched per incident, 1-1000 (default ${DEFAULTS.alertsLimit})
  --notify-min-severity S   low | medium | high | critical (default ${DEFAULTS.notifyMinSeverity})
  --lookback-minutes N      first poll reaches back this far (default ${DEFAULTS.lookbackMinutes})
  --late-window MINUTES     every poll also re-reads this far behind its cursor for versions the API
                            listed late, sending each once (default ${DEFAULTS.lateWindowMinutes}; 0 = off)
  --filters JSON            extra get_incidents filters, e.g. '[{"field":"status","operator":"eq","value":"new"}]'
  --product xdr|xpanse      API flavour (default ${DEFAULTS.product})
  --log-level LEVEL         DEBUG | INFO | WARN | ERROR | SILENT for the Lambda code's JSON logs
                            (default ${DEFAULTS.logLevel})
  --seed N                  emulator: random seed for the generated incidents (default ${DEFAULTS.seed})
  --incidents N             emulator: incidents in the starting backlog (default ${DEFAULTS.incidents})
  --live-interval SECONDS   emulator: every SECONDS one new and one modified incident arrive
                            (default ${DEFAULTS.liveIntervalSeconds}; 0 = off; always off with --once)
  --late-listing SHARE      emulator: that share (0-1) of live changes is listed by get_incidents
                            30 s to 4 min after its modification_time, as a real search index can
                            (default 0 = off); the poller's --late-window finds them
  -h, --help                this text

Environment
  CORTEX_API_URL            a real tenant, e.g. https://api-acme.xdr.eu.paloaltonetworks.com
  CORTEX_API_KEY            its API key (never printed)
  CORTEX_API_KEY_ID         the key's id
  CORTEX_AUTH_TYPE          standard | advanced
                            (all four together, or none for the embedded emulator)
  AWS_ENDPOINT_URL          an AWS endpoint to use instead of the embedded one (S3 path-style),
                            e.g. http://127.0.0.1:4566

Stop with Ctrl-C: polling stops, in-flight invocations finish, the summary is printed.
`;
}
