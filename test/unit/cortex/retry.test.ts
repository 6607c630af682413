import { afterEach, describe, expect, it } from "vitest";
import type { CortexAttemptEvent } from "../../../functions/shared/cortex/client.ts";
import { type CortexApiError, isCortexError } from "../../../functions/shared/cortex/errors.ts";
import {
  type FakeCortex,
  type FakeReply,
  incident,
  incidentsReply,
  startFakeCortex,
  testClient,
} from "./fake-cortex-server.ts";

let server: FakeCortex | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(replies: FakeReply[]): Promise<FakeCortex> {
  server = await startFakeCortex((_request, index) => replies[Math.min(index, replies.length - 1)] ?? {});
  return server;
}

const ok: FakeReply = { json: incidentsReply([]) };

describe("retries", () => {
  it("retries throttling, 5xx, timeouts and unparseable replies, then succeeds", async () => {
    const fake = await serve([
      { status: 429, text: "Rate limit exceeded" },
      { status: 502, text: "<h1>Bad Gateway</h1>" },
      { hang: true },
      { status: 200, text: "truncated {" },
      ok,
    ]);
    const events: CortexAttemptEvent[] = [];
    const { client, sleeps } = testClient(fake.url, {
      // Long enough that a loaded machine still answers in time; only the hung attempt times out.
      requestTimeoutMs: 1_000,
      observer: (event) => events.push(event),
    });
    const reply = await client.getIncidents({});
    await client.close();
    expect(reply.incidents).toEqual([]);
    expect(fake.requests).toHaveLength(5);
    // random 0.5 x min(1000, 100 x 2^n): full jitter over an exponential ceiling.
    expect(sleeps).toEqual([50, 100, 200, 400]);
    expect(events.map((e) => [e.attempt, e.status, e.errorKind])).toEqual([
      [1, 429, "throttled"],
      [2, 502, "server_error"],
      [3, undefined, "timeout"],
      [4, 200, "unparseable_reply"],
      [5, 200, undefined],
    ]);
    expect(events.every((e) => e.path === "/public_api/v1/incidents/get_incidents/")).toBe(true);
  });

  it("caps the backoff at the maximum delay", async () => {
    const fake = await serve([{ status: 503, text: "busy" }]);
    const { client, sleeps } = testClient(fake.url, { maxAttempts: 8, random: () => 0.999 });
    await client.getIncidents({}).catch(() => undefined);
    await client.close();
    expect(sleeps).toHaveLength(7);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(1_000);
    expect(sleeps.at(-1)).toBeCloseTo(999, 0);
  });

  it("gives up after maxAttempts and reports how many attempts were made", async () => {
    const fake = await serve([{ status: 500, json: { reply: { err_code: 500, err_msg: "boom" } } }]);
    const { client } = testClient(fake.url, { maxAttempts: 3 });
    const error = (await client.getIncidents({}).catch((e: unknown) => e)) as CortexApiError;
    await client.close();
    expect(isCortexError(error, "server_error")).toBe(true);
    expect(error.attempts).toBe(3);
    expect(fake.requests).toHaveLength(3);
  });

  it("says it retried only when it did: a timeout after one attempt, and after three", async () => {
    const fake = await serve([{ hang: true }]);
    const once = testClient(fake.url, { maxAttempts: 1, requestTimeoutMs: 100 }).client;
    const single = (await once.getIncidents({}).catch((e: unknown) => e)) as CortexApiError;
    await once.close();
    expect(isCortexError(single, "timeout")).toBe(true);
    expect(single.message).not.toMatch(/retried|attempts/);
    const thrice = testClient(fake.url, { maxAttempts: 3, requestTimeoutMs: 100 }).client;
    const retried = (await thrice.getIncidents({}).catch((e: unknown) => e)) as CortexApiError;
    await thrice.close();
    expect(retried.message).toMatch(/\(gave up after 3 attempts\)$/);
  });

  it("does not retry other 4xx", async () => {
    for (const status of [400, 401, 402, 403, 404, 422]) {
      const fake = await serve([{ status, json: { reply: {} } }, ok]);
      const { client, sleeps } = testClient(fake.url);
      const error = (await client.getIncidents({}).catch((e: unknown) => e)) as CortexApiError;
      await client.close();
      await fake.close();
      expect(error.attempts).toBe(1);
      expect(fake.requests).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
  });

  it("waits as long as Retry-After says, in seconds or as an HTTP date", async () => {
    const now = Date.parse("2026-11-21T05:00:00Z");
    const fake = await serve([
      { status: 429, headers: { "retry-after": "7" }, text: "Too many requests." },
      { status: 503, headers: { "retry-after": "Sat, 21 Nov 2026 05:00:12 GMT" }, text: "busy" },
      ok,
    ]);
    const { client, sleeps } = testClient(fake.url, { now: () => now });
    await client.getIncidents({});
    await client.close();
    expect(sleeps).toEqual([7_000, 12_000]);
  });

  it("never sleeps past the caller's deadline: it gives up with the last error instead", async () => {
    let clock = 1_000_000;
    const fake = await serve([{ status: 503, text: "busy" }]);
    const { client, sleeps } = testClient(fake.url, {
      now: () => clock,
      retryBaseDelayMs: 1_000,
      retryMaxDelayMs: 60_000,
      random: () => 1,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    const error = (await client
      .getIncidents({}, { deadline: clock + 3_500 })
      .catch((e: unknown) => e)) as CortexApiError;
    await client.close();
    // Sleeps of 1 s and 2 s fit before the deadline; the next (4 s) would not.
    expect(sleeps).toEqual([1_000, 2_000]);
    expect(fake.requests).toHaveLength(3);
    expect(error.kind).toBe("server_error");
    expect(error.attempts).toBe(3);
  });

  it("gives up when Retry-After points past the deadline, keeping the server's wait in the error", async () => {
    const fake = await serve([
      { status: 429, headers: { "retry-after": "60" }, text: "Too many requests." },
      ok,
    ]);
    const { client, sleeps } = testClient(fake.url, { now: () => 0 });
    const error = (await client
      .getIncidents({}, { deadline: 30_000 })
      .catch((e: unknown) => e)) as CortexApiError;
    await client.close();
    expect(error.kind).toBe("throttled");
    expect(error.retryAfterSeconds).toBe(60);
    expect(sleeps).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it("retries a page whose item misses a required field, and never uses the broken page", async () => {
    const broken = {
      reply: { incidents: [{ incident_id: "1", severity: "low", status: "new", creation_time: 1 }] },
    };
    const fake = await serve([{ json: broken }, { json: incidentsReply([incident("1", 5)]) }]);
    const { client } = testClient(fake.url);
    const reply = await client.getIncidents({});
    await client.close();
    expect(fake.requests).toHaveLength(2);
    expect(reply.incidents.map((i) => i.modification_time)).toEqual([5]);
  });

  it("stops at once when the caller aborts, without retrying", async () => {
    const fake = await serve([{ hang: true }, ok]);
    const controller = new AbortController();
    const events: CortexAttemptEvent[] = [];
    const { client, sleeps } = testClient(fake.url, { observer: (event) => events.push(event) });
    const pending = client.getIncidents({}, { signal: controller.signal });
    await expect.poll(() => fake.requests.length).toBe(1);
    controller.abort(new Error("shutting down"));
    await expect(pending).rejects.toThrow("shutting down");
    await client.close();
    expect(sleeps).toEqual([]);
    expect(events).toHaveLength(1);
  });

  it("sends nothing when the deadline has already passed", async () => {
    const fake = await serve([ok]);
    const { client } = testClient(fake.url, { now: () => 10_000 });
    const error = (await client
      .getIncidents({}, { deadline: 5_000 })
      .catch((e: unknown) => e)) as CortexApiError;
    await client.close();
    expect(error.kind).toBe("timeout");
    expect(error.attempts).toBe(0);
    expect(fake.requests).toHaveLength(0);
  });
});
