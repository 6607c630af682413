// Raw HTTP against the emulator, with auth headers computed here independently of any client code,
// so a bug in the project's Cortex client cannot hide a bug in the emulator.
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { request } from "undici";
import type { EmulatedIncident, EmulatorKey } from "../../local/emulator/index.ts";

export const INCIDENTS_PATH = "/public_api/v1/incidents/get_incidents/";
export const EXTRA_DATA_PATH = "/public_api/v1/incidents/get_incident_extra_data/";
export const BATCH_EXTRA_DATA_PATH = "/public_api/v1/incidents/get_multiple_incidents_extra_data/";

export function standardHeaders(key: EmulatorKey): Record<string, string> {
  return { authorization: key.key, "x-xdr-auth-id": key.id };
}

export function advancedHeaders(
  key: EmulatorKey,
  options: { timestamp?: number; nonce?: string } = {},
): Record<string, string> {
  const nonce = options.nonce ?? randomBytes(48).toString("base64url").replace(/[-_]/g, "a").slice(0, 64);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000) * 1000);
  const authorization = createHash("sha256").update(`${key.key}${nonce}${timestamp}`).digest("hex");
  return { authorization, "x-xdr-auth-id": key.id, "x-xdr-nonce": nonce, "x-xdr-timestamp": timestamp };
}

/** A parsed reply as the tests read it: any field may be reached, and expect() does the checking. */
// biome-ignore lint/suspicious/noExplicitAny: replies are asserted field by field, including malformed ones
export type ParsedJson = any;

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as sent on the wire (still gzip when the server compressed it). */
  bytes: Buffer;
  text: string;
  json: () => ParsedJson;
}

export async function post(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  method: "POST" | "GET" | "PUT" | "DELETE" = "POST",
): Promise<RawAnswer> {
  const payload = typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body);
  const response = await request(`${baseUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: payload,
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const text = (response.headers["content-encoding"] === "gzip" ? gunzipSync(bytes) : bytes).toString("utf8");
  return {
    status: response.statusCode,
    headers: response.headers,
    bytes,
    text,
    json: () => JSON.parse(text),
  };
}

/** get_incidents with a standard key; returns the parsed reply. */
export async function getIncidents(baseUrl: string, key: EmulatorKey, requestData: Record<string, unknown>) {
  const answer = await post(baseUrl, INCIDENTS_PATH, { request_data: requestData }, standardHeaders(key));
  if (answer.status !== 200) throw new Error(`get_incidents answered ${answer.status}: ${answer.text}`);
  return answer.json().reply as { total_count: number; result_count: number; incidents: EmulatedIncident[] };
}
