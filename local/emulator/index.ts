// startCortexEmulator(): a fake Cortex XDR / Xpanse tenant on 127.0.0.1, with a control API for tests and demos.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_PREFIX, handleAdminRequest } from "./admin.ts";
import { generatedKeys, KeyVerifier } from "./auth.ts";
import { DEFAULT_BATCH_ALERTS_PER_INCIDENT } from "./batch-extra-data.ts";
import { FaultPlan } from "./faults.ts";
import { tenantIdentity } from "./incident-data.ts";
import { RequestJournal } from "./journal.ts";
import {
  DEFAULT_BATCH_EXTRA_DATA_LIMIT,
  DEFAULT_EXTRA_DATA_LIMIT,
  DEFAULT_TENANT_LIMIT,
  SlidingWindow,
} from "./rate-limits.ts";
import { handlePublicRequest, type PublicApiContext } from "./server.ts";
import { IncidentStore } from "./tenant.ts";
import type {
  CortexEmulator,
  CortexEmulatorOptions,
  EmulatorControl,
  EmulatorKey,
  EmulatorKeyOption,
} from "./types.ts";

export { ADMIN_PREFIX } from "./admin.ts";
export type * from "./types.ts";

export const DEFAULT_BACKLOG = 200;

/** The configured keys, plus a generated one of each type none was configured for. */
function keysFor(seed: string, configured: readonly EmulatorKeyOption[]) {
  const [generatedStandard, generatedAdvanced] = generatedKeys(seed);
  const standard = configured.find((key) => key.type === "standard") ?? generatedStandard;
  const advanced = configured.find((key) => key.type === "advanced") ?? generatedAdvanced;
  const all = [...configured, ...[standard, advanced].filter((key) => !configured.includes(key))];
  const publicKey = ({ id, key, type }: EmulatorKey): EmulatorKey => ({ id, key, type });
  return { standard: publicKey(standard), advanced: publicKey(advanced), all };
}

export async function startCortexEmulator(options: CortexEmulatorOptions = {}): Promise<CortexEmulator> {
  const seed = String(options.seed ?? 1);
  const product = options.product ?? "xdr";
  const clock = options.now ?? Date.now;
  const store = new IncidentStore(tenantIdentity(seed, product), clock);
  store.seedBacklog(options.incidents ?? DEFAULT_BACKLOG);
  const keys = keysFor(seed, options.keys ?? []);
  const verifier = new KeyVerifier(keys.all);
  const faults = new FaultPlan(seed);
  store.setDefaultListingDelay(() => faults.listingDelay());
  const journal = new RequestJournal();
  const context: PublicApiContext = {
    product,
    store,
    verifier,
    faults,
    journal,
    clock,
    limits: {
      tenant: new SlidingWindow(options.rateLimits?.tenant ?? DEFAULT_TENANT_LIMIT),
      extraData: new SlidingWindow(options.rateLimits?.extraData ?? DEFAULT_EXTRA_DATA_LIMIT),
      batchExtraData: new SlidingWindow(options.rateLimits?.batchExtraData ?? DEFAULT_BATCH_EXTRA_DATA_LIMIT),
    },
    batchAlertsPerIncident: options.batchAlertsPerIncident ?? DEFAULT_BATCH_ALERTS_PER_INCIDENT,
  };

  const control: EmulatorControl = {
    addIncidents: (incidents, added = {}) =>
      store.add(
        typeof incidents === "number" ? Array.from({ length: incidents }, () => ({})) : incidents,
        added.listingDelayMs,
      ),
    addBurst: ({ count, modificationTime }) => store.addBurst(count, modificationTime),
    modifyIncident: (incidentId, changes) => store.modify(incidentId, changes),
    incidents: () => structuredClone(store.all()),
    listedIncidents: () => structuredClone(store.listed()),
    versions: () => store.versions(),
    requests: () => journal.requests(),
    setFaults: (partial) => faults.set(partial),
    clearFaults: () => faults.clear(),
    setKeyEntitlements: (keyId, entitlements) => verifier.setEntitlements(keyId, entitlements),
    stats: () => journal.stats(),
  };

  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const handled = path.startsWith(ADMIN_PREFIX)
      ? handleAdminRequest(control, request, response, path)
      : handlePublicRequest(context, request, response, path);
    handled.catch((error: unknown) => {
      // A bug in the emulator itself: answer 500 plainly rather than hang the client.
      if (!response.headersSent) response.writeHead(500, { "Content-Type": "text/plain" });
      response.end(`Cortex emulator internal error: ${(error as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let live: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  if (options.live !== undefined) {
    const { intervalMs, newPerTick = 1, modifiedPerTick = 1 } = options.live;
    live = setInterval(() => {
      store.modifySome(modifiedPerTick);
      control.addIncidents(newPerTick);
    }, intervalMs);
    live.unref();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    keys: { standard: keys.standard, advanced: keys.advanced, all: verifier.list() },
    control,
    close: () => {
      // Idempotent: a test's finally and its afterAll may both close.
      closing ??= new Promise<void>((resolve, reject) => {
        clearInterval(live);
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
