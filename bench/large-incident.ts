// Benchmark 2: archiving one 1,000-alert get_incident_extra_data reply the way the enricher does (parse,
// validate with the client's schema, gzip, upload to the embedded endpoint), against the floor of
// JSON.parse plus gzip of the same bytes; and the memory it takes.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { archiveIncident, archiveKey } from "../functions/shared/archive.ts";
import { CortexClient } from "../functions/shared/cortex/client.ts";
import { parseExtraDataReply } from "../functions/shared/cortex/schemas.ts";
import { localAwsClients, startEmbeddedAwsEndpoint } from "../local/aws-endpoint.ts";
import { startCortexEmulator } from "../local/emulator/index.ts";
import { BenchmarkError, type BenchTable, median } from "./report.ts";

const gzip = promisify(gzipCallback);
const ALERTS = 1_000;
const WARMUP = 5;
const RUNS = 30;
const MiB = 1024 * 1024;
const PROBE_RUNS = 3;
const PROBE = fileURLToPath(new URL("./archive-memory-probe.ts", import.meta.url));
const execFileAsync = promisify(execFile);

interface ProbeReading {
  rssBefore: number;
  rssRise: number;
  heapRise: number;
}

/** How far RSS and the heap rise while a fresh process archives the reply once (median of a few processes). */
async function measureMemory(text: string, endpointUrl: string, bucket: string) {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-reply-"));
  try {
    const file = path.join(dir, "reply.json");
    await writeFile(file, text);
    const readings: ProbeReading[] = [];
    for (let i = 0; i < PROBE_RUNS; i++) {
      // Async on purpose: the child uploads to the endpoint this process serves.
      const { stdout } = await execFileAsync(process.execPath, [
        "--expose-gc",
        PROBE,
        file,
        endpointUrl,
        bucket,
      ]);
      readings.push(JSON.parse(stdout) as ProbeReading);
    }
    return {
      rssBefore: median(readings.map((r) => r.rssBefore)),
      rssRise: median(readings.map((r) => r.rssRise)),
      heapRise: median(readings.map((r) => r.heapRise)),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function timeRuns(run: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return times;
}

export async function benchLargeIncident(): Promise<BenchTable> {
  const emulator = await startCortexEmulator({ seed: 2, incidents: 0 });
  const aws = await startEmbeddedAwsEndpoint();
  try {
    const [incident] = emulator.control.addIncidents([{ alert_count: ALERTS }]);
    if (incident === undefined)
      throw new BenchmarkError("the emulator did not create the 1,000-alert incident");
    const { key, id, type } = emulator.keys.standard;
    const client = new CortexClient({
      baseUrl: emulator.url,
      product: "xdr",
      credentials: { apiKey: key, apiKeyId: id, authType: type },
    });
    const fetched = await client.getIncidentExtraData(incident.incident_id, { alertsLimit: ALERTS });
    await client.close();
    if (fetched.alertsReturned !== ALERTS) {
      throw new BenchmarkError(`expected ${ALERTS} alerts in the reply, got ${fetched.alertsReturned}`);
    }
    // The body as the API sends it: {"reply": {...}}.
    const text = JSON.stringify({ reply: fetched.reply });
    const bytes = Buffer.from(text, "utf8");
    const { s3 } = localAwsClients(aws.url);
    const bucket = "bench-large-incident";
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const floor = async () => {
      JSON.parse(text);
      return gzip(bytes);
    };
    let upload = 0;
    const archive = async () => {
      const reply = (JSON.parse(text) as { reply: Record<string, unknown> }).reply;
      const result = parseExtraDataReply(reply);
      const modificationTime = Number(result.incident?.modification_time ?? 0);
      upload += 1;
      await archiveIncident(s3, {
        bucket,
        key: archiveKey(incident.incident_id, incident.creation_time, modificationTime + upload),
        reply: result.reply,
        version: {
          incidentId: incident.incident_id,
          severity: String(result.incident?.severity ?? "unknown"),
          status: String(result.incident?.status ?? "unknown"),
          modificationTime,
          fetchTime: Date.now(),
          alertsReturned: result.alertsReturned,
          alertsTotal: result.alertsTotal,
          alertsComplete: true,
          source: "get_incident_extra_data",
          schemaIssues: result.schemaIssues,
        },
      });
    };
    const validateOnly = async () =>
      parseExtraDataReply((JSON.parse(text) as { reply: Record<string, unknown> }).reply);

    const floorTimes = await timeRuns(floor);
    const validateTimes = await timeRuns(validateOnly);
    const archiveTimes = await timeRuns(archive);
    const memory = await measureMemory(text, aws.url, bucket);
    const floorMs = median(floorTimes);
    const archiveMs = median(archiveTimes);
    const compressed = await gzip(Buffer.from(JSON.stringify(fetched.reply)));
    return {
      title: "2. Large incidents: archiving a 1,000-alert reply",
      method:
        `A get_incident_extra_data reply with ${ALERTS.toLocaleString("en-US")} alerts from the emulator (${(bytes.length / MiB).toFixed(2)} MiB of JSON, ${(compressed.length / 1024).toFixed(0)} KiB gzipped). ` +
        `Median of ${RUNS} runs after ${WARMUP} warm-up runs. Archive = JSON.parse + the client's reply schema + gzip + PutObject to the embedded endpoint (the enricher's path); floor = JSON.parse + gzip of the same bytes.`,
      columns: ["step", "median", "range"],
      rows: [
        ["floor: JSON.parse + gzip", `${floorMs.toFixed(1)} ms`, rangeOf(floorTimes)],
        ["JSON.parse + schema validation", `${median(validateTimes).toFixed(1)} ms`, rangeOf(validateTimes)],
        ["archive: parse + validate + gzip + upload", `${archiveMs.toFixed(1)} ms`, rangeOf(archiveTimes)],
        ["ratio archive / floor", (archiveMs / floorMs).toFixed(2), ""],
        [
          "memory while archiving",
          `RSS +${(memory.rssRise / MiB).toFixed(0)} MiB (from ${(memory.rssBefore / MiB).toFixed(0)} MiB)`,
          `heap +${(memory.heapRise / MiB).toFixed(1)} MiB`,
        ],
      ],
      notes: [
        `Memory: fresh Node processes (median of ${PROBE_RUNS}) load the modules and the reply text, collect garbage, then archive once; the figures are the peak rise of RSS and of the heap over the level just before the step (sampled every millisecond and after each stage).`,
      ],
    };
  } finally {
    await aws.close();
    await emulator.close();
  }
}

function rangeOf(times: readonly number[]): string {
  return `${Math.min(...times).toFixed(1)}–${Math.max(...times).toFixed(1)} ms`;
}
