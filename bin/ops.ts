// `npm run ops -- <command>`: status, backfill, redrive, replay, verify. See --help and local/ops/README.md.
// Powertools Metrics (used by the enricher code replay runs) would print EMF JSON to stdout; off unless asked for.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";

const { runOpsCli } = await import("../local/ops/cli.ts");

const stop = new AbortController();
process.on("SIGINT", () => {
  if (stop.signal.aborted) process.exit(130);
  stop.abort();
});
process.on("SIGTERM", () => stop.abort());

process.exitCode = await runOpsCli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  stopSignal: stop.signal,
});
