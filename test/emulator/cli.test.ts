import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { INCIDENTS_PATH, post, standardHeaders } from "./raw-http.ts";

describe("npm run emulator (bin/emulator.ts)", () => {
  it("prints one JSON line with its URL and keys when ready, serves requests, and stops on SIGTERM", async () => {
    // process.execPath is the Node 24 running the tests, the same one npm scripts use.
    const child = spawn(
      process.execPath,
      ["bin/emulator.ts", "--seed", "cli", "--incidents", "12", "--product", "xpanse"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, "line")) as [string];
      const ready = JSON.parse(line);
      expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(ready.keys.map((key: { type: string }) => key.type).sort()).toEqual(["advanced", "standard"]);
      const standard = ready.keys.find((key: { type: string }) => key.type === "standard");
      const answer = await post(ready.url, INCIDENTS_PATH, { request_data: {} }, standardHeaders(standard));
      expect(answer.json().reply).toMatchObject({ total_count: 12, restricted_incident_ids: [] });
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("refuses an unknown product with a usage message and exit code 2", async () => {
    const child = spawn(process.execPath, ["bin/emulator.ts", "--product", "xsiam"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const [code] = await once(child, "exit");
    expect(code).toBe(2);
    expect(stderr).toContain("--product must be one of xdr, xpanse");
  });
});
