// Switchable faults. Random ones draw from a PRNG fixed by the seed, so a run replays identically.
import { createRandom, type Random } from "./random.ts";
import type { EmulatorEndpoint, EmulatorFaults, RateFault } from "./types.ts";

export type RateFaultName =
  | "serverErrorRate"
  | "connectionResetRate"
  | "truncatedBodyRate"
  | "nonJsonBodyRate"
  | "schemaViolationRate";

export class FaultPlan {
  private faults: Partial<EmulatorFaults> = {};
  private burstLeft = 0;
  private notFoundLeft = 0;
  private readonly random: Random;

  constructor(seed: string) {
    this.random = createRandom(seed, "faults");
  }

  set(faults: Partial<EmulatorFaults>): void {
    this.faults = { ...this.faults, ...faults };
    if (faults.throttleBurst !== undefined) {
      const burst = faults.throttleBurst;
      this.burstLeft = typeof burst === "number" ? burst : burst.count;
    }
    if (faults.transientNotFound !== undefined) this.notFoundLeft = faults.transientNotFound;
  }

  clear(): void {
    this.faults = {};
    this.burstLeft = 0;
    this.notFoundLeft = 0;
  }

  latencyMs(endpoint: EmulatorEndpoint): number {
    const latency = this.faults.latencyMs;
    if (latency === undefined) return 0;
    if (typeof latency === "number") return latency;
    return latency.endpoint === undefined || latency.endpoint === endpoint ? latency.ms : 0;
  }

  clockSkewMs(): number {
    return this.faults.clockSkewMs ?? 0;
  }

  platformSeverities(): boolean {
    return this.faults.platformSeverities === true;
  }

  withoutBatchEndpoint(): boolean {
    return this.faults.withoutBatchEndpoint === true;
  }

  /** True while a transient not-found lasts; each get_incident_extra_data call uses one. */
  takeTransientNotFound(): boolean {
    if (this.notFoundLeft <= 0) return false;
    this.notFoundLeft -= 1;
    return true;
  }

  modifyBetweenPages(): number {
    return this.faults.modifyBetweenPages ?? 0;
  }

  /** How late the index lists a change made now: 0 unless the lateListing fault strikes it. */
  listingDelay(): number {
    const late = this.faults.lateListing;
    if (late === undefined || late.rate <= 0 || this.random.next() >= late.rate) return 0;
    const { delayMs } = late;
    return typeof delayMs === "number" ? delayMs : this.random.int(delayMs[0], delayMs[1]);
  }

  malformedListing(): EmulatorFaults["malformedListing"] | undefined {
    return this.faults.malformedListing;
  }

  restrictedIncidentIds(): readonly string[] {
    return this.faults.restrictedIncidentIds ?? [];
  }

  staleListing(): readonly string[] {
    return this.faults.staleListing ?? [];
  }

  /** True while a throttle burst lasts for this endpoint; each call uses one of the burst. */
  takeThrottle(endpoint: EmulatorEndpoint): boolean {
    const burst = this.faults.throttleBurst;
    if (this.burstLeft <= 0 || burst === undefined) return false;
    if (typeof burst !== "number" && burst.endpoint !== undefined && burst.endpoint !== endpoint)
      return false;
    this.burstLeft -= 1;
    return true;
  }

  /** Draws only when the fault is on for this endpoint, so switching one fault does not reshuffle another. */
  strikes(name: RateFaultName, endpoint: EmulatorEndpoint): boolean {
    const fault: RateFault | undefined = this.faults[name];
    if (fault === undefined) return false;
    const { rate, endpoint: only } = typeof fault === "number" ? { rate: fault, endpoint: undefined } : fault;
    if (rate <= 0 || (only !== undefined && only !== endpoint)) return false;
    return this.random.next() < rate;
  }

  /** A deterministic stream for choices a fault makes (which incidents to modify, which field to break). */
  get choices(): Random {
    return this.random;
  }
}
