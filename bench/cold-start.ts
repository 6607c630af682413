// Benchmark 3: each Lambda bundle as `cdk synth` produces it, its size, and the median time to import it
// (the init phase: module evaluation and cold-start wiring) in a fresh Node 24 process.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BenchmarkError, type BenchTable, median } from "./report.ts";

const IMPORT_RUNS = 15;

/** Placeholder values so each handler's cold-start env parsing succeeds; nothing is called. */
const LAMBDA_ENV: Record<string, string> = {
  ARCHIVE_BUCKET: "bench-archive",
  INCIDENT_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
  INCIDENT_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:bench",
  CORTEX_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench",
  CORTEX_API_URL: "https://api-bench.xdr.us.paloaltonetworks.com",
  CORTEX_PRODUCT: "xdr",
  AWS_REGION: "us-east-1",
  POWERTOOLS_METRICS_NAMESPACE: "Bench",
};

interface FunctionBundle {
  logicalId: string;
  file: string;
  memoryMb: number;
}

function synthBundles(outdir: string): FunctionBundle[] {
  execFileSync("node_modules/.bin/cdk", ["synth", "--quiet", "--output", outdir], { stdio: "pipe" });
  const templateFile = readdirSync(outdir).find((f) => f.endsWith(".template.json"));
  if (!templateFile) throw new BenchmarkError(`cdk synth wrote no template into ${outdir}`);
  const template = JSON.parse(readFileSync(join(outdir, templateFile), "utf8")) as {
    Resources: Record<
      string,
      { Type: string; Metadata?: Record<string, string>; Properties?: { MemorySize?: number } }
    >;
  };
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === "AWS::Lambda::Function" && r.Metadata?.["aws:asset:path"])
    .map(([logicalId, r]) => {
      const dir = join(outdir, r.Metadata?.["aws:asset:path"] ?? "");
      const entry = readdirSync(dir).find((f) => /^index\.(mjs|js)$/.test(f));
      // Lambda's default is 128 MB when a function does not set it.
      return { logicalId, file: join(dir, entry ?? "index.mjs"), memoryMb: r.Properties?.MemorySize ?? 128 };
    })
    .filter((b) => statSync(b.file, { throwIfNoEntry: false }) !== undefined);
}

function importMillis(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, ...LAMBDA_ENV },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new BenchmarkError(`importing ${file} failed: ${run.stderr}`);
  return Number(run.stdout);
}

export interface ColdStartResult {
  table: BenchTable;
  /** Median import time per function logical id, for the cost model. */
  importMs: Record<string, number>;
  /** Configured memory per function logical id, for the cost model. */
  memoryMb: Record<string, number>;
}

export function benchColdStart(): ColdStartResult {
  const outdir = mkdtempSync(join(tmpdir(), "bench-synth-"));
  try {
    const bundles = synthBundles(outdir);
    const importMs: Record<string, number> = {};
    const memoryMb: Record<string, number> = {};
    const rows = bundles
      .filter((b) => !b.logicalId.startsWith("CustomResource") && !b.logicalId.includes("LogRetention"))
      .map((b) => {
        const bytes = readFileSync(b.file);
        const times = Array.from({ length: IMPORT_RUNS }, () => importMillis(b.file));
        importMs[b.logicalId] = median(times);
        memoryMb[b.logicalId] = b.memoryMb;
        return [
          b.logicalId,
          `${b.memoryMb} MB`,
          `${(bytes.length / 1024).toFixed(0)} KiB`,
          `${(gzipSync(bytes).length / 1024).toFixed(0)} KiB`,
          `${median(times).toFixed(0)} ms`,
          `${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)} ms`,
        ];
      });
    return {
      importMs,
      memoryMb,
      table: {
        title: "3. Cold start: bundle size and import time",
        method: `Bundles exactly as \`cdk synth\` writes them (esbuild, ESM, minified as configured). Import time: median of ${IMPORT_RUNS} fresh \`node\` processes each importing the bundle once with placeholder environment values (handler wiring runs; no network call is made).`,
        columns: ["function", "memory", "bundle", "gzipped", "median import", "range"],
        rows,
      },
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
