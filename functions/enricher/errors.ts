// Why a queue message was returned to the queue without being enriched; each says what happens next.

/** The body is not an incident version message: retrying cannot fix it, so it goes to the DLQ after the receive count. */
export class InvalidQueueMessageError extends Error {
  readonly messageId: string;
  readonly reason: string;
  constructor(messageId: string, reason: string) {
    super(
      `Queue message ${messageId} is not an incident version message (${reason}); it will land in the dead-letter queue after the maximum receive count.`,
    );
    this.name = "InvalidQueueMessageError";
    this.messageId = messageId;
    this.reason = reason;
  }
}

/** Why an invocation started no more records: the rest come back (see ledger.ts for how). */
export type NotStartedReason = "deadline" | "throttled" | "access_problem";

/** The function's configuration (environment) is invalid: nothing runs until the stack is fixed. */
export class EnricherConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnricherConfigurationError";
  }
}

/** The API answered "not found" for an incident get_incidents still lists: not recorded, retried later. */
export class NotFoundUnconfirmedError extends Error {
  readonly incidentId: string;
  constructor(incidentId: string, cause: unknown) {
    super(
      `Cortex answered "not found" for incident ${incidentId}, which get_incidents still lists: not recorded as not found; the message will be retried.`,
      { cause },
    );
    this.name = "NotFoundUnconfirmedError";
    this.incidentId = incidentId;
  }
}
