// The project's real Cortex client pointed at an emulator with its standard key: how tests, benchmarks and
// the pipeline harness talk to the emulated tenant, so each sets only what it is about (clock, retries).
import type { CortexCredentials } from "../../functions/shared/cortex/api.ts";
import { CortexClient, type CortexClientConfig } from "../../functions/shared/cortex/client.ts";
import type { CortexEmulator, CortexEmulatorOptions } from "./types.ts";

/** Rate limits too high to matter: for tests and benchmarks whose injected clock makes requests look instant. */
export const UNLIMITED_RATE_LIMITS: CortexEmulatorOptions["rateLimits"] = {
  tenant: { requests: 1_000_000, windowMs: 1_000 },
};

export function standardCredentials(emulator: Pick<CortexEmulator, "keys">): CortexCredentials {
  const key = emulator.keys.standard;
  return { apiKey: key.key, apiKeyId: key.id, authType: "standard" };
}

export function emulatorClient(
  emulator: Pick<CortexEmulator, "url" | "keys">,
  options: Omit<CortexClientConfig<"xdr">, "baseUrl" | "product" | "credentials"> & {
    credentials?: CortexCredentials;
  } = {},
): CortexClient<"xdr"> {
  return new CortexClient({
    baseUrl: emulator.url,
    product: "xdr",
    credentials: standardCredentials(emulator),
    ...options,
  });
}
