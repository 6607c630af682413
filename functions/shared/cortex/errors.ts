// One typed error per way a Cortex API call can fail. Messages say what to check; none contains a key.
import type { CortexAuthType } from "./api.ts";
import { EXTRA_DATA_PATH } from "./paths.ts";

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

/** The client was configured wrongly (base URL, secret contents): fix the configuration, no call was made. */
export class CortexConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CortexConfigurationError";
  }
}

const SUMMARY_MAX_CHARS = 300;
const INCIDENT_NOT_FOUND = /not found|does not exist/i;

/** Replaces every occurrence of each secret with [redacted], so no key can leak through an echoed body. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length > 0) result = result.split(secret).join("[redacted]");
  }
  return result;
}

function textOf(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") {
    const trimmed = value.trim();
    if (trimmed === "") return undefined;
    // err_msg is sometimes itself JSON: {"line": 1, "column": 19, "message": "..."}
    if (trimmed.startsWith("{")) {
      try {
        const inner: unknown = JSON.parse(trimmed);
        if (typeof inner === "object" && inner !== null && "message" in inner) {
          return textOf((inner as { message: unknown }).message) ?? trimmed;
        }
      } catch {
        // Not JSON after all: the text itself is the message.
      }
    }
    return trimmed;
  }
  if (Array.isArray(value)) {
    const parts = value.map(textOf).filter((part): part is string => part !== undefined);
    return parts.length > 0 ? parts.join("; ") : undefined;
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function truncate(text: string): string {
  return text.length > SUMMARY_MAX_CHARS ? `${text.slice(0, SUMMARY_MAX_CHARS)}...` : text;
}

/**
 * The server's own words from an error body: the XDR envelope {"reply": {err_code, err_msg, err_extra}} (also
 * without the `reply` wrapper), Xpanse's {code, status, message, errors}, or plain text / HTML summarised.
 */
export function summariseErrorBody(body: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    const text = body
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, " ")
      .replace(/<[^>]*>/g, " ")
      .replace(/&nbsp;/g, " ")
      .replace(/\s+/g, " ")
      .trim();
    return text === "" ? undefined : truncate(text);
  }
  if (typeof json !== "object" || json === null) return textOf(json);
  const outer = json as Record<string, unknown>;
  const envelope =
    typeof outer.reply === "object" && outer.reply !== null
      ? (outer.reply as Record<string, unknown>)
      : outer;
  if ("err_msg" in envelope || "err_extra" in envelope || "err_code" in envelope) {
    const parts = [textOf(envelope.err_msg), textOf(envelope.err_extra)].filter((p) => p !== undefined);
    return parts.length > 0 ? truncate(parts.join(": ")) : undefined;
  }
  if ("message" in envelope || "errors" in envelope) {
    const parts = [textOf(envelope.message), textOf(envelope.errors)].filter((p) => p !== undefined);
    const emptyErrors = parts.length === 2 && parts[1] === "{}";
    return parts.length > 0 ? truncate((emptyErrors ? parts.slice(0, 1) : parts).join(": ")) : undefined;
  }
  const text = textOf(envelope);
  return text === "{}" ? undefined : text && truncate(text);
}

/** Retry-After as seconds (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

export interface ErrorResponse {
  status: number;
  path: string;
  body: string;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  authType: CortexAuthType;
  /** This host's clock when the response arrived, epoch ms. */
  nowMs: number;
  /** Values that must never appear in a message (the API key). */
  secrets: readonly string[];
  /** For get_incident_extra_data: the incident asked for. */
  incidentId?: string;
}

function clockSkew(dateHeader: string | undefined, nowMs: number): string {
  const serverMs = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
  if (Number.isNaN(serverMs)) return "check that this host's clock is synchronised (NTP)";
  const seconds = Math.round((nowMs - serverMs) / 1000);
  if (seconds === 0) return "this host's clock agrees with the server's Date header to the second";
  return `this host is ${Math.abs(seconds)} s ${seconds > 0 ? "ahead of" : "behind"} the server`;
}

/** What a status's message may draw on: where the answer came from and the response itself. */
interface StatusContext {
  where: string;
  path: string;
  status: number;
  response: ErrorResponse;
}
type StatusRule = (context: StatusContext) => [CortexErrorKind, string];

function keyAdvice(response: ErrorResponse): string {
  return response.authType === "advanced"
    ? `For an advanced key the usual cause is clock skew: ${clockSkew(response.headers.date, response.nowMs)}. Otherwise check the key, the key id and that the secret's authType is "advanced".`
    : `Check the API key and key id (x-xdr-auth-id) in the secret, that the key is not expired or revoked, and that authType "standard" matches the key.`;
}

/** Each status the API documents, with what to check; other statuses by class below. */
const STATUS_RULES: Readonly<Record<number, StatusRule>> = {
  400: ({ where }) => [
    "invalid_request",
    `Cortex API rejected the request as invalid ${where}: check the filters, sort and search window.`,
  ],
  401: ({ where, response }) => ["bad_key", `Cortex API rejected the key ${where}. ${keyAdvice(response)}`],
  402: ({ where }) => [
    "license",
    `The Cortex tenant lacks the license this API needs ${where}: Cortex XDR Prevent/Pro or Xpanse Expander.`,
  ],
  403: ({ path, status }) => [
    "permission",
    `The API key lacks the RBAC permission for ${path} (${status}): give the key's role read access to incidents and alerts.`,
  ],
  404: ({ path }) => [
    "not_found",
    `Cortex API answered 404 for ${path}: check that the base URL is the tenant's API FQDN (https://api-<tenant>.xdr.<region>.paloaltonetworks.com) and the path.`,
  ],
  422: ({ where }) => [
    "unprocessable",
    `Cortex API could not process the request ${where}: check the filter values.`,
  ],
  429: ({ where }) => [
    "throttled",
    `Cortex API throttled the call ${where}: the tenant allows about 10 requests per second, get_incident_extra_data 10 per minute.`,
  ],
};

const serverError: StatusRule = ({ where }) => [
  "server_error",
  `Cortex API server error ${where}: usually transient; if it persists, check the request and the tenant's status.`,
];
const redirected: StatusRule = ({ where, response }) => [
  "not_found",
  `Cortex API redirected ${where} to ${response.headers.location ?? "another location"}: check the base URL is the tenant's API FQDN.`,
];
const refused: StatusRule = ({ where }) => [
  "invalid_request",
  `Cortex API refused the request ${where}: check the request.`,
];

function statusRule(status: number): StatusRule {
  if (STATUS_RULES[status] !== undefined) return STATUS_RULES[status];
  if (status >= 500) return serverError;
  return status >= 300 && status < 400 ? redirected : refused;
}

/** Maps a non-2xx response to one typed error whose message says what to check. */
export function errorFromResponse(response: ErrorResponse): CortexApiError {
  const { status, path, incidentId } = response;
  const serverText = summariseErrorBody(response.body);
  const serverMessage = serverText === undefined ? undefined : redact(serverText, response.secrets);
  const said = serverMessage === undefined ? "" : ` Server said: "${serverMessage}".`;
  const retryAfterSeconds = parseRetryAfter(response.headers["retry-after"], response.nowMs);
  const details: CortexErrorDetails = { status, path, serverMessage, retryAfterSeconds };
  const where = `(${status} from ${path})`;

  // A generic 500 (or 400) is also how the tenant reports an unknown incident id; 401/403/404/429 never are.
  const notFoundCandidate = ![401, 402, 403, 404, 429].includes(status);
  if (path === EXTRA_DATA_PATH && notFoundCandidate && INCIDENT_NOT_FOUND.test(serverMessage ?? "")) {
    return new CortexApiError(
      "incident_not_found",
      `Cortex has no incident ${incidentId ?? "(unknown id)"} ${where}: it may have been deleted or merged.${said}`,
      details,
    );
  }
  const [kind, message] = statusRule(status)({ where, path, status, response });
  return new CortexApiError(kind, `${message}${said}`, details);
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"]);

/** Maps a failure below HTTP (no complete response) to a timeout or network error. */
export function errorFromTransport(
  error: unknown,
  path: string,
  host: string,
  timedOut: boolean,
  timeoutMs: number,
): CortexApiError {
  const code =
    typeof error === "object" && error !== null && "code" in error
      ? String((error as { code: unknown }).code)
      : "";
  if (timedOut || TIMEOUT_CODES.has(code)) {
    return new CortexApiError(
      "timeout",
      `Cortex API did not answer ${path} on ${host} within ${timeoutMs} ms; if it persists, check network egress to the tenant.`,
      { path, cause: error },
    );
  }
  const reason = code === "" ? (error instanceof Error ? error.message : String(error)) : code;
  return new CortexApiError(
    "network",
    `Could not reach the Cortex API at ${host} for ${path} (${reason}): check the base URL, DNS and outbound network access.`,
    { path, cause: error },
  );
}

/** The same error, recording how many attempts were made before giving up (the message says so only when it was retried). */
export function withAttempts(error: CortexApiError, attempts: number): CortexApiError {
  const message = attempts > 1 ? `${error.message} (gave up after ${attempts} attempts)` : error.message;
  return new CortexApiError(error.kind, message, {
    status: error.status,
    path: error.path,
    serverMessage: error.serverMessage,
    retryAfterSeconds: error.retryAfterSeconds,
    rawBody: error.rawBody,
    attempts,
    cause: error.cause,
  });
}
