// The Cortex public API client shared by the poller and the enricher: authentication, retries, error
// mapping, reply validation, and the keyset walk over incidents sorted by modification_time.
import { setTimeout as sleepFor } from "node:timers/promises";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { Agent, type Dispatcher, request } from "undici";
import type {
  BatchExtraDataResult,
  BatchExtraDataSource,
  CallOptions,
  CortexCredentials,
  CortexProduct,
  ExtraDataResult,
  ExtraDataSource,
  IncidentCursor,
  IncidentFilterInput,
  IncidentLookup,
  IncidentPage,
  IncidentSource,
  IncidentSummary,
} from "./api.ts";
import { authHeaders } from "./auth.ts";
import {
  CortexApiError,
  CortexConfigurationError,
  type CortexErrorKind,
  errorFromResponse,
  errorFromTransport,
  redact,
  summariseErrorBody,
  withAttempts,
} from "./errors.ts";
import { BATCH_EXTRA_DATA_PATH, EXTRA_DATA_PATH, GET_INCIDENTS_PATH } from "./paths.ts";
import {
  buildGetIncidentsRequest,
  type GetIncidentsRequest,
  type GetIncidentsRequestData,
  type IncidentFilter,
  MAX_PAGE_SIZE,
  parseIncidentFilter,
  parseIncidentFilters,
} from "./request.ts";
import {
  type GetIncidentsReply,
  isRecord,
  type MalformedIncident,
  parseBatchExtraDataReply,
  parseExtraDataReply,
  parseGetIncidentsReply,
} from "./schemas.ts";
import { CORTEX_PRODUCTS, isCortexProduct } from "./vocabulary.ts";

const gunzipAsync = promisify(gunzip);

export interface CortexAttemptEvent {
  path: string;
  attempt: number;
  status?: number;
  errorKind?: CortexErrorKind;
  durationMs: number;
}

export interface CortexClientConfig<P extends CortexProduct = CortexProduct> {
  /** https://api-<tenant>.xdr.<region>.paloaltonetworks.com; plain http only to a loopback host. */
  baseUrl: string;
  product: P;
  credentials: CortexCredentials | (() => Promise<CortexCredentials>);
  /** Whole-attempt timeout (headers and body), default 30 s. */
  requestTimeoutMs?: number;
  /** Attempts per call including the first, default 5. */
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1): retry jitter. */
  random?: () => number;
  /** Epoch ms: deadlines, advanced-key timestamps, Retry-After dates. */
  now?: () => number;
  /** Cryptographic random bytes for advanced-key nonces. */
  randomBytes?: (size: number) => Uint8Array;
  dispatcher?: Dispatcher;
  /** Called after every HTTP attempt (the local runner counts calls and paces with it). */
  observer?: (event: CortexAttemptEvent) => void;
}

export interface WalkOptions extends CallOptions {
  filters?: readonly IncidentFilterInput[];
  /** Items of a page that failed the schema, awaited before the page's good items are yielded. */
  onMalformedIncidents?: (items: readonly MalformedIncident[]) => Promise<void>;
  onRestrictedIncidents?: (incidentIds: readonly string[]) => void;
}

type GetIncidentsCall = CallOptions & Pick<WalkOptions, "onRestrictedIncidents">;

/** The reply's `restricted_incident_ids` (an undocumented field real tenants send), strings only. */
function restrictedIds(reply: GetIncidentsReply): string[] {
  const ids = reply.restricted_incident_ids;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
}

// Drain pages of one crowded millisecond overlap by this much, so an incident leaving it mid-walk
// (shifting offsets down) cannot make another one slip between two pages.
const DRAIN_STEP = 90;

function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/**
 * The one rule for a Cortex base URL: https, or plain http only to a loopback host (the emulator), and no
 * credentials in it. Throws CortexConfigurationError; the runner calls it before anything starts.
 */
export function validateCortexBaseUrl(baseUrl: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new CortexConfigurationError(
      `Cortex base URL "${baseUrl}" is not a URL: expected https://api-<tenant>.xdr.<region>.paloaltonetworks.com`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new CortexConfigurationError(
      "Cortex base URL must not contain credentials: put the key in the secret",
    );
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return url;
  throw new CortexConfigurationError(
    `Cortex base URL must use https (plain http is allowed only to a loopback host such as 127.0.0.1), got ${url.protocol}//${url.host}`,
  );
}

export class CortexClient<P extends CortexProduct = CortexProduct>
  implements IncidentSource, ExtraDataSource, BatchExtraDataSource, IncidentLookup
{
  readonly product: P;
  readonly #base: URL;
  readonly #credentials: () => Promise<CortexCredentials>;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #randomBytes: ((size: number) => Uint8Array) | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #observer: ((event: CortexAttemptEvent) => void) | undefined;

  constructor(config: CortexClientConfig<P>) {
    this.#base = validateCortexBaseUrl(config.baseUrl);
    if (!isCortexProduct(config.product)) {
      throw new CortexConfigurationError(
        `Cortex product must be one of ${CORTEX_PRODUCTS.join(", ")}, got "${String(config.product)}"`,
      );
    }
    this.product = config.product;
    const credentials = config.credentials;
    this.#credentials = typeof credentials === "function" ? credentials : async () => credentials;
    this.#timeoutMs = config.requestTimeoutMs ?? 30_000;
    this.#maxAttempts = Math.max(1, config.maxAttempts ?? 5);
    this.#baseDelayMs = config.retryBaseDelayMs ?? 1_000;
    this.#maxDelayMs = config.retryMaxDelayMs ?? 30_000;
    this.#sleep = config.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
    this.#random = config.random ?? Math.random;
    this.#now = config.now ?? Date.now;
    this.#randomBytes = config.randomBytes;
    this.#ownsDispatcher = config.dispatcher === undefined;
    this.#dispatcher =
      config.dispatcher ?? new Agent({ keepAliveTimeout: 30_000, connections: 10, connectTimeout: 10_000 });
    this.#observer = config.observer;
  }

  /** Closes the keep-alive agent (only one the client created itself). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** One get_incidents call; the request is validated before anything is sent. */
  async getIncidents(request: GetIncidentsRequest<P>, options: CallOptions = {}): Promise<GetIncidentsReply> {
    return this.#getIncidents(buildGetIncidentsRequest(request, this.product), options);
  }

  async #getIncidents(data: GetIncidentsRequestData, options: GetIncidentsCall): Promise<GetIncidentsReply> {
    const reply = await this.#post(GET_INCIDENTS_PATH, data, options, (reply, rawBody) => {
      const parsed = parseGetIncidentsReply(reply);
      if ("incidents" in parsed) return parsed;
      // Retried like any unusable body (a broken item is not: it is set aside in `malformed`).
      throw unusableReply(GET_INCIDENTS_PATH, rawBody, parsed.message);
    });
    const restricted = restrictedIds(reply);
    if (restricted.length > 0) options.onRestrictedIncidents?.(restricted);
    return reply;
  }

  /** The incident with its alerts and artifacts; the reply comes back as received even when it breaks the schema. */
  async getIncidentExtraData(
    incidentId: string,
    options: CallOptions & { alertsLimit?: number } = {},
  ): Promise<ExtraDataResult> {
    const alertsLimit = options.alertsLimit ?? 1000;
    if (typeof incidentId !== "string" || incidentId.trim() === "") {
      throw new CortexApiError("invalid_request", "get_incident_extra_data needs a non-empty incident id");
    }
    if (!Number.isInteger(alertsLimit) || alertsLimit < 1) {
      throw new CortexApiError(
        "invalid_request",
        `get_incident_extra_data alerts_limit must be a positive integer, got ${alertsLimit}`,
      );
    }
    return this.#post(
      EXTRA_DATA_PATH,
      { incident_id: incidentId, alerts_limit: alertsLimit },
      options,
      parseExtraDataReply,
      incidentId,
    );
  }

  /**
   * Extra data for up to 100 incidents in one call (`incident_id_list` with `in`). Ids the tenant does not
   * know are simply absent; each element comes back exactly as received, its alerts capped by the tenant.
   */
  async getMultipleIncidentsExtraData(
    incidentIds: readonly string[],
    options: CallOptions = {},
  ): Promise<BatchExtraDataResult> {
    const filter = parseIncidentFilter(
      { field: "incident_id_list", operator: "in", value: [...incidentIds] },
      this.product,
    );
    const data = { filters: [filter], search_from: 0, search_to: MAX_PAGE_SIZE };
    return this.#post(BATCH_EXTRA_DATA_PATH, data, options, (reply, rawBody) => {
      const parsed = parseBatchExtraDataReply(reply);
      if ("elements" in parsed) return parsed;
      throw unusableReply(BATCH_EXTRA_DATA_PATH, rawBody, parsed.message);
    });
  }

  /** The incidents among `incidentIds` that get_incidents lists now (at most 100 ids). */
  async listIncidentsById(
    incidentIds: readonly string[],
    options: CallOptions = {},
  ): Promise<IncidentSummary[]> {
    const reply = await this.getIncidents(
      {
        filters: [{ field: "incident_id_list", operator: "in", value: [...incidentIds] }],
        search_from: 0,
        search_to: MAX_PAGE_SIZE,
      },
      options,
    );
    return reply.incidents;
  }

  /**
   * Every incident version modified at or after `cursor`, oldest first (keyset paging on modification_time,
   * skipping the ids already handled at the cursor millisecond). See functions/shared/cortex/README.md.
   */
  async *incidentsModifiedSince(
    cursor: IncidentCursor,
    options: WalkOptions = {},
  ): AsyncGenerator<IncidentPage> {
    const configured = parseIncidentFilters(options.filters ?? [], this.product);
    const call: WalkOptions = {
      deadline: options.deadline,
      signal: options.signal,
      onMalformedIncidents: options.onMalformedIncidents,
      onRestrictedIncidents: options.onRestrictedIncidents,
    };
    // `saved` is what a caller may persist; `from` may run ahead of it (t + 1) after draining millisecond t.
    let saved: { time: number; ids: Set<string> } = {
      time: cursor.modificationTime,
      ids: new Set(cursor.idsAtCursor),
    };
    let from = cursor.modificationTime;
    const handled = (incident: IncidentSummary): boolean =>
      incident.modification_time < from ||
      (incident.modification_time === saved.time && saved.ids.has(incident.incident_id));

    while (!this.#deadlinePassed(options.deadline)) {
      const reply = await this.#walkPage(
        {
          filters: [...configured, { field: "modification_time", operator: "gte", value: from }],
          sort: { field: "modification_time", keyword: "asc" },
          search_from: 0,
          search_to: MAX_PAGE_SIZE,
        },
        call,
      );
      const page = reply.incidents;
      assertAscending(page);
      // A broken item still took a place in the page: count it, or a full page would look like the last.
      const full = page.length + reply.malformed.length >= MAX_PAGE_SIZE;
      const first = page[0];
      if (full && first !== undefined && page.every((i) => i.modification_time === first.modification_time)) {
        // More incidents share this millisecond than a page holds: list all of it by offset, then move past it.
        const time = first.modification_time;
        const drained = await this.#drainMillisecond(time, configured, call);
        const ids = time === saved.time ? new Set([...saved.ids, ...drained.ids]) : drained.ids;
        const fresh = drained.incidents.filter((i) => !handled(i));
        saved = { time, ids };
        if (fresh.length > 0)
          yield { incidents: fresh, cursor: { modificationTime: time, idsAtCursor: [...ids] } };
        if (!drained.complete) return;
        from = time + 1;
        continue;
      }
      const fresh = page.filter((i) => !handled(i));
      const last = page.at(-1);
      if (last !== undefined && fresh.length > 0) {
        const time = last.modification_time;
        const atTime = page.filter((i) => i.modification_time === time).map((i) => i.incident_id);
        const ids = time === saved.time ? new Set([...saved.ids, ...atTime]) : new Set(atTime);
        saved = { time, ids };
        from = time;
        yield { incidents: fresh, cursor: { modificationTime: time, idsAtCursor: [...ids] } };
      }
      if (!full || fresh.length === 0) return;
    }
  }

  /**
   * One page of a walk. A page with a broken item is read once more (a passing glitch heals; a broken
   * record does not, and is not retried further); what is still broken is handed to onMalformedIncidents.
   */
  async #walkPage(data: GetIncidentsRequestData, options: WalkOptions): Promise<GetIncidentsReply> {
    let reply = await this.#getIncidents(data, options);
    if (reply.malformed.length > 0) reply = await this.#getIncidents(data, options);
    if (reply.malformed.length > 0) await options.onMalformedIncidents?.(reply.malformed);
    return reply;
  }

  /** Every incident at exactly `time`, by overlapping offset pages sorted by id; `complete` is false if the deadline cut it short. */
  async #drainMillisecond(
    time: number,
    configured: readonly IncidentFilter[],
    call: WalkOptions,
  ): Promise<{ incidents: IncidentSummary[]; ids: Set<string>; complete: boolean }> {
    const byId = new Map<string, IncidentSummary>();
    for (let offset = 0; ; offset += DRAIN_STEP) {
      if (this.#deadlinePassed(call.deadline)) {
        return { incidents: [...byId.values()], ids: new Set(byId.keys()), complete: false };
      }
      const reply = await this.#walkPage(
        {
          filters: [
            ...configured,
            { field: "modification_time", operator: "gte", value: time },
            { field: "modification_time", operator: "lte", value: time },
          ],
          sort: { field: "incident_id", keyword: "asc" },
          search_from: offset,
          search_to: offset + MAX_PAGE_SIZE,
        },
        call,
      );
      const known = byId.size;
      for (const incident of reply.incidents) {
        if (incident.modification_time === time && !byId.has(incident.incident_id)) {
          byId.set(incident.incident_id, incident);
        }
      }
      if (reply.incidents.length + reply.malformed.length < MAX_PAGE_SIZE) {
        return { incidents: [...byId.values()], ids: new Set(byId.keys()), complete: true };
      }
      if (byId.size === known) {
        // A full page with nothing new: the tenant is not honouring search_from, and looping would never end.
        throw new CortexApiError(
          "unparseable_reply",
          `get_incidents returned the same page for search_from ${offset} while listing the incidents modified at ${time}: cannot page past this millisecond.`,
          { path: GET_INCIDENTS_PATH },
        );
      }
    }
  }

  #deadlinePassed(deadline: number | undefined): boolean {
    return deadline !== undefined && this.#now() >= deadline;
  }

  /** POSTs {"request_data": data} with retries; `parse` turns the `reply` of a 2xx JSON envelope into the result. */
  async #post<T>(
    path: string,
    data: object,
    options: CallOptions,
    parse: (reply: Record<string, unknown>, rawBody: string) => T,
    incidentId?: string,
  ): Promise<T> {
    const url = new URL(this.#base.pathname.replace(/\/+$/, "") + path, this.#base);
    const body = JSON.stringify({ request_data: data });
    let lastError: CortexApiError | undefined;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (this.#deadlinePassed(options.deadline)) {
        throw (
          (lastError && withAttempts(lastError, attempt - 1)) ??
          new CortexApiError("timeout", `Deadline passed before calling ${path}: nothing was sent.`, {
            path,
            attempts: 0,
          })
        );
      }
      if (options.gate !== undefined && !(await options.gate.beforeAttempt(options.deadline))) {
        throw (
          (lastError && withAttempts(lastError, attempt - 1)) ??
          new CortexApiError(
            "timeout",
            `No API budget left for ${path} before the deadline: nothing was sent.`,
            {
              path,
              attempts: 0,
            },
          )
        );
      }
      const credentials = await this.#credentials();
      const started = this.#now();
      try {
        const { reply, rawBody, status } = await this.#attempt(
          url,
          path,
          body,
          credentials,
          options,
          incidentId,
        );
        const result = parse(reply, rawBody);
        this.#observe({ path, attempt, status, durationMs: this.#now() - started });
        return result;
      } catch (error) {
        if (!(error instanceof CortexApiError)) {
          // Not an API failure (the caller aborted): never retried, but the attempt still counts for pacing.
          this.#observe({ path, attempt, durationMs: this.#now() - started });
          throw error;
        }
        lastError = error;
        this.#observe({
          path,
          attempt,
          status: error.status,
          errorKind: error.kind,
          durationMs: this.#now() - started,
        });
      }
      if (!lastError.retryable || attempt === this.#maxAttempts) throw withAttempts(lastError, attempt);
      const delay = this.#retryDelay(attempt, lastError);
      if (options.deadline !== undefined && this.#now() + delay >= options.deadline) {
        throw withAttempts(lastError, attempt);
      }
      await this.#sleep(delay, options.signal);
    }
    // Unreachable: the loop returns or throws on its last attempt.
    throw withAttempts(lastError as CortexApiError, this.#maxAttempts);
  }

  #retryDelay(attempt: number, error: CortexApiError): number {
    if (error.retryAfterSeconds !== undefined) return error.retryAfterSeconds * 1000;
    // Full jitter: uniform between zero and the exponential ceiling.
    return this.#random() * Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1));
  }

  #observe(event: CortexAttemptEvent): void {
    if (this.#observer === undefined) return;
    if (event.status === undefined) delete event.status;
    if (event.errorKind === undefined) delete event.errorKind;
    this.#observer(event);
  }

  async #attempt(
    url: URL,
    path: string,
    body: string,
    credentials: CortexCredentials,
    options: CallOptions,
    incidentId: string | undefined,
  ): Promise<{ reply: Record<string, unknown>; rawBody: string; status: number }> {
    const secrets = [credentials.apiKey];
    const timeoutMs =
      options.deadline === undefined
        ? this.#timeoutMs
        : Math.max(1, Math.min(this.#timeoutMs, options.deadline - this.#now()));
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let status: number;
    let headers: Record<string, string | undefined>;
    let raw: Buffer;
    try {
      const response = await request(url, {
        method: "POST",
        dispatcher: this.#dispatcher,
        signal,
        headers: {
          ...authHeaders(credentials, { now: this.#now, randomBytes: this.#randomBytes }),
          "content-type": "application/json",
          accept: "application/json",
          "accept-encoding": "gzip",
        },
        body,
      });
      status = response.statusCode;
      headers = flattenHeaders(response.headers);
      raw = Buffer.from(await response.body.arrayBuffer());
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw errorFromTransport(error, path, url.host, timeout.aborted, timeoutMs);
    }
    let text: string;
    try {
      text = (headers["content-encoding"] ?? "").toLowerCase().includes("gzip")
        ? (await gunzipAsync(raw)).toString("utf8")
        : raw.toString("utf8");
    } catch (error) {
      throw new CortexApiError(
        "unparseable_reply",
        `Cortex API sent a gzip body for ${path} that does not decompress (${status}); retried.`,
        { path, status, rawBody: raw.toString("base64"), cause: error },
      );
    }
    if (status < 200 || status >= 300) {
      throw errorFromResponse({
        status,
        path,
        body: text,
        headers,
        authType: credentials.authType,
        nowMs: this.#now(),
        secrets,
        incidentId,
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!isRecord(json) || !isRecord(json.reply)) {
      const summary = redact(summariseErrorBody(text) ?? "(empty body)", secrets);
      throw new CortexApiError(
        "unparseable_reply",
        `Cortex API answered ${status} for ${path} without the JSON {"reply": {...}} envelope: "${summary}"`,
        { path, status, rawBody: redact(text, secrets), serverMessage: summary },
      );
    }
    return { reply: json.reply, rawBody: text, status };
  }
}

/** A 200 whose reply the client cannot use: retried like any unusable body. */
function unusableReply(path: string, rawBody: string, message: string): CortexApiError {
  return new CortexApiError(
    "unparseable_reply",
    `Cortex API sent a reply the client cannot use: ${message}`,
    {
      path,
      status: 200,
      rawBody,
      serverMessage: message,
    },
  );
}

// Keyset paging is only correct over a sorted page; an unsorted one would silently skip incidents.
function assertAscending(page: readonly IncidentSummary[]): void {
  for (let index = 1; index < page.length; index++) {
    const previous = page[index - 1] as IncidentSummary;
    const current = page[index] as IncidentSummary;
    if (current.modification_time < previous.modification_time) {
      throw new CortexApiError(
        "unparseable_reply",
        `get_incidents ignored sort modification_time asc (item ${index} is older than item ${index - 1}): cannot page safely.`,
        { path: GET_INCIDENTS_PATH },
      );
    }
  }
}

function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}
