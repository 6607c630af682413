// The CLI as a user runs it: a subprocess on Node 24, the real poller and enricher, the embedded Cortex
// emulator and AWS endpoint, a time-compressed API budget so the test takes seconds.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localAwsClients, startEmbeddedAwsEndpoint } from "../../local/aws-endpoint.ts";
import { type CortexEmulator, startCortexEmulator } from "../../local/emulator/index.ts";
import { LOCAL_RESOURCE_NAMES } from "../../local/runner/aws-resources.ts";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const node = path.join(root, "node_modules/.bin/node");
const cli = path.join(root, "bin/local.ts");

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), "runner-e2e-"));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The caller's environment without any CORTEX_* or AWS_ENDPOINT_URL that would redirect the run. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    "CORTEX_API_URL",
    "CORTEX_API_KEY",
    "CORTEX_API_KEY_ID",
    "CORTEX_AUTH_TYPE",
    "AWS_ENDPOINT_URL",
  ]) {
    delete env[name];
  }
  return { ...env, ...extra };
}

/** 600 calls a minute on both extra-data endpoints and a 1 s batching window: the same pacing, only faster. */
const FAST = ["--budget-per-minute", "600", "--batch-budget-per-minute", "600", "--batching-window", "1"];

async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(node, [cli, ...args], {
      cwd: workDir,
      env: cliEnv(env),
      timeout: 90_000,
      maxBuffer: 20 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw error;
    return { code: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

async function archivedFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"))
    .sort();
}

describe("npm start (the CLI as a subprocess)", () => {
  it("with the embedded emulator (the default): drains its backlog, exits 0 and writes the summary JSON", async () => {
    const out = path.join(workDir, "embedded");
    const summaryFile = path.join(workDir, "embedded.json");
    // 600 calls a minute for the enricher and the embedded emulator alike: the same pacing, only faster.
    const result = await runCli([
      "--once",
      "--summary-json",
      summaryFile,
      "--out",
      out,
      "--incidents",
      "5",
      ...FAST,
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const summary = JSON.parse(await readFile(summaryFile, "utf8"));
    expect(summary).toMatchObject({
      polled: 5,
      enqueued: 5,
      enriched: 5,
      archived: 5,
      dead_lettered: 0,
      throttled: 0,
      left_in_queue: 0,
      problem: null,
      exit_code: 0,
    });
    // One batch call for the five incidents (single calls only for those with more alerts than it returns).
    const byEndpoint = summary.api_calls_by_endpoint;
    expect(byEndpoint.get_multiple_incidents_extra_data).toBe(1);
    expect(byEndpoint.get_incident_extra_data).toBeLessThan(5);
    expect(byEndpoint.get_incidents).toBeGreaterThanOrEqual(1);
    expect(summary.api_calls).toBe(
      byEndpoint.get_incidents +
        byEndpoint.get_incident_extra_data +
        byEndpoint.get_multiple_incidents_extra_data,
    );
    expect(result.stdout).toContain("calls per endpoint: get_incidents");
    expect(await archivedFiles(out)).toHaveLength(5);
    expect(result.stdout).toContain("Summary (");
    expect(result.stdout).toContain("polled 5, enqueued 5, enriched 5, archived 5");
    // Not a terminal: plain log lines, no cursor movement.
    expect(result.stdout).not.toContain("\x1b[");
  });

  describe("with a tenant given through CORTEX_* (an emulator the test controls)", () => {
    let emulator: CortexEmulator;
    beforeAll(async () => {
      emulator = await startCortexEmulator({
        seed: 7,
        incidents: 6,
        rateLimits: {
          extraData: { requests: 600, windowMs: 60_000 },
          batchExtraData: { requests: 600, windowMs: 60_000 },
        },
      });
    });
    afterAll(async () => {
      await emulator.close();
    });

    it("archives every incident exactly as the tenant holds it, in the bucket's key layout, and notifies the high ones", async () => {
      const out = path.join(workDir, "tenant");
      const summaryFile = path.join(workDir, "tenant.json");
      const result = await runCli(["--once", "--summary-json", summaryFile, "--out", out, ...FAST], {
        CORTEX_API_URL: emulator.url,
        CORTEX_API_KEY: emulator.keys.advanced.key,
        CORTEX_API_KEY_ID: emulator.keys.advanced.id,
        CORTEX_AUTH_TYPE: "advanced",
      });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const summary = JSON.parse(await readFile(summaryFile, "utf8"));
      const tenant = new Map(
        emulator.control.incidents().map((incident) => [incident.incident_id, incident]),
      );
      expect(summary).toMatchObject({ polled: 6, enqueued: 6, archived: 6, dead_lettered: 0, exit_code: 0 });

      const files = await archivedFiles(out);
      expect(files).toHaveLength(tenant.size);
      for (const file of files) {
        const match = /^incidents\/(\d{4})\/(\d{2})\/(\d{2})\/([^/]+)\/(\d+)\.json\.gz$/.exec(file);
        expect(match, file).not.toBeNull();
        const [, year, month, day, incidentId, modificationTime] = match as RegExpExecArray;
        const reply = JSON.parse(gunzipSync(await readFile(path.join(out, file))).toString("utf8"));
        const expected = tenant.get(incidentId as string);
        expect(expected, `incident ${incidentId} is in the tenant`).toBeDefined();
        for (const field of [
          "incident_id",
          "severity",
          "status",
          "creation_time",
          "modification_time",
          "alert_count",
        ]) {
          expect(reply.incident[field], `${file}: ${field}`).toEqual(expected?.[field]);
        }
        expect(Number(modificationTime)).toBe(expected?.modification_time);
        expect(reply.alerts.data).toHaveLength(Math.min(expected?.alert_count ?? 0, 1000));
        expect(`${year}-${month}-${day}`).toBe(
          new Date(expected?.creation_time as number).toISOString().slice(0, 10),
        );
      }
      // Every high or critical incident was notified, and only those (the default threshold is high).
      const notifiable = [...tenant.values()].filter((incident) =>
        ["high", "critical"].includes(incident.severity),
      );
      expect(summary.notified).toBe(notifiable.length);
      expect(result.stdout.match(/EMAIL {2}Subject: /g) ?? []).toHaveLength(notifiable.length);
      expect(result.stdout.match(/SMS {4}/g) ?? []).toHaveLength(notifiable.length);
    });
  });

  describe("with a tenant that rejects the key", () => {
    let emulator: CortexEmulator;
    beforeAll(async () => {
      emulator = await startCortexEmulator({ seed: 3, incidents: 2 });
    });
    afterAll(async () => {
      await emulator.close();
    });

    it("exits 2 with a message that names what to check, and never prints the key", async () => {
      const wrongKey = "definitely-not-the-emulators-key-0123456789";
      const summaryFile = path.join(workDir, "rejected.json");
      const result = await runCli(
        ["--once", "--summary-json", summaryFile, "--out", path.join(workDir, "rejected")],
        {
          CORTEX_API_URL: emulator.url,
          CORTEX_API_KEY: wrongKey,
          CORTEX_API_KEY_ID: emulator.keys.standard.id,
          CORTEX_AUTH_TYPE: "standard",
        },
      );
      expect(result.code).toBe(2);
      expect(result.stdout).toMatch(/Problem: Cortex API rejected the key \(401 from [^)]+\)\. /);
      expect(result.stdout).not.toContain("..");
      expect(result.stdout).toContain("Check CORTEX_API_KEY, CORTEX_API_KEY_ID and CORTEX_AUTH_TYPE");
      expect(`${result.stdout}${result.stderr}`).not.toContain(wrongKey);
      const summary = JSON.parse(await readFile(summaryFile, "utf8"));
      expect(summary).toMatchObject({ exit_code: 2, archived: 0, polled: 0 });
      expect(summary.problem).toContain("CORTEX_API_KEY");
    });
  });

  it("on Ctrl-C (SIGINT) stops polling, finishes the invocations in flight and exits 0 with the summary", async () => {
    const child = spawn(
      node,
      [
        cli,
        "--out",
        path.join(workDir, "interrupted"),
        "--incidents",
        "8",
        "--budget-per-minute",
        "120",
        "--batch-budget-per-minute",
        "120",
        "--batching-window",
        "1",
        "--live-interval",
        "0",
      ],
      { cwd: workDir, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      await new Promise<void>((resolve) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          // Interrupt once the first record is archived, while its batch is still running.
          if (stdout.includes(" archived incidents/")) resolve();
        });
      });
      child.kill("SIGINT");
      const code = await exited;
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout).toContain("stopping: no more polls");
      const afterStop = stdout.slice(stdout.indexOf("stopping: no more polls"));
      // The batch in flight finished after the signal, and nothing was polled again.
      expect(afterStop).toMatch(/enricher #\d: \d+ done/);
      expect(afterStop).not.toContain("poll:");
      const summaryLine = /enriched (\d+), archived (\d+)/.exec(stdout);
      expect(summaryLine?.[1]).toBe(summaryLine?.[2]);
      const left = Number(/left in queue (\d+)/.exec(stdout)?.[1]);
      expect(Number(summaryLine?.[1]) + left).toBe(8);
    } finally {
      clearTimeout(guard);
    }
  });

  it("with AWS_ENDPOINT_URL uses that endpoint: the archive and the cursor are in its bucket after the run", async () => {
    const endpoint = await startEmbeddedAwsEndpoint();
    const { s3 } = localAwsClients(endpoint.url);
    try {
      const out = path.join(workDir, "external-endpoint");
      const result = await runCli(["--once", "--out", out, "--incidents", "3", ...FAST], {
        AWS_ENDPOINT_URL: endpoint.url,
      });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`AWS:    AWS_ENDPOINT_URL ${endpoint.url}`);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_RESOURCE_NAMES.bucket }));
      const keys = (listed.Contents ?? []).map((object) => object.Key ?? "");
      expect(keys.filter((key) => key.startsWith("incidents/")).sort()).toEqual(await archivedFiles(out));
      expect(keys.filter((key) => key.startsWith("incidents/"))).toHaveLength(3);
      // The poller's cursor outlives the run on an endpoint that outlives it.
      expect(keys.some((key) => key.startsWith("state/"))).toBe(true);
    } finally {
      s3.destroy();
      await endpoint.close();
    }
  });

  it("prints --help and exits 0 even while the environment is half set", async () => {
    const result = await runCli(["--help"], {
      CORTEX_API_URL: "https://api-acme.xdr.eu.paloaltonetworks.com",
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: npm start -- \[flags\]/);
    expect(result.stdout).toContain("CORTEX_AUTH_TYPE");
  });

  it("names the missing CORTEX_* variables and exits 64 before starting anything", async () => {
    const result = await runCli(["--once"], {
      CORTEX_API_URL: "https://api-acme.xdr.eu.paloaltonetworks.com",
    });
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("missing: CORTEX_API_KEY, CORTEX_API_KEY_ID, CORTEX_AUTH_TYPE");
  });

  it("names CORTEX_API_URL when it is plain http to a remote host, and exits 64 before starting anything", async () => {
    const result = await runCli(["--once"], {
      CORTEX_API_URL: "http://example.com",
      CORTEX_API_KEY: "s3cr3t-key-value",
      CORTEX_API_KEY_ID: "7",
      CORTEX_AUTH_TYPE: "standard",
    });
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("CORTEX_API_URL: Cortex base URL must use https");
    expect(result.stderr).not.toContain("s3cr3t");
    // Nothing started: no banner, no embedded endpoint.
    expect(result.stdout).not.toContain("local runner");
  });

  it("names the flag a negative number was given to and exits 64", async () => {
    const result = await runCli(["--once", "--budget-per-minute", "-1"]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("--budget-per-minute");
    expect(result.stderr).not.toContain("ambiguous");
  });
});
