// What the user watches: a live block redrawn in place on a terminal, plain log lines anywhere else.
import type { Writable } from "node:stream";

export interface StatusSnapshot {
  /** "emulator http://127.0.0.1:4567 (xdr)" or "tenant https://api-acme.xdr.eu.paloaltonetworks.com (xdr)". */
  cortex: string;
  /** "embedded http://127.0.0.1:4566" or the AWS_ENDPOINT_URL. */
  aws: string;
  polled: number;
  /** Messages on the incident queue: waiting, being processed, or waiting to be retried. */
  queued: number;
  /** Queued messages still to be worked on (those already archived by a running batch left out): the ETA's base. */
  backlog: number;
  /** Versions done so far: records of finished invocations, or those archived so far when more (a running batch's). */
  enriched: number;
  archived: number;
  notified: number;
  /** Records the enricher reported failed so far (each comes back after the visibility timeout). */
  failed: number;
  /** Invocations that failed as a whole (timeout, thrown error): their records came back without a verdict. */
  failedInvocations: number;
  /** Records returned untried (after a throttle, an access problem, at the deadline): not failures. */
  notStarted: number;
  inDlq: number;
  /** get_incident_extra_data calls in the last minute, and its budget. */
  apiCallsLastMinute: number;
  budgetPerMinute: number;
  /** The same for get_multiple_incidents_extra_data; undefined in single mode. */
  batch: { callsLastMinute: number; budgetPerMinute: number } | undefined;
  throttled: number;
  activeInvocations: number;
  maxConcurrency: number;
  /** Seconds until the next poll, or undefined when none is scheduled (draining with --once, stopping). */
  nextPollInSeconds: number | undefined;
  archiveDir: string;
  /** Change events written to --events-out (absent without the flag). */
  events?: number;
  phase: "running" | "draining" | "stopping";
}

/** Messages one batch call serves. */
const BATCH_CALL_INCIDENTS = 100;

/** Seconds to work through the queue at the extra-data budget: a call per 100 messages in batch mode, per message otherwise. */
export function backlogEtaSeconds(
  queued: number,
  status: Pick<StatusSnapshot, "budgetPerMinute" | "batch">,
): number {
  if (status.batch !== undefined) {
    return Math.ceil((Math.ceil(queued / BATCH_CALL_INCIDENTS) * 60) / status.batch.budgetPerMinute);
  }
  return Math.ceil((queued * 60) / status.budgetPerMinute);
}

/** "single 3/10, batch 1/10 per min" (or "3/10 per min" in single mode). */
function budgetUse(status: StatusSnapshot, separator: string): string {
  const single = `${status.apiCallsLastMinute}/${status.budgetPerMinute}`;
  if (status.batch === undefined) return `${single}${separator}`;
  return `single ${single}, batch ${status.batch.callsLastMinute}/${status.batch.budgetPerMinute}${separator}`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export function renderStatusBlock(status: StatusSnapshot): string[] {
  const cell = (label: string, value: number | string) => `${label.padEnd(9)}${String(value).padStart(6)}`;
  const eta =
    status.queued === 0 ? "queue empty" : `~${formatDuration(backlogEtaSeconds(status.backlog, status))}`;
  const next =
    status.phase === "draining"
      ? "draining (--once), no more polls"
      : status.phase === "stopping"
        ? "stopping: finishing in-flight work"
        : status.nextPollInSeconds === undefined
          ? "polling now"
          : `next poll in ${Math.max(0, Math.ceil(status.nextPollInSeconds))}s`;
  return [
    `── cortex-incident-export (local) ── Cortex: ${status.cortex} · AWS: ${status.aws}`,
    `   ${cell("polled", status.polled)}   ${cell("queued", status.queued)}   ${cell("in DLQ", status.inDlq)}`,
    `   ${cell("enriched", status.enriched)}   ${cell("archived", status.archived)}   ${cell("notified", status.notified)}` +
      (status.events === undefined ? "" : `   ${cell("events", status.events)}`),
    `   ${cell("failed", status.failed)}   API budget ${budgetUse(status, " per min")}` +
      ` (throttled ${status.throttled}) · enricher ${status.activeInvocations}/${status.maxConcurrency} busy` +
      (status.notStarted === 0 ? "" : `, ${status.notStarted} not started`) +
      (status.failedInvocations === 0 ? "" : `, ${status.failedInvocations} invocation(s) failed as a whole`),
    `   backlog ETA ${eta} · ${next}`,
    `   archive copy: ${status.archiveDir} · Ctrl-C to stop`,
  ];
}

/** One line for logs: the same numbers as the block. */
export function renderStatusLine(status: StatusSnapshot): string {
  const eta = status.queued === 0 ? "0s" : formatDuration(backlogEtaSeconds(status.backlog, status));
  return (
    `status: polled=${status.polled} queued=${status.queued} enriched=${status.enriched} archived=${status.archived} ` +
    `notified=${status.notified} ${status.events === undefined ? "" : `events=${status.events} `}failed=${status.failed} ` +
    `${status.notStarted === 0 ? "" : `not_started=${status.notStarted} `}` +
    `${status.failedInvocations === 0 ? "" : `failed_invocations=${status.failedInvocations} `}dlq=${status.inDlq} ` +
    `api_budget=${status.apiCallsLastMinute}/${status.budgetPerMinute}/min` +
    (status.batch === undefined
      ? ""
      : ` batch_budget=${status.batch.callsLastMinute}/${status.batch.budgetPerMinute}/min`) +
    ` throttled=${status.throttled} eta=${eta}`
  );
}

export interface StatusView {
  start(): void;
  /** Something happened (a poll, an invocation, a warning): one or more lines kept in the scrollback. */
  event(lines: string | string[]): void;
  /** The numbers changed; a terminal redraws, a log prints a status line now and then. */
  update(status: StatusSnapshot): void;
  close(): void;
}

/** Plain timestamped lines, for pipes, files and CI. */
export class LogLinesView implements StatusView {
  readonly #out: Writable;
  readonly #now: () => number;
  readonly #statusEveryMs: number;
  #lastStatusLine = "";
  #lastStatusAt = 0;

  constructor(out: Writable, options: { now?: () => number; statusEveryMs?: number } = {}) {
    this.#out = out;
    this.#now = options.now ?? Date.now;
    this.#statusEveryMs = options.statusEveryMs ?? 10_000;
  }

  start(): void {}

  /** The first line is timestamped; the rest of a multi-line event (an email body) is indented under it. */
  event(lines: string | string[]): void {
    const stamp = new Date(this.#now()).toISOString();
    const indent = " ".repeat(stamp.length);
    const all = typeof lines === "string" ? [lines] : lines;
    this.#out.write(all.map((line, index) => `${index === 0 ? stamp : indent} ${line}\n`).join(""));
  }

  update(status: StatusSnapshot): void {
    const line = renderStatusLine(status);
    // Only when something changed, and not more often than statusEveryMs: logs stay readable.
    if (line === this.#lastStatusLine || this.#now() - this.#lastStatusAt < this.#statusEveryMs) return;
    this.#lastStatusLine = line;
    this.#lastStatusAt = this.#now();
    this.event(line);
  }

  close(): void {}
}

interface TerminalStream extends Writable {
  columns?: number;
}

/**
 * A block of status lines kept at the bottom of the terminal and redrawn in place. Anything else written to
 * the same terminal (events, notifications, the Lambda code's logs on stdout or stderr) is printed above it.
 */
export class TerminalStatusView implements StatusView {
  readonly #out: TerminalStream;
  readonly #alsoIntercept: Writable[];
  #status: StatusSnapshot | undefined;
  #drawnLines = 0;
  readonly #originalWrites = new Map<Writable, Writable["write"]>();

  constructor(out: TerminalStream, options: { alsoIntercept?: Writable[] } = {}) {
    this.#out = out;
    this.#alsoIntercept = options.alsoIntercept ?? [];
  }

  start(): void {
    for (const stream of [this.#out, ...this.#alsoIntercept]) {
      const original = stream.write.bind(stream) as Writable["write"];
      this.#originalWrites.set(stream, original);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        this.#erase();
        const written = (original as (...args: unknown[]) => boolean)(chunk, ...rest);
        this.#draw();
        return written;
      }) as Writable["write"];
    }
  }

  event(lines: string | string[]): void {
    this.#erase();
    for (const line of typeof lines === "string" ? [lines] : lines) this.#raw(`${line}\n`);
    this.#draw();
  }

  update(status: StatusSnapshot): void {
    this.#status = status;
    this.#erase();
    this.#draw();
  }

  close(): void {
    for (const [stream, original] of this.#originalWrites) stream.write = original;
    this.#originalWrites.clear();
    // The last block stays on screen as the final state.
    this.#drawnLines = 0;
  }

  #raw(text: string): void {
    const write = this.#originalWrites.get(this.#out) ?? this.#out.write.bind(this.#out);
    (write as (text: string) => boolean)(text);
  }

  #erase(): void {
    if (this.#drawnLines === 0) return;
    // Up to the block's first line, column 0, then clear to the end of the screen.
    this.#raw(`\x1b[${this.#drawnLines}F\x1b[0J`);
    this.#drawnLines = 0;
  }

  #draw(): void {
    if (!this.#status || this.#originalWrites.size === 0) return;
    const width = Math.max(20, (this.#out.columns ?? 120) - 1);
    // Lines cut to the terminal width, so each takes one row and the erase count stays right.
    const lines = renderStatusBlock(this.#status).map((line) =>
      line.length > width ? line.slice(0, width) : line,
    );
    this.#raw(`${lines.join("\n")}\n`);
    this.#drawnLines = lines.length;
  }
}
