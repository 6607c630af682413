// The project's real Cortex client pointed at an emulator with its standard key, and an emulated tenant on
// a fake clock: how tests and benchmarks talk to the emulator, each setting only what it is about.
import type { CortexCredentials } from "../../functions/shared/cortex/api.ts";
import { CortexClient, type CortexClientConfig } from "../../functions/shared/cortex/client.ts";
import type { FakeClock } from "../clock.ts";
import { startCortexEmulator } from "./index.ts";
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

export interface ClockedTenantOptions {
  /** Drives emulator, client and whatever else the caller runs on it (a FakeClock: local/clock.ts). */
  clock: Pick<FakeClock, "now" | "advance">;
  incidents: number;
  seed?: string;
  /** How much of the clock each API request takes (none: requests are instant). */
  msPerRequest?: number;
}

/**
 * An emulated tenant on the caller's fake clock with its rate limits out of the way, and the project's client on
 * it (more with `clientWith`, e.g. another key): a poller's walk over real HTTP, in no real time.
 */
export async function startClockedTenant(options: ClockedTenantOptions) {
  const { clock } = options;
  const emulator = await startCortexEmulator({
    incidents: options.incidents,
    now: clock.now,
    rateLimits: UNLIMITED_RATE_LIMITS,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  const { msPerRequest } = options;
  const clients: CortexClient[] = [];
  const clientWith = (credentials: CortexCredentials = standardCredentials(emulator)) => {
    const client = emulatorClient(emulator, {
      credentials,
      now: clock.now,
      sleep: async () => {},
      ...(msPerRequest === undefined ? {} : { observer: () => clock.advance(msPerRequest) }),
    });
    clients.push(client);
    return client;
  };
  const client = clientWith();
  return {
    clock,
    emulator,
    client,
    clientWith,
    async close() {
      for (const each of clients) await each.close();
      await emulator.close();
    },
  };
}
export type ClockedTenant = Awaited<ReturnType<typeof startClockedTenant>>;
