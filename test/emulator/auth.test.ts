import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { advancedHeaders, INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const UNAUTHORIZED = {
  reply: { err_code: 401, err_msg: "Public API request unauthorized", err_extra: null },
};

describe("Cortex emulator: authentication", () => {
  let emulator: CortexEmulator;
  let clock = NOW;
  const ask = (headers: Record<string, string>) =>
    post(emulator.url, INCIDENTS_PATH, { request_data: { search_to: 1 } }, headers);

  beforeAll(async () => {
    emulator = await startCortexEmulator({
      seed: "auth",
      incidents: 5,
      now: () => clock,
      rateLimits: { tenant: { requests: 1000, windowMs: 1000 } },
    });
  });
  afterAll(() => emulator.close());
  beforeEach(() => {
    clock = NOW;
    emulator.control.clearFaults();
  });

  it("accepts a standard key sent as Authorization with its id", async () => {
    expect((await ask(standardHeaders(emulator.keys.standard))).status).toBe(200);
  });

  it("accepts an advanced key: sha256 of key + nonce + timestamp", async () => {
    expect((await ask(advancedHeaders(emulator.keys.advanced, { timestamp: NOW }))).status).toBe(200);
  });

  it.each([
    ["a wrong standard key", () => ({ ...standardHeaders(emulator.keys.standard), authorization: "nope" })],
    ["an unknown key id", () => ({ ...standardHeaders(emulator.keys.standard), "x-xdr-auth-id": "99999" })],
    ["no Authorization header", () => ({ "x-xdr-auth-id": emulator.keys.standard.id })],
    ["no key id header", () => ({ authorization: emulator.keys.standard.key })],
    [
      "an advanced hash made with another key",
      () => advancedHeaders({ ...emulator.keys.advanced, key: "x".repeat(128) }, { timestamp: NOW }),
    ],
    ["the advanced key sent as a standard key", () => standardHeaders(emulator.keys.advanced)],
    [
      "an advanced request without its nonce",
      () => {
        const { "x-xdr-nonce": _nonce, ...rest } = advancedHeaders(emulator.keys.advanced, {
          timestamp: NOW,
        });
        return rest;
      },
    ],
  ])("rejects %s with 401 and the documented body", async (_name, headers) => {
    const answer = await ask(headers());
    expect(answer.status).toBe(401);
    expect(answer.json()).toEqual(UNAUTHORIZED);
  });

  it("rejects an advanced timestamp more than 5 minutes away from the server clock, either way", async () => {
    const key = emulator.keys.advanced;
    expect((await ask(advancedHeaders(key, { timestamp: NOW - 5 * 60_000 + 1000 }))).status).toBe(200);
    expect((await ask(advancedHeaders(key, { timestamp: NOW + 5 * 60_000 - 1000 }))).status).toBe(200);
    expect((await ask(advancedHeaders(key, { timestamp: NOW - 5 * 60_000 - 1000 }))).status).toBe(401);
    expect((await ask(advancedHeaders(key, { timestamp: NOW + 5 * 60_000 + 1000 }))).status).toBe(401);
  });

  it("rejects a reused nonce even with a valid hash", async () => {
    const headers = advancedHeaders(emulator.keys.advanced, { timestamp: NOW });
    expect((await ask(headers)).status).toBe(200);
    const again = await ask(headers);
    expect(again.status).toBe(401);
    expect(emulator.control.requests().at(-1)?.reason).toBe("nonce already used");
  });

  it("applies the clock-skew fault to advanced timestamp checks", async () => {
    emulator.control.setFaults({ clockSkewMs: 10 * 60_000 });
    const answer = await ask(advancedHeaders(emulator.keys.advanced, { timestamp: NOW }));
    expect(answer.status).toBe(401);
    expect(emulator.control.requests().at(-1)?.reason).toBe("timestamp outside the allowed clock skew");
    const shifted = await ask(advancedHeaders(emulator.keys.advanced, { timestamp: NOW + 10 * 60_000 }));
    expect(shifted.status).toBe(200);
  });

  it("answers 402 for a key without the license and 403 for one without the permission", async () => {
    const { standard, advanced } = emulator.keys;
    emulator.control.setKeyEntitlements(standard.id, { license: false });
    const unlicensed = await ask(standardHeaders(standard));
    expect(unlicensed.status).toBe(402);
    expect(unlicensed.json().reply).toEqual({
      err_code: 402,
      err_msg: "User does not have the required license type to run this API",
      err_extra: null,
    });
    emulator.control.setKeyEntitlements(standard.id, { license: true });
    emulator.control.setKeyEntitlements(advanced.id, { permission: false });
    const forbidden = await ask(advancedHeaders(advanced, { timestamp: NOW }));
    expect(forbidden.status).toBe(403);
    expect(forbidden.json().reply).toEqual({
      err_code: 403,
      err_msg: "The provided API Key does not have the required RBAC permissions to run this API",
      err_extra: null,
    });
    emulator.control.setKeyEntitlements(advanced.id, { permission: true });
    expect((await ask(standardHeaders(standard))).status).toBe(200);
  });

  it("never records a key in its request log", async () => {
    await ask(standardHeaders(emulator.keys.standard));
    await ask(advancedHeaders(emulator.keys.advanced, { timestamp: NOW }));
    const log = JSON.stringify(emulator.control.requests());
    expect(log).toContain(emulator.keys.standard.id);
    for (const key of emulator.keys.all) expect(log).not.toContain(key.key);
  });

  it("uses the keys it is given, and entitlements set at start", async () => {
    const given = await startCortexEmulator({
      incidents: 1,
      keys: [
        { id: "7", key: "k".repeat(128), type: "standard" },
        { id: "8", key: "a".repeat(128), type: "advanced", license: false },
      ],
    });
    try {
      expect(given.keys.standard).toEqual({ id: "7", key: "k".repeat(128), type: "standard" });
      const ok = await post(
        given.url,
        INCIDENTS_PATH,
        { request_data: {} },
        standardHeaders(given.keys.standard),
      );
      expect(ok.status).toBe(200);
      const unlicensed = await post(
        given.url,
        INCIDENTS_PATH,
        { request_data: {} },
        advancedHeaders(given.keys.advanced),
      );
      expect(unlicensed.status).toBe(402);
    } finally {
      await given.close();
    }
  });
});
