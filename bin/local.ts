// `npm start` (node bin/local.ts): the whole pipeline on this machine. See --help.
// Powertools Metrics would print EMF JSON to stdout over the status view; off unless asked for.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";

const { runLocalCli } = await import("../local/runner/main.ts");

const stop = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals === 1) {
    stop.abort();
    return;
  }
  process.stderr.write(`\n${signal} again: quitting without waiting for in-flight work.\n`);
  process.exit(130);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

process.exitCode = await runLocalCli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  stopSignal: stop.signal,
});
