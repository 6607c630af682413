// The control API over HTTP, under /_emulator/ (a prefix the public API never serves), for a separate process.
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody } from "./server.ts";
import { UnknownIncidentError } from "./tenant.ts";
import type { EmulatorControl } from "./types.ts";

export const ADMIN_PREFIX = "/_emulator/";

class AdminRequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "AdminRequestError";
    this.status = status;
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  response.end(text);
}

async function jsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(request);
  if (text.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Reported below as a 400 like any other malformed control request.
  }
  throw new AdminRequestError(400, "The control API expects a JSON object body");
}

/**
 * GET incidents | listed | versions | requests | stats; POST incidents {count} or {incidents: [...]}, with
 * an optional listingDelayMs;
 * POST burst {count, modificationTime?}; POST incidents/<id>/modify {changes};
 * PUT faults {...}; DELETE faults; PUT keys/<id>/entitlements {license?, permission?}.
 */
export async function handleAdminRequest(
  control: EmulatorControl,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<void> {
  const route = path.slice(ADMIN_PREFIX.length).replace(/\/$/, "");
  const method = request.method ?? "GET";
  try {
    const body = method === "GET" || method === "DELETE" ? {} : await jsonBody(request);
    const modify = /^incidents\/([^/]+)\/modify$/.exec(route);
    const entitlements = /^keys\/([^/]+)\/entitlements$/.exec(route);
    if (method === "GET" && route === "incidents") return reply(response, 200, control.incidents());
    if (method === "GET" && route === "listed") return reply(response, 200, control.listedIncidents());
    if (method === "GET" && route === "versions") return reply(response, 200, control.versions());
    if (method === "GET" && route === "requests") return reply(response, 200, control.requests());
    if (method === "GET" && route === "stats") return reply(response, 200, control.stats());
    if (method === "POST" && route === "incidents") {
      const incidents = Array.isArray(body.incidents) ? body.incidents : Number(body.count ?? 1);
      const listingDelayMs = typeof body.listingDelayMs === "number" ? body.listingDelayMs : undefined;
      return reply(response, 200, control.addIncidents(incidents, { listingDelayMs }));
    }
    if (method === "POST" && route === "burst") {
      const modificationTime = typeof body.modificationTime === "number" ? body.modificationTime : undefined;
      return reply(response, 200, control.addBurst({ count: Number(body.count ?? 1), modificationTime }));
    }
    if (method === "POST" && modify?.[1] !== undefined) {
      const changes = Object.keys(body).length > 0 ? body : undefined;
      return reply(response, 200, control.modifyIncident(decodeURIComponent(modify[1]), changes));
    }
    if ((method === "PUT" || method === "POST") && route === "faults") {
      control.setFaults(body);
      return reply(response, 200, { ok: true });
    }
    if (method === "DELETE" && route === "faults") {
      control.clearFaults();
      return reply(response, 200, { ok: true });
    }
    if ((method === "PUT" || method === "POST") && entitlements?.[1] !== undefined) {
      control.setKeyEntitlements(decodeURIComponent(entitlements[1]), body);
      return reply(response, 200, { ok: true });
    }
    throw new AdminRequestError(404, `No control route ${method} ${path}`);
  } catch (error) {
    if (error instanceof AdminRequestError) return reply(response, error.status, { error: error.message });
    if (error instanceof UnknownIncidentError || error instanceof RangeError) {
      return reply(response, 404, { error: error.message });
    }
    throw error;
  }
}
