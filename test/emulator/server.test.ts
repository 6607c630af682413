import { createServer } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { EXTRA_DATA_PATH, INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

describe("Cortex emulator: routing and wire format", () => {
  let emulator: CortexEmulator;
  beforeAll(async () => {
    emulator = await startCortexEmulator({ seed: "routing", incidents: 30 });
  });
  afterAll(() => emulator.close());

  it("listens on 127.0.0.1 on a port the OS picked", () => {
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(emulator.url).port)).toBeGreaterThan(0);
  });

  it("serves both endpoints with and without the trailing slash", async () => {
    const headers = standardHeaders(emulator.keys.standard);
    const incidentId = emulator.control.incidents()[0]?.incident_id;
    for (const path of [INCIDENTS_PATH, INCIDENTS_PATH.slice(0, -1)]) {
      expect((await post(emulator.url, path, { request_data: {} }, headers)).status).toBe(200);
    }
    for (const path of [EXTRA_DATA_PATH, EXTRA_DATA_PATH.slice(0, -1)]) {
      const answer = await post(emulator.url, path, { request_data: { incident_id: incidentId } }, headers);
      expect(answer.status).toBe(200);
      expect(answer.json().reply.incident.incident_id).toBe(incidentId);
    }
  });

  it("answers 404 with the XDR envelope for an unknown path", async () => {
    const answer = await post(
      emulator.url,
      "/public_api/v1/incidents/get_everything/",
      { request_data: {} },
      {},
    );
    expect(answer.status).toBe(404);
    expect(answer.json()).toEqual({
      reply: { err_code: 404, err_msg: "Not Found", err_extra: "/public_api/v1/incidents/get_everything/" },
    });
  });

  it("accepts POST only", async () => {
    const answer = await post(
      emulator.url,
      INCIDENTS_PATH,
      undefined,
      standardHeaders(emulator.keys.standard),
      "GET",
    );
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe("POST");
  });

  it("answers invalid JSON with 400 and the documented message", async () => {
    const answer = await post(
      emulator.url,
      INCIDENTS_PATH,
      "{not json",
      standardHeaders(emulator.keys.standard),
    );
    expect(answer.status).toBe(400);
    const { reply } = answer.json();
    expect(reply.err_code).toBe(400);
    expect(reply.err_msg).toBe("Bad Request. Got an invalid JSON.");
    expect(typeof reply.err_extra).toBe("string");
  });

  it("compresses with gzip only when the request accepts it", async () => {
    const headers = standardHeaders(emulator.keys.standard);
    const zipped = await post(
      emulator.url,
      INCIDENTS_PATH,
      { request_data: {} },
      { ...headers, "accept-encoding": "gzip, deflate" },
    );
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(zipped.bytes).toString()).reply.result_count).toBe(30);
    const plain = await post(emulator.url, INCIDENTS_PATH, { request_data: {} }, headers);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(plain.bytes.toString()).reply.result_count).toBe(30);
  });

  it("does not expose the control API under the public API paths", async () => {
    const headers = standardHeaders(emulator.keys.standard);
    const answer = await post(emulator.url, "/public_api/v1/_emulator/stats", { request_data: {} }, headers);
    expect(answer.status).toBe(404);
  });

  it("stops listening on close()", async () => {
    const other = await startCortexEmulator({ incidents: 1 });
    const port = Number(new URL(other.url).port);
    await other.close();
    // The port is free again: something else can bind it.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, "127.0.0.1", () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});
