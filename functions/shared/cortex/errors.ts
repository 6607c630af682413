// One typed error per way a Cortex API call can fail. Messages say what to check; none contains a key.

export type CortexErrorKind =
  | "invalid_request" // 400, or a request rejected before it was sent
  | "bad_key" // 401
  | "license" // 402
  | "permission" // 403
  | "not_found" // 404: wrong FQDN or path
  | "incident_not_found" // get_incident_extra_data for an id the tenant does not have
  | "unprocessable" // 422 (Xpanse)
  | "throttled" // 429
  | "server_error" // 5xx
  | "timeout"
  | "network"
  | "unparseable_reply"; // 2xx whose body is not the JSON envelope

const RETRYABLE: ReadonlySet<CortexErrorKind> = new Set([
  "throttled",
  "server_error",
  "timeout",
  "network",
  "unparseable_reply",
]);

export interface CortexErrorDetails {
  /** HTTP status, when a response arrived. */
  status?: number;
  /** The API path called, e.g. /public_api/v1/incidents/get_incidents/. */
  path?: string;
  /** The server's own error text (err_msg / err_extra / message), already stripped of any secret. */
  serverMessage?: string;
  /** Seconds from a Retry-After header, when the server sent one. */
  retryAfterSeconds?: number;
  /** The raw body of a reply that could not be parsed, for archiving and diagnosis. */
  rawBody?: string;
  attempts?: number;
  cause?: unknown;
}

export class CortexApiError extends Error {
  readonly kind: CortexErrorKind;
  readonly status: number | undefined;
  readonly path: string | undefined;
  readonly serverMessage: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly rawBody: string | undefined;
  readonly attempts: number | undefined;

  constructor(kind: CortexErrorKind, message: string, details: CortexErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "CortexApiError";
    this.kind = kind;
    this.status = details.status;
    this.path = details.path;
    this.serverMessage = details.serverMessage;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.rawBody = details.rawBody;
    this.attempts = details.attempts;
  }

  /** Worth another attempt later: throttling, 5xx, timeouts, network failures, truncated bodies. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }

  /** Credentials or entitlement problems: retrying cannot help, a person must act. */
  get isAccessProblem(): boolean {
    return this.kind === "bad_key" || this.kind === "license" || this.kind === "permission";
  }
}

export function isCortexError(error: unknown, kind?: CortexErrorKind): error is CortexApiError {
  return error instanceof CortexApiError && (kind === undefined || error.kind === kind);
}
