// `npm run ops -- <command>`: parses flags, finds the target (stack or local runner), runs one command
// and maps every failure to a documented exit code with a message that says what to fix.
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import type { CortexProduct, IncidentFilterInput } from "../../functions/shared/cortex/api.ts";
import { parseFilters, RunnerOptionsError } from "../runner/options.ts";
import { runBackfill } from "./backfill.ts";
import { ExitCode, explainCortexError, OpsError, usageError } from "./errors.ts";
import { COMMAND_HELP, OPS_HELP } from "./help.ts";
import { formatRedrive, redriveDeadLetters } from "./redrive.ts";
import { formatReplay, replayIncidents } from "./replay.ts";
import { formatStatus, readStatus } from "./status.ts";
import { type OpsTarget, resolveTarget } from "./target.ts";
import { parseDate } from "./text.ts";
import { formatVerifyReport, verifyArchive } from "./verify.ts";

export interface OpsIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable;
  /** Aborted on Ctrl-C: a backfill stops after the page in hand, with its checkpoint saved. */
  stopSignal: AbortSignal;
  now?: () => number;
}

type Env = Readonly<Record<string, string | undefined>>;

const COMMANDS = ["status", "backfill", "redrive", "replay", "verify"] as const;
type Command = (typeof COMMANDS)[number];

const FLAGS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  stack: { type: "string" },
  region: { type: "string" },
  product: { type: "string" },
  "budget-per-minute": { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  filters: { type: "string" },
  "calls-per-second": { type: "string" },
  "dry-run": { type: "boolean" },
  repair: { type: "boolean" },
  incident: { type: "string", multiple: true },
} as const;

/** Which flags each command takes besides the target ones (--stack, --region, --product, --budget-per-minute). */
const COMMAND_FLAGS: Record<Command, readonly string[]> = {
  status: ["json"],
  backfill: ["from", "to", "filters", "calls-per-second"],
  redrive: ["dry-run", "json"],
  replay: ["incident", "json"],
  verify: ["from", "to", "filters", "repair", "json"],
};
const TARGET_FLAGS = ["stack", "region", "product", "budget-per-minute", "help"];

type Values = ReturnType<typeof parseCommandLine>["values"];

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError(`${(error as Error).message}. Run npm run ops -- --help.`);
  }
}

export async function runOpsCli(argv: readonly string[], env: Env, io: OpsIo): Promise<number> {
  let target: OpsTarget | undefined;
  try {
    const { values, positionals } = parseCommandLine(argv);
    const command = positionals[0];
    if (command === undefined || command === "help") {
      io.stdout.write(OPS_HELP);
      return command === undefined && !values.help ? ExitCode.usage : ExitCode.ok;
    }
    if (!(COMMANDS as readonly string[]).includes(command))
      throw usageError(`Unknown command "${command}". ${OPS_HELP}`);
    const name = command as Command;
    if (values.help) {
      io.stdout.write(COMMAND_HELP[name]);
      return ExitCode.ok;
    }
    checkFlags(name, values, positionals);
    target = await resolveTarget({
      stack: values.stack,
      region: values.region,
      env,
      local: localSettings(values),
    });
    return await runCommand(name, values, target, io);
  } catch (error) {
    const known = error instanceof OpsError ? error : explainCortexError(error);
    if (known !== undefined) {
      io.stderr.write(`Problem: ${known.message}\n`);
      return known.exitCode;
    }
    io.stderr.write(`Problem: ${(error as Error).message ?? String(error)}\n`);
    return ExitCode.findings;
  } finally {
    await target?.close();
  }
}

function checkFlags(command: Command, values: Values, positionals: readonly string[]): void {
  if (positionals.length > 1)
    throw usageError(`Unexpected argument "${positionals[1]}". Run npm run ops -- ${command} --help.`);
  const allowed = new Set([...TARGET_FLAGS, ...COMMAND_FLAGS[command]]);
  const wrong = Object.keys(values).filter((flag) => !allowed.has(flag));
  if (wrong.length > 0) {
    throw usageError(
      `${command} does not take --${wrong.join(", --")}. Run npm run ops -- ${command} --help.`,
    );
  }
}

function localSettings(values: Values) {
  const product = values.product;
  if (product !== undefined && product !== "xdr" && product !== "xpanse") {
    throw usageError(`--product must be xdr or xpanse, not "${product}".`);
  }
  const budget =
    values["budget-per-minute"] === undefined
      ? undefined
      : positiveNumber("--budget-per-minute", values["budget-per-minute"]);
  return {
    ...(product === undefined ? {} : { product: product as CortexProduct }),
    ...(budget === undefined ? {} : { budgetPerMinute: budget }),
  };
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw usageError(`${flag} must be a positive number, not "${text}".`);
  return value;
}

/** --filters as JSON, checked by the same rules as the poller's; the stack's own filters when absent. */
function filtersFrom(values: Values, target: OpsTarget): IncidentFilterInput[] {
  if (values.filters === undefined) return target.settings.filters;
  try {
    return parseFilters(values.filters, target.settings.product);
  } catch (error) {
    if (error instanceof RunnerOptionsError) throw usageError(error.message);
    throw error;
  }
}

function range(values: Values, now: number): { from: number; to: number | undefined } {
  if (values.from === undefined) throw usageError("--from DATE is required (e.g. --from 2026-09-01).");
  const from = parseDate("--from", values.from);
  const to = values.to === undefined ? undefined : parseDate("--to", values.to);
  if (to !== undefined && to < from)
    throw usageError(`--to (${values.to}) is before --from (${values.from}).`);
  if (from > now) throw usageError(`--from (${values.from}) is in the future.`);
  return { from, to };
}

/** What every command gets: its flags, its target, the clock, and output as text or, with --json, JSON. */
interface CommandRun {
  values: Values;
  target: OpsTarget;
  io: OpsIo;
  now: () => number;
  json: boolean;
  emit(report: unknown, text: string): void;
}

/** Each command, returning its exit code. */
const RUN_COMMAND: Readonly<Record<Command, (run: CommandRun) => Promise<number>>> = {
  async status({ target, now, emit }) {
    const status = await readStatus(target, now());
    emit(status, formatStatus(status, now()));
    return ExitCode.ok;
  },
  async verify({ values, target, io, now, json, emit }) {
    const { from, to } = range(values, now());
    const report = await verifyArchive({
      s3: target.s3,
      sqs: target.sqs,
      bucket: target.bucket,
      queueUrl: target.queueUrl,
      incidents: await target.cortex(),
      from,
      to: to ?? now(),
      filters: filtersFrom(values, target),
      repair: values.repair === true,
      now,
      ...(json ? {} : { onProgress: (line: string) => io.stderr.write(`${line}\n`) }),
    });
    emit(report, formatVerifyReport(report));
    // Even with --repair: what was queued is archived only once the enricher has run; verify again then.
    return report.missing.length + report.broken.length === 0 ? ExitCode.ok : ExitCode.findings;
  },
  async backfill({ values, target, io, now }) {
    const { from, to } = range(values, now());
    const callsPerSecond =
      values["calls-per-second"] === undefined
        ? undefined
        : positiveNumber("--calls-per-second", values["calls-per-second"]);
    const result = await runBackfill({
      target,
      incidents: await target.cortex(),
      from,
      to,
      filters: filtersFrom(values, target),
      ...(callsPerSecond === undefined ? {} : { callsPerSecond }),
      out: io.stdout,
      stopSignal: io.stopSignal,
      now,
    });
    return result.interrupted ? ExitCode.interrupted : ExitCode.ok;
  },
  async redrive({ values, target, now, emit }) {
    const result = await redriveDeadLetters({ target, dryRun: values["dry-run"] === true, now });
    emit(result, formatRedrive(result));
    return result.left_in_dlq > 0 && !result.dry_run ? ExitCode.findings : ExitCode.ok;
  },
  async replay({ values, target, now, emit }) {
    const ids = (values.incident ?? [])
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== "");
    if (ids.length === 0)
      throw usageError("replay needs --incident ID (repeat it, or separate ids with commas).");
    const result = await replayIncidents({ target, incidentIds: ids, incidents: await target.cortex(), now });
    emit(result, formatReplay(result));
    return result.every((r) => r.outcome === "archived") ? ExitCode.ok : ExitCode.findings;
  },
};

function runCommand(command: Command, values: Values, target: OpsTarget, io: OpsIo): Promise<number> {
  const json = values.json === true;
  const emit = (report: unknown, text: string) =>
    io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : text);
  return RUN_COMMAND[command]({ values, target, io, now: io.now ?? Date.now, json, emit });
}
