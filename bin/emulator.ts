// `npm run emulator -- [--port N] [--seed S] [--incidents N] [--product xdr|xpanse] [--live-interval MS]`:
// the Cortex tenant emulator alone; prints one JSON line {"url", "keys"} when ready, stops on SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { CORTEX_PRODUCTS, isCortexProduct } from "../functions/shared/cortex/vocabulary.ts";
import { type EmulatedProduct, startCortexEmulator } from "../local/emulator/index.ts";

const USAGE =
  "usage: npm run emulator -- [--port N] [--seed S] [--incidents N] [--product xdr|xpanse] [--live-interval MS]";

function integerOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got "${value}"\n${USAGE}\n`);
    process.exit(2);
  }
  return parsed;
}

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    seed: { type: "string" },
    incidents: { type: "string" },
    product: { type: "string" },
    "live-interval": { type: "string" },
  },
  strict: true,
});

const product = values.product ?? "xdr";
if (!isCortexProduct(product)) {
  process.stderr.write(
    `--product must be one of ${CORTEX_PRODUCTS.join(", ")}, got "${product}"\n${USAGE}\n`,
  );
  process.exit(2);
}
const liveInterval = integerOption("live-interval", values["live-interval"]);

const emulator = await startCortexEmulator({
  port: integerOption("port", values.port),
  seed: values.seed,
  incidents: integerOption("incidents", values.incidents),
  product: product as EmulatedProduct,
  live: liveInterval === undefined ? undefined : { intervalMs: liveInterval },
});
// The keys are the emulator's own throwaway keys: printing them is how scripts learn them.
process.stdout.write(`${JSON.stringify({ url: emulator.url, keys: emulator.keys.all })}\n`);

const stop = async () => {
  await emulator.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
