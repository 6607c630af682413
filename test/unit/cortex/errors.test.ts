import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CortexCredentials } from "../../../functions/shared/cortex/api.ts";
import {
  type CortexApiError,
  isCortexError,
  parseRetryAfter,
  summariseErrorBody,
} from "../../../functions/shared/cortex/errors.ts";
import {
  ADVANCED_KEY,
  type FakeCortex,
  type FakeReply,
  STANDARD_KEY,
  startFakeCortex,
  testClient,
} from "./fake-cortex-server.ts";

// Each test picks the reply by putting it in `next`; one server serves the whole file.
let next: FakeReply = {};
let server: FakeCortex;
beforeAll(async () => {
  server = await startFakeCortex(() => next);
});
afterAll(async () => {
  await server.close();
});

async function failureOf(
  reply: FakeReply,
  call: "incidents" | "extra" = "incidents",
  credentials: CortexCredentials = STANDARD_KEY,
  now?: () => number,
): Promise<CortexApiError> {
  next = reply;
  const { client } = testClient(server.url, {
    credentials,
    maxAttempts: 1,
    // Generous, so a loaded machine never turns an answer into a timeout; only a hung reply times out.
    requestTimeoutMs: reply.hang ? 200 : 15_000,
    ...(now ? { now } : {}),
  });
  try {
    if (call === "incidents") await client.getIncidents({});
    else await client.getIncidentExtraData("893");
  } catch (error) {
    if (!isCortexError(error)) throw error;
    expectNoKey(error);
    return error;
  } finally {
    await client.close();
  }
  throw new Error("the call was expected to fail");
}

function expectNoKey(error: CortexApiError): void {
  const everything = [
    error.message,
    error.serverMessage ?? "",
    error.rawBody ?? "",
    JSON.stringify(error),
  ].join("\n");
  for (const key of [STANDARD_KEY.apiKey, ADVANCED_KEY.apiKey]) expect(everything).not.toContain(key);
}

const xdrError = (code: number, msg: unknown, extra: unknown = null) => ({
  reply: { err_code: code, err_msg: msg, err_extra: extra },
});

describe("error replies", () => {
  it("maps 400 to invalid_request and reads err_msg even when it is itself JSON", async () => {
    const error = await failureOf({
      status: 400,
      json: xdrError(
        400,
        '{"line": 1, "column": 19, "message": "no viable alternative at input \'|alter2\'"}',
      ),
    });
    expect(error.kind).toBe("invalid_request");
    expect(error.retryable).toBe(false);
    expect(error.serverMessage).toBe("no viable alternative at input '|alter2'");
    expect(error.message).toContain("check the filters");
  });

  it("reads the XDR envelope without its reply wrapper, as the extra-data page shows it", async () => {
    const error = await failureOf({
      status: 400,
      json: { err_code: "400", err_msg: "Invalid filter", err_extra: ["field foo", "unknown"] },
    });
    expect(error.serverMessage).toBe("Invalid filter: field foo; unknown");
  });

  it("says to check key and key id on a 401 with a standard key", async () => {
    const error = await failureOf({ status: 401, json: xdrError(401, "Public API request unauthorized") });
    expect(error.kind).toBe("bad_key");
    expect(error.isAccessProblem).toBe(true);
    expect(error.message).toContain("key id");
    expect(error.message).not.toContain("clock");
  });

  it("blames clock skew on a 401 with an advanced key and says by how much from the server's Date", async () => {
    const serverDate = "Sat, 21 Nov 2026 05:00:00 GMT";
    const ahead = Date.parse(serverDate) + 312_000;
    const error = await failureOf(
      { status: 401, headers: { date: serverDate }, json: xdrError(401, "unauthorized") },
      "incidents",
      ADVANCED_KEY,
      () => ahead,
    );
    expect(error.kind).toBe("bad_key");
    expect(error.message).toContain("clock skew");
    expect(error.message).toContain("312 s ahead of the server");

    const behind = await failureOf(
      { status: 401, headers: { date: serverDate }, json: xdrError(401, "unauthorized") },
      "incidents",
      ADVANCED_KEY,
      () => Date.parse(serverDate) - 45_000,
    );
    expect(behind.message).toContain("45 s behind the server");
  });

  it("maps 402 to license, 403 to permission and 404 to not_found with what to check", async () => {
    const license = await failureOf({ status: 402, json: { reply: {} } });
    expect(license.kind).toBe("license");
    expect(license.message).toContain("license");

    const permission = await failureOf({ status: 403, json: xdrError(403, "Forbidden") });
    expect(permission.kind).toBe("permission");
    expect(permission.message).toContain("RBAC");

    const missing = await failureOf(
      { status: 404, text: "<html><body><h1>Not Found</h1></body></html>" },
      "extra",
    );
    expect(missing.kind).toBe("not_found");
    expect(missing.message).toContain("api-<tenant>.xdr.<region>.paloaltonetworks.com");
  });

  it("reads Xpanse's {code, status, message, errors} envelope on a 422", async () => {
    const error = await failureOf({
      status: 422,
      json: {
        code: 422,
        status: "Unprocessable Entity",
        message: "Invalid filter value",
        errors: { value: "bad" },
      },
    });
    expect(error.kind).toBe("unprocessable");
    expect(error.serverMessage).toBe('Invalid filter value: {"value":"bad"}');
  });

  it("treats both throttling bodies on a 429 as throttled", async () => {
    for (const text of ["Too many requests.", "Rate limit exceeded"]) {
      const error = await failureOf({ status: 429, text });
      expect(error.kind).toBe("throttled");
      expect(error.retryable).toBe(true);
      expect(error.serverMessage).toBe(text);
    }
  });

  it("summarises an HTML 502 as text without tags", async () => {
    const error = await failureOf({
      status: 502,
      text: "<html><head><style>h1{color:red}</style><title>502</title></head><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>",
    });
    expect(error.kind).toBe("server_error");
    expect(error.status).toBe(502);
    expect(error.serverMessage).toBe("502 502 Bad Gateway nginx");
  });

  it("truncates a long plain-text body", async () => {
    const error = await failureOf({ status: 500, text: "x".repeat(5_000) });
    expect(error.serverMessage?.length).toBeLessThan(320);
  });

  it("classifies the extra-data 500 for an unknown id as incident_not_found, not retried", async () => {
    const error = await failureOf(
      {
        status: 500,
        json: xdrError(
          500,
          "An error occurred while processing XDR public API",
          "Incident 893 was not found",
        ),
      },
      "extra",
    );
    expect(error.kind).toBe("incident_not_found");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("893");

    const other = await failureOf({ status: 500, json: xdrError(500, "Incident does not exist") }, "extra");
    expect(other.kind).toBe("incident_not_found");
  });

  it("keeps a 500 with 'not found' on get_incidents a server error", async () => {
    const error = await failureOf({ status: 500, json: xdrError(500, "Index not found") });
    expect(error.kind).toBe("server_error");
  });

  it("reports a 2xx that is not JSON as unparseable_reply and keeps the raw body", async () => {
    const error = await failureOf({ status: 200, text: "<html>maintenance</html>" });
    expect(error.kind).toBe("unparseable_reply");
    expect(error.rawBody).toBe("<html>maintenance</html>");
    const noEnvelope = await failureOf({ status: 200, json: { incidents: [] } });
    expect(noEnvelope.kind).toBe("unparseable_reply");
    expect(noEnvelope.rawBody).toBe('{"incidents":[]}');
  });

  it("sets a get_incidents item missing a required field aside, naming the item and field, and keeps the rest", async () => {
    next = {
      json: {
        reply: {
          total_count: 2,
          result_count: 2,
          incidents: [
            { incident_id: "1", modification_time: 5, creation_time: 1, severity: "low", status: "new" },
            { incident_id: "2", creation_time: 1, severity: "low", status: "new" },
          ],
        },
      },
    };
    const { client } = testClient(server.url, { credentials: STANDARD_KEY, maxAttempts: 1 });
    const reply = await client.getIncidents({});
    await client.close();
    expect(reply.incidents.map((i) => i.incident_id)).toEqual(["1"]);
    expect(reply.malformed).toHaveLength(1);
    expect(reply.malformed[0]?.item).toEqual({
      incident_id: "2",
      creation_time: 1,
      severity: "low",
      status: "new",
    });
    expect(reply.malformed[0]?.problem).toContain("item 1 (incident_id 2)");
    expect(reply.malformed[0]?.problem).toContain("modification_time");
  });

  it("reports a gzip body that does not decompress as unparseable_reply", async () => {
    const error = await failureOf({
      status: 200,
      headers: { "content-encoding": "gzip" },
      text: "not gzip at all",
    });
    expect(error.kind).toBe("unparseable_reply");
    expect(error.message).toContain("does not decompress");
  });

  it("maps a request that outlives its timeout to timeout", async () => {
    const error = await failureOf({ hang: true });
    expect(error.kind).toBe("timeout");
    expect(error.retryable).toBe(true);
  });

  it("maps a refused connection to network", async () => {
    // Take a free port, then close it, so nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { client } = testClient(`http://127.0.0.1:${port}`, { maxAttempts: 1 });
    const error = await client.getIncidents({}).catch((e: unknown) => e);
    await client.close();
    expect(isCortexError(error, "network")).toBe(true);
    expect((error as CortexApiError).message).toContain("ECONNREFUSED");
  });

  it("never puts the key in a message, even when the server echoes it back", async () => {
    for (const credentials of [STANDARD_KEY, ADVANCED_KEY]) {
      for (const status of [400, 401, 403, 500, 200]) {
        const echoed = `bad header Authorization: ${credentials.apiKey}`;
        const error = await failureOf(
          status === 200
            ? { status, text: echoed }
            : { status, json: xdrError(status, echoed, credentials.apiKey) },
          "incidents",
          credentials,
        );
        expect(error.message).toContain("[redacted]");
      }
    }
  });
});

describe("reading error bodies", () => {
  it.each([
    [
      "XDR envelope, err_extra a string",
      { reply: { err_code: 500, err_msg: "Failed", err_extra: "detail" } },
      "Failed: detail",
    ],
    [
      "XDR envelope, err_extra an object",
      { reply: { err_code: 500, err_msg: "Failed", err_extra: { field: "x" } } },
      'Failed: {"field":"x"}',
    ],
    [
      "XDR envelope, err_extra null",
      { reply: { err_code: 500, err_msg: "Failed", err_extra: null } },
      "Failed",
    ],
    [
      "XDR envelope, numeric-string code",
      { reply: { err_code: "402", err_msg: "No license" } },
      "No license",
    ],
    [
      "Xpanse envelope, empty errors",
      { code: 422, status: "Unprocessable", message: "Bad value", errors: {} },
      "Bad value",
    ],
    ["empty reply", { reply: {} }, undefined],
  ])("reads %s", (_name, body, expected) => {
    expect(summariseErrorBody(JSON.stringify(body))).toBe(expected);
  });

  it("reads Retry-After as seconds or as an HTTP date, and ignores nonsense", () => {
    const now = Date.parse("2026-11-21T05:00:00Z");
    expect(parseRetryAfter("30", now)).toBe(30);
    expect(parseRetryAfter("Sat, 21 Nov 2026 05:01:00 GMT", now)).toBe(60);
    expect(parseRetryAfter("Sat, 21 Nov 2026 04:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
