// What became of each record of one invocation: counted by outcome, and the ones that must come back,
// with how (throttled ones after a growing backoff, deferred ones handed back to the queue). Whatever
// records as failed here is reported in the partial batch response, so SQS delivers it again.
import type { SQSRecord } from "aws-lambda";
import type { NotStartedReason } from "./errors.ts";

export class InvocationLedger {
  readonly outcomes: Record<string, number> = {};
  readonly failed = new Set<string>();
  readonly throttled: SQSRecord[] = [];
  readonly deferred: SQSRecord[] = [];
  /** Records never started (whatever then becomes of them). */
  readonly #unstarted = new Set<string>();
  /** Set once the invocation must not start another record (a throttle, an access problem, the deadline). */
  stopped: NotStartedReason | undefined;

  count(outcome: string): void {
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }

  /** Comes back after the queue's visibility timeout (or the DLQ, after the maximum receive count). */
  fail(records: readonly SQSRecord[]): void {
    for (const record of records) this.failed.add(record.messageId);
  }

  /** Throttled: the invocation starts nothing more, and these come back after a backoff. */
  throttle(records: readonly SQSRecord[]): void {
    this.stopped = "throttled";
    this.throttled.push(...records);
    this.fail(records);
  }

  /** Never started before the deadline: handed back to come again soon. */
  defer(records: readonly SQSRecord[]): void {
    this.deferred.push(...records);
    for (const record of records) this.#unstarted.add(record.messageId);
    this.fail(records);
  }

  /** Not started because the invocation had stopped; counted by why. */
  notStarted(record: SQSRecord, reason: NotStartedReason): void {
    this.count(`not_started_${reason}`);
    this.#unstarted.add(record.messageId);
    if (reason === "throttled") this.throttle([record]);
    else if (reason === "deadline") this.defer([record]);
    else this.fail([record]);
  }

  /** Of the records returned failed, those never started: they come back untried. */
  get returnedUnstarted(): number {
    return [...this.failed].filter((id) => this.#unstarted.has(id)).length;
  }

  /** Acknowledged after all (handed back to the queue as a new message). */
  acknowledge(messageIds: ReadonlySet<string>): void {
    for (const id of messageIds) this.failed.delete(id);
  }
}
