// A real HTTP server on 127.0.0.1 that plays a Cortex tenant for the client's unit tests: each test
// decides the replies, the server records what the client sent.
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import type { CortexCredentials, CortexProduct } from "../../../functions/shared/cortex/api.ts";
import { CortexClient, type CortexClientConfig } from "../../../functions/shared/cortex/client.ts";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: { request_data: Record<string, unknown> };
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  /** Sent as JSON unless `text` is given. */
  json?: unknown;
  text?: string;
  gzip?: boolean;
  /** Never answer (to exercise timeouts). */
  hang?: boolean;
}

export type Responder = (request: RecordedRequest, index: number) => FakeReply | Promise<FakeReply>;

export interface FakeCortex {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeCortex(responder: Responder): Promise<FakeCortex> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"),
    };
    requests.push(recorded);
    const reply = await responder(recorded, requests.length - 1);
    if (reply.hang) return;
    let body: Buffer = Buffer.from(reply.text ?? JSON.stringify(reply.json ?? {}), "utf8");
    const headers: Record<string, string> = {
      "content-type": reply.text === undefined ? "application/json" : "text/html",
      ...reply.headers,
    };
    if (reply.gzip) {
      body = gzipSync(body);
      headers["content-encoding"] = "gzip";
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const STANDARD_KEY: CortexCredentials = {
  apiKey: "STANDARDKEY-do-not-leak-0123456789",
  apiKeyId: "7",
  authType: "standard",
};

export const ADVANCED_KEY: CortexCredentials = {
  apiKey: "ADVANCEDKEY-do-not-leak-9876543210",
  apiKeyId: "12",
  authType: "advanced",
};

/** A client whose sleeps return at once and are recorded, with fixed jitter. */
export function testClient<P extends CortexProduct = "xdr">(
  url: string,
  overrides: Partial<CortexClientConfig<P>> = {},
): { client: CortexClient<P>; sleeps: number[] } {
  const sleeps: number[] = [];
  const client = new CortexClient<P>({
    baseUrl: url,
    product: "xdr" as P,
    credentials: STANDARD_KEY,
    retryBaseDelayMs: 100,
    retryMaxDelayMs: 1_000,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { client, sleeps };
}

export function incident(id: string, modificationTime: number, extra: Record<string, unknown> = {}) {
  return {
    incident_id: id,
    creation_time: 1_600_000_000_000,
    modification_time: modificationTime,
    severity: "high",
    status: "new",
    ...extra,
  };
}

export function incidentsReply(incidents: unknown[]) {
  return { reply: { total_count: incidents.length, result_count: incidents.length, incidents } };
}
