// The single-incident phase of an invocation: records enriched one after another by
// get_incident_extra_data, in the order they are handed over. In single mode that is every record; in
// batch mode the batch phase hands over, as soon as it knows them, the incidents it cannot settle (alerts
// cut, absent from the reply, awaiting completion), so these calls start while the batch is still being
// archived. One record's failure is its own: it is recorded in the ledger, never thrown.
import type { Logger } from "@aws-lambda-powertools/logger";
import type { ChangeEventPublisher } from "../shared/change-event-publisher.ts";
import { isCortexError } from "../shared/cortex/errors.ts";
import type { EnrichmentContext } from "./context.ts";
import { enrichIncidentVersion } from "./enrich-incident.ts";
import type { InvocationLedger } from "./ledger.ts";
import type { ParsedRecord } from "./records.ts";

export interface SingleStep {
  /** The invocation's context; its pacer serves the priority lane first, when there is one. */
  context: EnrichmentContext;
  ledger: InvocationLedger;
  changeEvents: ChangeEventPublisher | undefined;
}

/** Why the invocation stops after this error, if it does. */
function stopReason(error: unknown): "throttled" | "access_problem" | undefined {
  if (isCortexError(error, "throttled")) return "throttled";
  if (isCortexError(error) && (error.isAccessProblem || error.kind === "not_found")) return "access_problem";
  return undefined;
}

function logFailure(log: Logger, error: unknown, stop: ReturnType<typeof stopReason>): void {
  if (stop === "throttled") {
    log.warn("Throttled by the Cortex API; stopping the batch and backing off the rest", { error });
  } else if (stop === "access_problem") {
    log.error((error as Error).message, { error });
  } else {
    log.error("Could not enrich this incident version; it will be retried", { error });
  }
}

/** One record: skip if covered, fetch within the budget, archive, claim and publish, record. */
export async function enrichRecord(step: SingleStep, { record, message }: ParsedRecord): Promise<void> {
  const { context, ledger } = step;
  if (ledger.stopped === undefined && context.now() >= context.deadline) ledger.stopped = "deadline";
  if (ledger.stopped !== undefined) return ledger.notStarted(record, ledger.stopped);
  // A child logger per record: every line carries the incident id, even when the local runner shares
  // one logger between concurrent handler instances.
  const log = context.logger.createChild();
  log.appendKeys({ incident_id: message.incident_id, message_id: record.messageId });
  try {
    const outcome = await enrichIncidentVersion({ ...context, logger: log }, message);
    await step.changeEvents?.flush();
    if (outcome.kind === "deferred") {
      ledger.stopped = "deadline";
      log.info("No API slot left before the deadline; returning the rest of the batch");
      return ledger.notStarted(record, "deadline");
    }
    ledger.count(outcome.kind);
  } catch (error) {
    const stop = stopReason(error);
    logFailure(log, error, stop);
    ledger.count("failed");
    if (stop === "throttled") ledger.throttle([record]);
    else {
      if (stop !== undefined) ledger.stopped = stop;
      ledger.fail([record]);
    }
  }
}

/** Runs `step` for each record handed over, one at a time, in order. */
export class SingleLane {
  readonly #step: (record: ParsedRecord) => Promise<void>;
  readonly #waiting: ParsedRecord[] = [];
  #handedOver = 0;
  #working: Promise<void> | undefined;

  constructor(step: (record: ParsedRecord) => Promise<void>) {
    this.#step = step;
  }

  add(records: readonly ParsedRecord[]): void {
    this.#waiting.push(...records);
    this.#handedOver += records.length;
    this.#working ??= this.#work();
  }

  /** Every record handed over so far, started or not. */
  get handedOver(): number {
    return this.#handedOver;
  }

  /** Takes back the records not started yet beyond the first `keep` handed over (the last ones first). */
  release(keep: number): ParsedRecord[] {
    const excess = Math.min(this.#waiting.length, this.#handedOver - keep);
    if (excess <= 0) return [];
    this.#handedOver -= excess;
    return this.#waiting.splice(this.#waiting.length - excess, excess);
  }

  /** Settles once every record handed over so far is done. */
  async drained(): Promise<void> {
    await this.#working;
  }

  async #work(): Promise<void> {
    for (let next = this.#waiting.shift(); next !== undefined; next = this.#waiting.shift()) {
      await this.#step(next);
    }
    this.#working = undefined;
  }
}
