import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { authHeaders, createNonce } from "../../../functions/shared/cortex/auth.ts";
import {
  ADVANCED_KEY,
  type FakeCortex,
  incidentsReply,
  STANDARD_KEY,
  startFakeCortex,
  testClient,
} from "./fake-cortex-server.ts";

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

describe("authentication headers", () => {
  it("sends a standard key as Authorization with the key id", () => {
    expect(authHeaders(STANDARD_KEY)).toEqual({
      Authorization: STANDARD_KEY.apiKey,
      "x-xdr-auth-id": "7",
    });
  });

  it("signs an advanced key as sha256(key + nonce + timestamp) with the timestamp in whole seconds", () => {
    const headers = authHeaders(ADVANCED_KEY, { now: () => 1_700_000_123_456 });
    expect(headers["x-xdr-timestamp"]).toBe("1700000123000");
    expect(headers["x-xdr-auth-id"]).toBe("12");
    expect(headers["x-xdr-nonce"]).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(headers.Authorization).toBe(
      sha256Hex(`${ADVANCED_KEY.apiKey}${headers["x-xdr-nonce"]}1700000123000`),
    );
    expect(headers.Authorization).not.toContain(ADVANCED_KEY.apiKey);
  });

  it("matches a hash computed by hand for fixed inputs", () => {
    const zeros = () => new Uint8Array(64); // byte 0 -> "A"
    const headers = authHeaders(ADVANCED_KEY, { now: () => 1_000, randomBytes: zeros });
    expect(headers["x-xdr-nonce"]).toBe("A".repeat(64));
    // Computed outside Node: printf '%s' "ADVANCEDKEY-do-not-leak-9876543210<64 x A>1000" | sha256sum
    expect(headers.Authorization).toBe("fcc004c4399977b755f954783c0741286d0d4a3481b2b6f57c3fae1056ab712d");
  });

  it("draws nonces without modulo bias: bytes of 248 and above are discarded", () => {
    const bytes = [255, 248, 61, ...new Array(200).fill(0)];
    const nonce = createNonce((size) => Uint8Array.from(bytes.splice(0, size)));
    expect(nonce).toHaveLength(64);
    expect(nonce.startsWith("9A")).toBe(true);
  });

  it("makes a different nonce for every request", () => {
    const nonces = new Set(Array.from({ length: 50 }, () => authHeaders(ADVANCED_KEY)["x-xdr-nonce"]));
    expect(nonces.size).toBe(50);
  });
});

describe("authentication on the wire", () => {
  let server: FakeCortex | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it("signs every attempt afresh, retries included, and the server can verify each signature", async () => {
    server = await startFakeCortex((_request, index) =>
      index < 2 ? { status: 503, text: "busy" } : { json: incidentsReply([]) },
    );
    let clock = 1_700_000_000_999;
    const { client } = testClient(server.url, { credentials: ADVANCED_KEY, now: () => (clock += 1_000) });
    await client.getIncidents({});
    await client.close();

    expect(server.requests).toHaveLength(3);
    const nonces = server.requests.map((r) => r.headers["x-xdr-nonce"]);
    expect(new Set(nonces).size).toBe(3);
    for (const request of server.requests) {
      const nonce = String(request.headers["x-xdr-nonce"]);
      const timestamp = String(request.headers["x-xdr-timestamp"]);
      expect(Number(timestamp) % 1000).toBe(0);
      expect(request.headers.authorization).toBe(sha256Hex(ADVANCED_KEY.apiKey + nonce + timestamp));
      expect(request.headers["x-xdr-auth-id"]).toBe("12");
    }
  });

  it("sends the standard key and key id, JSON, and asks for gzip", async () => {
    server = await startFakeCortex(() => ({ json: incidentsReply([]) }));
    const { client } = testClient(server.url);
    await client.getIncidents({});
    await client.close();
    const [request] = server.requests;
    expect(request?.method).toBe("POST");
    expect(request?.headers.authorization).toBe(STANDARD_KEY.apiKey);
    expect(request?.headers["x-xdr-auth-id"]).toBe("7");
    expect(request?.headers["accept-encoding"]).toBe("gzip");
    expect(request?.headers["content-type"]).toBe("application/json");
  });
});
