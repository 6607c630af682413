// get_multiple_incidents_extra_data (API-FACTS "A batch endpoint"): get_incidents' filters, sort and window,
// each incident with its alerts (at most `alerts_limit_per_incident`, not sorted) and artifacts.

import { InvalidQueryError, queryIncidents } from "./query.ts";
import { createRandom } from "./random.ts";
import type { IncidentStore } from "./tenant.ts";
import type { EmulatedProduct } from "./types.ts";

/** The cap the vendor's integration reads back from the reply ("about 50"). */
export const DEFAULT_BATCH_ALERTS_PER_INCIDENT = 50;

function fieldList(data: Record<string, unknown>, name: string): Set<string> {
  const value = data[name];
  if (value === undefined || value === null) return new Set();
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new InvalidQueryError(`${name} must be a list of field names`, name);
  }
  return new Set(value);
}

function without(record: Record<string, unknown>, excluded: ReadonlySet<string>): Record<string, unknown> {
  if (excluded.size === 0) return record;
  return Object.fromEntries(Object.entries(record).filter(([field]) => !excluded.has(field)));
}

/** A fixed shuffle per incident version: the real endpoint's alerts are "not sorted". */
function unsorted<T>(items: T[], seed: string, incidentId: string, version: number): T[] {
  const random = createRandom(seed, "batch-alert-order", incidentId, version);
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** The `reply` of one get_multiple_incidents_extra_data request, or InvalidQueryError as get_incidents has. */
export function batchExtraDataReply(
  store: IncidentStore,
  data: Record<string, unknown>,
  product: EmulatedProduct,
  alertsPerIncident: number,
): Record<string, unknown> {
  const incidentFields = fieldList(data, "fields_to_exclude");
  const alertFields = fieldList(data, "alert_fields_to_exclude");
  if (data.drop_nulls !== undefined && typeof data.drop_nulls !== "boolean") {
    throw new InvalidQueryError("drop_nulls must be true or false", "drop_nulls");
  }
  const page = queryIncidents(store.all(), data, product);
  const incidents = page.incidents.map((listed) => {
    const full = store.extraData(listed.incident_id, Number.POSITIVE_INFINITY);
    const alerts = full.alerts as { total_count: number; data: Record<string, unknown>[] };
    const version = listed.modification_time;
    const chosen = unsorted(alerts.data, store.identity.seed, listed.incident_id, version)
      .slice(0, alertsPerIncident)
      .map((alert) => without(alert, alertFields));
    return {
      ...full,
      incident: without(full.incident as Record<string, unknown>, incidentFields),
      alerts: { total_count: alerts.total_count, data: chosen },
    };
  });
  return {
    total_count: page.total_count,
    result_count: incidents.length,
    alerts_limit_per_incident: alertsPerIncident,
    incidents,
  };
}
