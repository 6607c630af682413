// The tenant's incident store: the backlog, new incidents, bursts, modifications, and every version ever served.

import { SEVERITY_RANK } from "../../functions/shared/cortex/api.ts";
import {
  ALERT_SEVERITIES,
  type AlertBatch,
  type AlertSeverity,
  alertCountsFor,
  batchSize,
  buildAlert,
  buildArtifacts,
  buildIncident,
  initialAlertCount,
  pickSeverity,
  RESOLVED_STATUSES,
  resolveComment,
  type TenantIdentity,
} from "./incident-data.ts";
import { IncidentListing } from "./listing.ts";
import { createRandom, type Random } from "./random.ts";
import type { EmulatedIncident, IncidentChanges, IncidentOverrides, IncidentVersion } from "./types.ts";

interface IncidentRecord {
  incident: EmulatedIncident;
  batches: AlertBatch[];
}

const BACKLOG_SPAN_MS = 6 * 60 * 60 * 1000;

export class UnknownIncidentError extends Error {
  readonly incidentId: string;
  constructor(incidentId: string) {
    super(`Incident ${incidentId} was not found`);
    this.name = "UnknownIncidentError";
    this.incidentId = incidentId;
  }
}

function isAlertSeverity(value: unknown): value is AlertSeverity {
  return typeof value === "string" && (ALERT_SEVERITIES as readonly string[]).includes(value);
}

export class IncidentStore {
  readonly identity: TenantIdentity;
  private readonly records = new Map<string, IncidentRecord>();
  private readonly history: IncidentVersion[] = [];
  private readonly clock: () => number;
  private readonly changeRandom: Random;
  private nextId: number;
  /** The latest modification_time handed out: the tenant clock never goes backwards. */
  private highWater = 0;
  /** What get_incidents lists, which can trail the records (late listing). */
  private readonly listing = new IncidentListing();
  /** How late the index lists a change that names no delay of its own (the lateListing fault). */
  private defaultListingDelay: () => number = () => 0;

  constructor(identity: TenantIdentity, clock: () => number) {
    this.identity = identity;
    this.clock = clock;
    this.changeRandom = createRandom(identity.seed, "changes");
    this.nextId = createRandom(identity.seed, "first-id").int(100, 999);
  }

  /** Now on the tenant clock: never before a modification time already handed out. */
  now(): number {
    return Math.max(this.clock(), this.highWater);
  }

  /** Fills the hours before `now` with `count` incidents: bursts sharing one ms, some modified since. */
  seedBacklog(count: number): void {
    const random = createRandom(this.identity.seed, "backlog");
    const end = this.clock();
    const step = count > 0 ? BACKLOG_SPAN_MS / count : 0;
    let created = 0;
    while (created < count) {
      const creationTime = Math.round(end - BACKLOG_SPAN_MS + created * step);
      const burst = random.chance(0.06) ? Math.min(random.int(3, 20), count - created) : 1;
      for (let i = 0; i < burst; i++) {
        const record = this.createRecord({}, creationTime, creationTime);
        created += 1;
        // A third of the backlog was worked on after creation (only the current version is visible).
        if (burst === 1 && random.chance(0.33)) {
          const modified = creationTime + random.int(1, Math.max(1, end - creationTime));
          this.applyChanges(record, this.plausibleChanges(record, random), Math.min(modified, end), random);
        }
        this.store(record, 0);
      }
    }
  }

  /** Draws the listing delay of every change made without an explicit one. */
  setDefaultListingDelay(delay: () => number): void {
    this.defaultListingDelay = delay;
  }

  add(overrides: IncidentOverrides[], listingDelayMs?: number): EmulatedIncident[] {
    return overrides.map((override) => {
      const time = this.now();
      const creationTime = override.creation_time ?? time;
      const record = this.createRecord(override, creationTime, override.modification_time ?? creationTime);
      this.store(record, listingDelayMs ?? this.defaultListingDelay());
      return structuredClone(record.incident);
    });
  }

  addBurst(count: number, modificationTime?: number): EmulatedIncident[] {
    const time = modificationTime ?? this.now();
    return this.add(Array.from({ length: count }, () => ({ creation_time: time, modification_time: time })));
  }

  modify(incidentId: string, changes?: IncidentChanges): EmulatedIncident {
    const record = this.records.get(incidentId);
    if (record === undefined) throw new UnknownIncidentError(incidentId);
    const chosen = changes ?? this.plausibleChanges(record, this.changeRandom);
    const time = chosen.modificationTime ?? Math.max(this.now(), record.incident.modification_time + 1);
    const delayMs = chosen.listingDelayMs ?? this.defaultListingDelay();
    this.listing.beforeChange(record.incident, delayMs);
    this.applyChanges(record, chosen, time, this.changeRandom);
    this.store(record, delayMs);
    return structuredClone(record.incident);
  }

  /** Modifies `count` incidents picked from the seed (live mode and the modify-between-pages fault). */
  modifySome(count: number, random: Random = this.changeRandom): EmulatedIncident[] {
    const ids = [...this.records.keys()];
    if (ids.length === 0) return [];
    return Array.from({ length: count }, () => this.modify(random.pick(ids)));
  }

  all(): EmulatedIncident[] {
    return [...this.records.values()].map((record) => record.incident);
  }

  /** Every incident as get_incidents lists it now: late-listed changes show their previous version. */
  listed(): EmulatedIncident[] {
    return this.listing.listed(this.clock());
  }

  /** The version get_incidents shows for one incident now, or undefined while it is not listed. */
  listedVersion(incidentId: string): EmulatedIncident | undefined {
    return this.listing.shownVersion(incidentId, this.clock());
  }

  versions(): IncidentVersion[] {
    return this.history.map((version) => ({ ...version }));
  }

  /** The get_incident_extra_data reply: alerts regenerated from the seed, at most `alertsLimit` of them. */
  extraData(incidentId: string, alertsLimit: number): Record<string, unknown> {
    const record = this.records.get(incidentId);
    if (record === undefined) throw new UnknownIncidentError(incidentId);
    const { incident } = record;
    const alerts: Record<string, unknown>[] = [];
    let index = 0;
    for (const batch of record.batches) {
      // Alerts of one batch were detected in the seconds before it was attached, the last one at its time.
      let position = batchSize(batch);
      for (const severity of ALERT_SEVERITIES) {
        for (let i = 0; i < batch.counts[severity] && alerts.length < alertsLimit; i++) {
          position -= 1;
          alerts.push(
            buildAlert(this.identity, incident, index, severity, batch.detectedAt - position * 997),
          );
          index += 1;
        }
      }
    }
    return {
      incident: {
        ...structuredClone(incident),
        incident_domain: "DOMAIN_SECURITY",
        custom_fields: {},
      },
      alerts: { total_count: incident.alert_count, data: alerts },
      ...buildArtifacts(this.identity, incident),
    };
  }

  private createRecord(
    override: IncidentOverrides,
    creationTime: number,
    modificationTime: number,
  ): IncidentRecord {
    const incidentId = override.incident_id ?? String(this.nextId);
    this.nextId = Math.max(this.nextId, Number(incidentId) || 0) + 1;
    const random = createRandom(this.identity.seed, "new", incidentId);
    const total = Math.max(1, override.alert_count ?? initialAlertCount(random, Number(incidentId)));
    const top = isAlertSeverity(override.severity) ? override.severity : pickSeverity(random);
    const batch: AlertBatch = { detectedAt: creationTime, counts: alertCountsFor(random, total, top) };
    const incident = buildIncident(this.identity, incidentId, { creationTime, modificationTime }, batch);
    Object.assign(incident, override);
    return { incident, batches: [batch] };
  }

  private store(record: IncidentRecord, listingDelayMs: number): void {
    const { incident } = record;
    this.records.set(incident.incident_id, record);
    this.highWater = Math.max(this.highWater, incident.modification_time);
    this.listing.afterChange(incident, listingDelayMs);
    this.history.push({
      incident_id: incident.incident_id,
      modification_time: incident.modification_time,
      severity: incident.severity,
      status: incident.status,
      ...(listingDelayMs > 0 ? { listing_delay_ms: listingDelayMs } : {}),
    });
  }

  /** What analysts and the detection engine typically do next to an incident in this state. */
  private plausibleChanges(record: IncidentRecord, random: Random): IncidentChanges {
    const { status, severity } = record.incident;
    const roll = random.next();
    if (status.startsWith("resolved")) return { status: "under_investigation", addAlerts: random.int(1, 3) };
    if (roll < 0.25 && severity !== "critical") {
      return { severity: (SEVERITY_RANK[severity] ?? 0) >= 3 ? "critical" : "high" };
    }
    if (roll < 0.5) return { addAlerts: random.int(1, 20) };
    if (roll < 0.75 && status === "new") return { status: "under_investigation" };
    return { status: random.pick(RESOLVED_STATUSES) };
  }

  private applyChanges(record: IncidentRecord, changes: IncidentChanges, time: number, random: Random): void {
    const { incident } = record;
    const currentRank = SEVERITY_RANK[incident.severity] ?? 0;
    if (changes.addAlerts !== undefined && changes.addAlerts > 0) {
      const capped = ALERT_SEVERITIES.find((s) => (SEVERITY_RANK[s] ?? 0) <= currentRank) ?? "informational";
      record.batches.push({ detectedAt: time, counts: alertCountsFor(random, changes.addAlerts, capped) });
    }
    if (changes.severity !== undefined) {
      if ((SEVERITY_RANK[changes.severity] ?? 0) > currentRank && isAlertSeverity(changes.severity)) {
        record.batches.push({ detectedAt: time, counts: alertCountsFor(random, 1, changes.severity) });
      }
      incident.severity = changes.severity;
    }
    if (changes.status !== undefined) {
      incident.status = changes.status;
      const resolved = changes.status.startsWith("resolved");
      incident.resolved_timestamp = resolved ? time : null;
      incident.resolve_comment = resolved ? resolveComment(random, changes.status) : null;
    }
    const counts = { critical: 0, high: 0, medium: 0, low: 0, informational: 0 };
    for (const batch of record.batches) for (const s of ALERT_SEVERITIES) counts[s] += batch.counts[s];
    incident.alert_count = record.batches.reduce((sum, batch) => sum + batchSize(batch), 0);
    incident.critical_severity_alert_count = counts.critical;
    incident.high_severity_alert_count = counts.high;
    incident.med_severity_alert_count = counts.medium;
    incident.low_severity_alert_count = counts.low;
    Object.assign(incident, changes.fields ?? {});
    incident.modification_time = time;
  }
}
