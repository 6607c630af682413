// The deployed stack's configuration: one zod object, validated at synth so a wrong value stops
// `cdk synth` with the field's path and what is allowed instead of failing later in AWS.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { DEFAULT_LATE_WINDOW_MINUTES, MAX_LATE_WINDOW_MINUTES } from "../functions/poller/late-window.ts";
import type { IncidentFilterInput } from "../functions/shared/cortex/api.ts";
import { incidentFilterProblems } from "../functions/shared/cortex/filter-config.ts";
import {
  CORTEX_PRODUCTS,
  DEFAULT_NOTIFY_MIN_SEVERITY,
  NOTIFY_SEVERITIES,
} from "../functions/shared/cortex/vocabulary.ts";
import { ENRICHER_MODES, type EnricherMode } from "../functions/shared/lambda-environment.ts";

const secretArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/,
    "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>)",
  );

const kmsKeyArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[a-f0-9-]+$/,
    "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)",
  );

/** Every value CloudWatch Logs accepts as a retention period, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const scheduleExpression = z
  .string()
  .regex(
    /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/,
    'must be an EventBridge schedule such as "rate(1 minute)", "rate(5 minutes)" or "cron(0/2 * * * ? *)"',
  );

/** Minutes between runs of a rate() schedule; undefined for cron(), whose spacing can vary. */
export function scheduleIntervalMinutes(schedule: string): number | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!rate) return undefined;
  const minutesPer: Record<string, number> = { minute: 1, hour: 60, day: 1440 };
  return Number(rate[1]) * (minutesPer[(rate[2] ?? "minute").replace(/s$/, "")] ?? 1);
}

/** The poller's Lambda timeout in seconds (5 minutes): one invocation polls for less than this. */
export const POLLER_TIMEOUT_SECONDS = 300;
/** The last poll of an invocation leaves this much of the poller's timeout for a slow walk. */
const POLL_WINDOW_MARGIN_SECONDS = 60;

/**
 * How long one scheduled invocation keeps polling: the schedule's period, so it returns before the next
 * tick (a cron() fires at most once a minute: 60 s), but never past the poller's timeout less a margin.
 */
export function pollWindowSeconds(schedule: string): number {
  const period = (scheduleIntervalMinutes(schedule) ?? 1) * 60;
  return Math.min(period, POLLER_TIMEOUT_SECONDS - POLL_WINDOW_MARGIN_SECONDS);
}

/** Sizes that fit the mode: one batch call fills with 100 messages; single calls take 5 an invocation. */
function withEnricherDefaults(enricher: {
  mode: EnricherMode;
  maxConcurrency: number;
  batchSize?: number | undefined;
  batchingWindowSeconds?: number | undefined;
}) {
  const batching = enricher.mode !== "single";
  return {
    ...enricher,
    batchSize: enricher.batchSize ?? (batching ? 100 : 5),
    batchingWindowSeconds: enricher.batchingWindowSeconds ?? (batching ? 10 : 0),
  };
}

/** The tenant-wide limit (API-FACTS.md: about 10 requests a second, shared with every integration). */
export const TENANT_REQUESTS_PER_MINUTE = 600;

export const pipelineConfigSchema = z
  .strictObject({
    /** CloudFormation stack name. */
    stackName: z
      .string()
      .regex(
        /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
        "must start with a letter and contain only letters, digits and -",
      )
      .default("CortexIncidentExport"),
    /** The tenant's API base URL, e.g. https://api-acme.xdr.eu.paloaltonetworks.com */
    cortexApiUrl: z.url({
      protocol: /^https$/,
      message: "must be an https:// URL such as https://api-acme.xdr.eu.paloaltonetworks.com",
    }),
    product: z.enum(CORTEX_PRODUCTS).default("xdr"),
    /** An existing secret holding {"apiKey","apiKeyId","authType"}; omitted: the stack creates one to fill. */
    secretArn: secretArn.optional(),
    schedule: scheduleExpression.default("rate(1 minute)"),
    /** Polls start this often inside each scheduled invocation (EventBridge cannot fire more than once a minute). */
    pollIntervalSeconds: z.number().int().min(5).max(900).default(20),
    firstRunLookbackMinutes: z.number().int().positive().max(525_600).default(1440),
    /** How late after its modification_time a version listed by get_incidents is still found; 0 = off. */
    lateArrivalWindowMinutes: z
      .number()
      .int()
      .min(0)
      .max(MAX_LATE_WINDOW_MINUTES)
      .default(DEFAULT_LATE_WINDOW_MINUTES),
    /** Extra get_incidents filters, ANDed with the poller's cursor; checked below by the one filter rule. */
    incidentFilters: z.array(z.custom<IncidentFilterInput>()).default([]),
    alertsLimit: z.number().int().min(1).max(1000).default(1000),
    /** get_incident_extra_data calls per minute, all enricher instances together (documented: 10). */
    apiBudgetPerMinute: z.number().int().min(1).max(600).default(10),
    /** get_multiple_incidents_extra_data calls per minute (undocumented: 10, like the single endpoint). */
    batchApiBudgetPerMinute: z.number().int().min(1).max(600).default(10),
    enricher: z
      .strictObject({
        /** auto (batch, single calls where the tenant lacks the batch endpoint), batch, or single. */
        mode: z.enum(ENRICHER_MODES).default("auto"),
        /** SQS event source maximum concurrency; AWS allows 2..1000. */
        maxConcurrency: z.number().int().min(2).max(1000).default(2),
        /** Messages per enricher invocation (default: 100 with the batch endpoint, 5 in single mode). */
        batchSize: z.number().int().min(1).max(100).optional(),
        /** Seconds the event source gathers messages (default: 10 with the batch endpoint, 0 in single mode). */
        batchingWindowSeconds: z.number().int().min(0).max(300).optional(),
      })
      .prefault({})
      .transform(withEnricherDefaults)
      .refine((enricher) => enricher.batchSize <= 10 || enricher.batchingWindowSeconds >= 1, {
        message: "a batchSize above 10 needs batchingWindowSeconds of 1 or more (an SQS event source rule)",
        path: ["batchingWindowSeconds"],
      }),
    notifyMinSeverity: z.enum(NOTIFY_SEVERITIES).default(DEFAULT_NOTIFY_MIN_SEVERITY),
    notificationEmails: z.array(z.email()).default([]),
    notificationSmsNumbers: z
      .array(z.string().regex(/^\+[1-9]\d{1,14}$/, "must be an E.164 phone number such as +14155550100"))
      .default([]),
    /** Who receives the operations alarms (DLQ, lag, errors, throttles). */
    operationsEmails: z.array(z.email()).default([]),
    archive: z
      .strictObject({
        storageClass: z.enum(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]).default("GLACIER_IR"),
        transitionAfterDays: z.number().int().min(1).default(90),
        expireAfterDays: z.number().int().positive().optional(),
      })
      .prefault({})
      .refine(
        (archive) =>
          archive.expireAfterDays === undefined || archive.expireAfterDays > archive.transitionAfterDays,
        {
          message: "expireAfterDays must be greater than transitionAfterDays",
          path: ["expireAfterDays"],
        },
      ),
    logRetentionDays: z
      .number()
      .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
      })
      .default(30),
    /** Customer-managed KMS key for the incident topic; omitted: the topic is not KMS-encrypted. */
    incidentTopicKmsKeyArn: kmsKeyArn.optional(),
    /** The same for the operations (alarm) topic; its key policy must let cloudwatch.amazonaws.com use it. */
    operationsTopicKmsKeyArn: kmsKeyArn.optional(),
    dlqMaxReceiveCount: z.number().int().min(5).max(1000).default(10),
    /** One EventBridge event per archived version (functions/shared/change-events.ts). */
    changeEvents: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** The bus in this account and region; omitted: the account's default bus. */
        eventBusName: z
          .string()
          .regex(/^[A-Za-z0-9._\-/]{1,256}$/, "must be an event bus name (letters, digits, . _ - /)")
          .optional(),
      })
      .prefault({}),
    alarms: z
      .strictObject({
        /** Cursor lag (seconds behind the tenant) above which the operations topic is told. */
        cursorLagSeconds: z.number().int().positive().default(1800),
        /** Age of the oldest queued message above which the operations topic is told. */
        oldestMessageAgeSeconds: z.number().int().positive().default(3600),
        /** p95 of TimeToAlert (poll that read a version -> its SNS publish) above which the operations topic is told. */
        timeToAlertSeconds: z.number().int().positive().default(90),
      })
      .prefault({}),
  })
  // The rule the poller and `npm start --filters` apply too, so a filter the API would reject (status with
  // "in", an Xpanse-only field on XDR, the cursor's own field) fails the synth instead of every poll.
  .superRefine((config, context) => {
    const window = pollWindowSeconds(config.schedule);
    if (config.pollIntervalSeconds > window) {
      context.addIssue({
        code: "custom",
        path: ["pollIntervalSeconds"],
        message: `must be at most the time one scheduled invocation polls for (${window} s with schedule ${config.schedule})`,
        input: config.pollIntervalSeconds,
      });
    }
    for (const problem of incidentFilterProblems(config.incidentFilters, config.product)) {
      const path = problem.index === undefined ? ["incidentFilters"] : ["incidentFilters", problem.index];
      context.addIssue({ code: "custom", path, message: problem.message });
    }
    // Both extra-data budgets come out of the tenant-wide limit (about 10 requests a second, shared with
    // every other integration): together they may not claim it all.
    const extraDataPerMinute = config.apiBudgetPerMinute + config.batchApiBudgetPerMinute;
    if (extraDataPerMinute > TENANT_REQUESTS_PER_MINUTE / 2) {
      context.addIssue({
        code: "custom",
        path: ["batchApiBudgetPerMinute"],
        message: `apiBudgetPerMinute + batchApiBudgetPerMinute (${extraDataPerMinute}) must leave half of the tenant-wide ${TENANT_REQUESTS_PER_MINUTE} requests a minute to get_incidents and the tenant's other integrations: at most ${TENANT_REQUESTS_PER_MINUTE / 2} together`,
        input: config.batchApiBudgetPerMinute,
      });
    }
  });

/** What a user writes (defaults may be left out). */
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
/** What the construct uses (defaults filled in). */
export type PipelineConfig = z.output<typeof pipelineConfigSchema>;

/** A configuration that cannot be deployed; the message lists every wrong field and what is allowed. */
export class PipelineConfigError extends Error {
  override readonly name = "PipelineConfigError";
  readonly fields: string[];
  constructor(message: string, fields: string[]) {
    super(message);
    this.fields = fields;
  }
}

function describePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(configuration)";
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`))
    .join("");
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** One line per problem: `- enricher.maxConcurrency: Too small: expected number to be >=2 (got 1)`. */
export function formatConfigIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  source: string,
): string {
  const lines = issues.map((issue) => {
    const got = valueAt(input, issue.path);
    const missing = got === undefined && issue.code === "invalid_type";
    const shown = got === undefined || typeof got === "object" ? "" : ` (got ${JSON.stringify(got)})`;
    return `  - ${describePath(issue.path)}: ${missing ? "required, " : ""}${issue.message}${shown}`;
  });
  return `Invalid cortex-incident-export configuration in ${source}:\n${lines.join("\n")}\nSee config/README.md for every field and its allowed values.`;
}

/** Validates a configuration object; throws PipelineConfigError naming each wrong field. */
export function parsePipelineConfig(input: unknown, source = "the configuration"): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(input);
  if (result.success) {
    enricherTimeoutSeconds(result.data); // a batch that cannot fit in one invocation is a configuration error too
    return result.data;
  }
  throw new PipelineConfigError(
    formatConfigIssues(result.error.issues, input, source),
    result.error.issues.map((issue) => describePath(issue.path)),
  );
}

/** Reads and validates a JSON configuration file. */
export function loadPipelineConfigFile(path: string): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new PipelineConfigError(
      `Cannot read the configuration file ${path} (${(error as NodeJS.ErrnoException).code ?? "unknown error"}). Pass an existing file with -c config=<path> or CORTEX_EXPORT_CONFIG=<path>.`,
      [],
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PipelineConfigError(
      `The configuration file ${path} is not valid JSON: ${(error as Error).message}`,
      [],
    );
  }
  return parsePipelineConfig(json, path);
}

/** Headroom per invocation for the secret, S3 and SNS calls and a slow API reply. */
export const ENRICHER_TIMEOUT_MARGIN_SECONDS = 60;
/** Lambda's hard limit. */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

export interface EnricherSizingInput {
  batchSize: number;
  maxConcurrency: number;
  budgetPerMinute: number;
  /** Default single: every message is one single-incident call. */
  mode?: EnricherMode;
  /** The batch endpoint's budget (default 10). */
  batchBudgetPerMinute?: number;
  /** Default ENRICHER_TIMEOUT_MARGIN_SECONDS; the time-compressed benchmarks pass a smaller one. */
  marginSeconds?: number;
}

/**
 * Single calls a batch-mode invocation has time for (incidents whose alerts the batch cut, ids absent from
 * its reply): about 3 in 100 messages need one; what does not fit is handed back to the queue.
 */
export const SINGLE_CALLS_PER_BATCH_INVOCATION = 10;

export interface EnricherSizing {
  /** Seconds between one instance's extra-data calls: each concurrent enricher gets an equal share of the budget. */
  intervalSeconds: number;
  /** The same for the batch endpoint (0 in single mode). */
  batchIntervalSeconds: number;
  /** A whole batch at the paced rate plus the margin, in whole seconds. */
  timeoutSeconds: number;
  /** Whether that fits in Lambda's 900 s. */
  fits: boolean;
  /** The largest batch that would fit (0: none). */
  maxBatchSize: number;
}

/** The one formula for the enricher's timeout: the stack, the local runner and the benchmarks size it here. */
export function enricherSizing(input: EnricherSizingInput): EnricherSizing {
  const margin = input.marginSeconds ?? ENRICHER_TIMEOUT_MARGIN_SECONDS;
  const intervalSeconds = (60 * input.maxConcurrency) / input.budgetPerMinute;
  const batching = (input.mode ?? "single") !== "single";
  const batchIntervalSeconds = batching
    ? (60 * input.maxConcurrency) / (input.batchBudgetPerMinute ?? 10)
    : 0;
  const singleCalls = batching
    ? Math.min(input.batchSize, SINGLE_CALLS_PER_BATCH_INVOCATION)
    : input.batchSize;
  const timeoutSeconds = Math.ceil(batchIntervalSeconds + singleCalls * intervalSeconds + margin);
  const roomForSingles = LAMBDA_MAX_TIMEOUT_SECONDS - margin - batchIntervalSeconds;
  const maxSingles = Math.max(0, Math.floor(roomForSingles / intervalSeconds));
  return {
    intervalSeconds,
    batchIntervalSeconds,
    timeoutSeconds,
    fits: timeoutSeconds <= LAMBDA_MAX_TIMEOUT_SECONDS,
    maxBatchSize: batching ? (maxSingles >= singleCalls ? 100 : 0) : maxSingles,
  };
}

/**
 * The enricher timeout that lets a whole batch finish at the paced rate, or a PipelineConfigError
 * naming the fields to change when it cannot fit in Lambda's 900 s.
 */
export function enricherTimeoutSeconds(
  config: Pick<PipelineConfig, "apiBudgetPerMinute" | "batchApiBudgetPerMinute" | "enricher">,
): number {
  const sizing = enricherSizing({
    ...config.enricher,
    budgetPerMinute: config.apiBudgetPerMinute,
    batchBudgetPerMinute: config.batchApiBudgetPerMinute,
  });
  const { intervalSeconds: interval, timeoutSeconds: needed, maxBatchSize: maxBatch } = sizing;
  if (!sizing.fits) {
    throw new PipelineConfigError(
      `Invalid cortex-incident-export configuration: a batch of enricher.batchSize=${config.enricher.batchSize} ` +
        `paced at one extra-data call every ${interval} s (60 * enricher.maxConcurrency=${config.enricher.maxConcurrency} / ` +
        `apiBudgetPerMinute=${config.apiBudgetPerMinute}) needs ${needed} s, more than Lambda's ${LAMBDA_MAX_TIMEOUT_SECONDS} s. ` +
        (maxBatch >= 1
          ? `Lower enricher.batchSize to ${maxBatch} or less, lower enricher.maxConcurrency, or raise apiBudgetPerMinute.`
          : "Lower enricher.maxConcurrency or raise apiBudgetPerMinute."),
      ["enricher.batchSize", "enricher.maxConcurrency", "apiBudgetPerMinute"],
    );
  }
  return needed;
}
