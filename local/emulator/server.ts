// The public API: routing, authentication, rate limits, faults, and the two incident endpoints.
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { CORTEX_API_PATHS } from "../../functions/shared/cortex/paths.ts";
import type { KeyVerifier } from "./auth.ts";
import { batchExtraDataReply } from "./batch-extra-data.ts";
import type { FaultPlan } from "./faults.ts";
import { getIncidentsReply } from "./get-incidents.ts";
import type { RequestJournal } from "./journal.ts";
import { spellSeveritiesForPlatform } from "./platform-severities.ts";
import { InvalidQueryError } from "./query.ts";
import type { SlidingWindow } from "./rate-limits.ts";
import { BAD_GATEWAY_HTML, ERROR_MESSAGES, xdrError, xpanseUnprocessable } from "./replies.ts";
import { type IncidentStore, UnknownIncidentError } from "./tenant.ts";
import type { EmulatedProduct, EmulatorEndpoint } from "./types.ts";

export const DEFAULT_ALERTS_LIMIT = 1000;

// Keyed without the trailing slash, which the real service treats as optional.
const ROUTES: Readonly<Record<string, EmulatorEndpoint>> = Object.fromEntries(
  (Object.entries(CORTEX_API_PATHS) as [EmulatorEndpoint, string][]).map(([endpoint, path]) => [
    path.replace(/\/$/, ""),
    endpoint,
  ]),
);

export interface PublicApiContext {
  product: EmulatedProduct;
  store: IncidentStore;
  verifier: KeyVerifier;
  faults: FaultPlan;
  journal: RequestJournal;
  limits: { tenant: SlidingWindow; extraData: SlidingWindow; batchExtraData: SlidingWindow };
  /** Alerts per incident in a get_multiple_incidents_extra_data reply. */
  batchAlertsPerIncident: number;
  clock: () => number;
}

interface Answer {
  status: number;
  body: unknown;
  /** Pre-serialised body (HTML pages); otherwise `body` is sent as JSON. */
  raw?: { text: string; contentType: string };
  fault?: string;
  reason?: string;
  /** How the answer leaves: normally, cut after half the body, or not at all (connection reset). */
  delivery?: "reset" | "truncated";
}

export function endpointFor(path: string): EmulatorEndpoint | undefined {
  const withoutSlash = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  return ROUTES[withoutSlash];
}

export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseRequestData(text: string): { ok: true; data: unknown } | { ok: false; error: string } {
  try {
    const parsed: unknown = JSON.parse(text);
    return { ok: true, data: (parsed as { request_data?: unknown } | null)?.request_data };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

export async function handlePublicRequest(
  context: PublicApiContext,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<void> {
  const receivedAt = context.clock();
  const endpoint = endpointFor(path);
  const parsed = parseRequestData(await readBody(request));
  const answer = await answerRequest(context, request, endpoint, parsed);
  const keyId = request.headers["x-xdr-auth-id"];
  context.journal.record({
    time: receivedAt,
    method: request.method ?? "",
    path,
    endpoint: endpoint ?? "unknown",
    status: answer.status,
    keyId: Array.isArray(keyId) ? keyId[0] : keyId,
    requestData: parsed.ok ? parsed.data : undefined,
    ...(answer.fault === undefined ? {} : { fault: answer.fault }),
    ...(answer.reason === undefined ? {} : { reason: answer.reason }),
  });

  if (answer.delivery === "reset") {
    response.socket?.resetAndDestroy();
    return;
  }
  send(request, response, answer);

  if (endpoint === "get_incidents" && answer.status === 200) {
    const count = context.faults.modifyBetweenPages();
    if (count > 0) context.store.modifySome(count, context.faults.choices);
  }
}

async function answerRequest(
  context: PublicApiContext,
  request: IncomingMessage,
  endpoint: EmulatorEndpoint | undefined,
  parsed: ReturnType<typeof parseRequestData>,
): Promise<Answer> {
  const { faults } = context;
  // A tenant without the batch endpoint answers it like any path it does not serve.
  const unserved = endpoint === "get_multiple_incidents_extra_data" && faults.withoutBatchEndpoint();
  if (endpoint === undefined || unserved)
    return { status: 404, body: xdrError(404, ERROR_MESSAGES[404], request.url ?? null) };
  const latency = faults.latencyMs(endpoint);
  if (latency > 0) await sleep(latency);
  if (request.method !== "POST") return { status: 405, body: xdrError(405, ERROR_MESSAGES[405]) };

  const auth = context.verifier.verify(request.headers, context.clock() + faults.clockSkewMs());
  if (!auth.ok)
    return {
      status: auth.status,
      body: xdrError(auth.status, ERROR_MESSAGES[auth.status]),
      reason: auth.reason,
    };

  const throttled = { status: 429, body: xdrError(429, ERROR_MESSAGES[429]) };
  if (faults.takeThrottle(endpoint)) return { ...throttled, fault: "throttleBurst" };
  const now = context.clock();
  const { tenant } = context.limits;
  const own = endpointLimit(context, endpoint);
  if (!tenant.hasRoom(now)) return { ...throttled, reason: "tenant rate limit" };
  if (own !== undefined && !own.window.hasRoom(now)) return { ...throttled, reason: own.reason };
  tenant.consume(now);
  own?.window.consume(now);

  if (faults.strikes("connectionResetRate", endpoint)) {
    return { status: 0, body: null, fault: "connectionReset", delivery: "reset" };
  }
  if (faults.strikes("serverErrorRate", endpoint)) {
    return { status: 500, body: xdrError(500, ERROR_MESSAGES[500]), fault: "serverError" };
  }
  if (faults.strikes("nonJsonBodyRate", endpoint)) {
    return {
      status: 502,
      body: null,
      raw: { text: BAD_GATEWAY_HTML, contentType: "text/html" },
      fault: "nonJsonBody",
    };
  }

  if (!parsed.ok) return { status: 400, body: xdrError(400, ERROR_MESSAGES[400], parsed.error) };
  const answer = respond(context, endpoint, parsed.data);
  if (answer.status === 200 && faults.platformSeverities()) {
    spellSeveritiesForPlatform(answer.body as { reply: Record<string, unknown> }, endpoint);
  }
  if (answer.status === 200 && faults.strikes("schemaViolationRate", endpoint)) {
    breakSchema(answer.body as { reply: Record<string, unknown> }, endpoint, faults.choices.next());
    answer.fault = "schemaViolation";
  }
  if (answer.status === 200 && faults.strikes("truncatedBodyRate", endpoint)) {
    answer.fault = "truncatedBody";
    answer.delivery = "truncated";
  }
  return answer;
}

/** The endpoint's own budget on top of the tenant-wide one (get_incidents has none documented). */
function endpointLimit(
  context: PublicApiContext,
  endpoint: EmulatorEndpoint,
): { window: SlidingWindow; reason: string } | undefined {
  if (endpoint === "get_incident_extra_data")
    return { window: context.limits.extraData, reason: "extra data rate limit" };
  if (endpoint === "get_multiple_incidents_extra_data")
    return { window: context.limits.batchExtraData, reason: "batch extra data rate limit" };
  return undefined;
}

function invalidRequest(product: EmulatedProduct, error: InvalidQueryError): Answer {
  // XDR surfaces request validation as its generic 500; Xpanse documents a 422 for it.
  return product === "xpanse"
    ? { status: 422, body: xpanseUnprocessable(error.message, error.field), reason: error.message }
    : { status: 500, body: xdrError(500, ERROR_MESSAGES[500], error.message), reason: error.message };
}

function respond(context: PublicApiContext, endpoint: EmulatorEndpoint, requestData: unknown): Answer {
  try {
    if (typeof requestData !== "object" || requestData === null || Array.isArray(requestData)) {
      throw new InvalidQueryError("request_data must be an object", "request_data");
    }
    const data = requestData as Record<string, unknown>;
    if (endpoint === "get_incidents") {
      return {
        status: 200,
        body: { reply: getIncidentsReply(context.store, context.faults, context.product, data) },
      };
    }
    if (endpoint === "get_multiple_incidents_extra_data") {
      const reply = batchExtraDataReply(context.store, data, context.product, context.batchAlertsPerIncident);
      return { status: 200, body: { reply } };
    }
    const incidentId = data.incident_id;
    if (typeof incidentId !== "string" && typeof incidentId !== "number") {
      throw new InvalidQueryError("incident_id is required", "incident_id");
    }
    const limit = data.alerts_limit ?? DEFAULT_ALERTS_LIMIT;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0) {
      throw new InvalidQueryError("alerts_limit must be a non-negative integer", "alerts_limit");
    }
    const reply = context.store.extraData(String(incidentId), limit);
    // A real incident answered as unknown, once: the answer a client must not take as proof.
    if (context.faults.takeTransientNotFound()) {
      const message = new UnknownIncidentError(String(incidentId)).message;
      return { status: 500, body: xdrError(500, ERROR_MESSAGES[500], message), fault: "transientNotFound" };
    }
    return { status: 200, body: { reply } };
  } catch (error) {
    if (error instanceof InvalidQueryError) return invalidRequest(context.product, error);
    if (error instanceof UnknownIncidentError) {
      // Contract agreed with the client: an unknown incident is the generic 500 naming the id.
      return { status: 500, body: xdrError(500, ERROR_MESSAGES[500], error.message), reason: error.message };
    }
    throw error;
  }
}

/** Damages a 200 reply the way real payloads have been seen to drift from the documented schema. */
function breakSchema(
  body: { reply: Record<string, unknown> },
  endpoint: EmulatorEndpoint,
  roll: number,
): void {
  const { reply } = body;
  if (endpoint === "get_incidents") {
    const first = (reply.incidents as Record<string, unknown>[])[0];
    if (roll < 0.5 || first === undefined) reply.total_count = String(reply.total_count);
    else delete first.modification_time;
    return;
  }
  // The batch reply's first element drifts the way a single reply does.
  const element =
    endpoint === "get_multiple_incidents_extra_data"
      ? (reply.incidents as Record<string, unknown>[])[0]
      : reply;
  if (element === undefined) {
    reply.total_count = String(reply.total_count);
    return;
  }
  if (roll < 0.5)
    (element.alerts as Record<string, unknown>).total_count = String(
      (element.alerts as { total_count: number }).total_count,
    );
  else delete (element.incident as Record<string, unknown>).incident_id;
}

function send(request: IncomingMessage, response: ServerResponse, answer: Answer): void {
  const text = answer.raw?.text ?? JSON.stringify(answer.body);
  const gzip = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
  const payload = gzip ? gzipSync(text) : Buffer.from(text);
  response.statusCode = answer.status;
  response.setHeader("Content-Type", answer.raw?.contentType ?? "application/json");
  if (gzip) response.setHeader("Content-Encoding", "gzip");
  if (answer.status === 405) response.setHeader("Allow", "POST");
  response.setHeader("Content-Length", payload.length);
  if (answer.delivery !== "truncated") {
    response.end(payload);
    return;
  }
  // Promise the whole body, deliver half, then drop the connection.
  response.write(payload.subarray(0, Math.floor(payload.length / 2)), () => response.socket?.destroy());
}
