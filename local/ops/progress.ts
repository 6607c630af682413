// Backfill progress: a bar redrawn in place on a terminal, plain lines (at most one every 5 s) otherwise.
// The ETA is the walk's (pages left at the paced get_incidents rate) and the enricher's (what was queued,
// at the pipeline's extra-data budget per minute).
import type { Writable } from "node:stream";
import { MAX_PAGE_SIZE } from "../../functions/shared/cortex/request.ts";
import { formatAge, iso } from "./text.ts";

export interface ProgressSettings {
  /** Incidents the walk is expected to list (the ETA's denominator). */
  total: number;
  /** The paced get_incidents rate of the walk. */
  callsPerSecond: number;
  /** The pipeline's extra-data calls per minute: how fast the enricher works off what was queued. */
  budgetPerMinute: number;
  now: () => number;
}

const PLAIN_LINE_EVERY_MS = 5_000;
const BAR_WIDTH = 24;

export class BackfillProgress {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  readonly #settings: ProgressSettings;
  readonly #startedAt: number;
  #walked = 0;
  #pages = 0;
  #enqueued = 0;
  #skipped = 0;
  #at = 0;
  #lastLineAt = Number.NEGATIVE_INFINITY;

  constructor(out: Writable & { isTTY?: boolean; columns?: number }, settings: ProgressSettings) {
    this.#out = out;
    this.#settings = settings;
    this.#startedAt = settings.now();
  }

  page(listed: number, enqueued: number, skipped: number, at: number): void {
    this.#pages++;
    this.#walked += listed;
    this.#enqueued += enqueued;
    this.#skipped += skipped;
    this.#at = at;
    const now = this.#settings.now();
    if (this.#out.isTTY) {
      this.#out.write(`\r\x1b[2K${this.#bar()} ${this.#figures(now)}`);
    } else if (now - this.#lastLineAt >= PLAIN_LINE_EVERY_MS) {
      this.#lastLineAt = now;
      this.#out.write(`${iso(now)} backfill: ${this.#figures(now)}\n`);
    }
  }

  done(message: string): void {
    const now = this.#settings.now();
    if (this.#out.isTTY) this.#out.write(`\r\x1b[2K${this.#bar()} ${this.#figures(now)}\n`);
    this.#out.write(
      `${message}: ${this.#walked} listed, ${this.#enqueued} queued, ${this.#skipped} already archived, in ${formatAge((now - this.#startedAt) / 1000)}; ` +
        `${this.#drainText()}\n`,
    );
  }

  #fraction(): number {
    return this.#settings.total === 0 ? 1 : Math.min(1, this.#walked / this.#settings.total);
  }

  #bar(): string {
    const filled = Math.round(this.#fraction() * BAR_WIDTH);
    return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${String(Math.round(this.#fraction() * 100)).padStart(3)}%`;
  }

  #figures(now: number): string {
    const pagesLeft = Math.ceil(Math.max(0, this.#settings.total - this.#walked) / MAX_PAGE_SIZE);
    const perPageMs = Math.max(
      1000 / this.#settings.callsPerSecond,
      (now - this.#startedAt) / Math.max(1, this.#pages),
    );
    return (
      `${this.#walked}/${this.#settings.total} walked (at ${iso(this.#at)}), ${this.#enqueued} queued, ${this.#skipped} skipped, ` +
      `walk ETA ${formatAge((pagesLeft * perPageMs) / 1000)}; ${this.#drainText()}`
    );
  }

  /** The enricher archives at most budgetPerMinute versions a minute: what was queued needs at least this long. */
  #drainText(): string {
    const minutes = this.#enqueued / this.#settings.budgetPerMinute;
    return `enricher needs ~${formatAge(minutes * 60)} for them at ${this.#settings.budgetPerMinute} extra-data calls/min`;
  }
}
