// The get_incidents reply: the search index's view of the tenant (late listing included), shaped by
// the listing faults (restricted, stale and malformed items), then filtered, sorted and paged.
import type { FaultPlan } from "./faults.ts";
import { queryIncidents } from "./query.ts";
import type { IncidentStore } from "./tenant.ts";
import type { EmulatedIncident, EmulatedProduct } from "./types.ts";

export function getIncidentsReply(
  store: IncidentStore,
  faults: FaultPlan,
  product: EmulatedProduct,
  requestData: Record<string, unknown>,
): Record<string, unknown> {
  const restricted = faults.restrictedIncidentIds();
  const hidden = new Set(restricted);
  const listed = store.listed().filter((incident) => !hidden.has(incident.incident_id));
  const result = queryIncidents([...listed, ...staleCopies(store, faults)], requestData, product);
  breakModificationTimes(result.incidents, faults);
  // Xpanse always sends the field (empty); XDR only when the tenant restricts something.
  return product === "xpanse" || restricted.length > 0
    ? { ...result, restricted_incident_ids: [...restricted] }
    : { ...result };
}

/** A stale index entry: the incident as listed now, at its previous version's modification_time. */
function staleCopies(store: IncidentStore, faults: FaultPlan): EmulatedIncident[] {
  const ids = new Set(faults.staleListing());
  if (ids.size === 0) return [];
  const copies: EmulatedIncident[] = [];
  for (const id of ids) {
    const shown = store.listedVersion(id);
    if (shown === undefined) continue;
    const earlier = store
      .versions()
      .filter((v) => v.incident_id === id && v.modification_time < shown.modification_time)
      .at(-1);
    if (earlier !== undefined) copies.push({ ...shown, modification_time: earlier.modification_time });
  }
  return copies;
}

function breakModificationTimes(page: EmulatedIncident[], faults: FaultPlan): void {
  const malformed = faults.malformedListing();
  if (malformed === undefined) return;
  const ids = new Set(malformed.incidentIds);
  for (const item of page) {
    if (!ids.has(item.incident_id)) continue;
    const broken = item as Record<string, unknown>;
    if (malformed.modificationTime === "missing") delete broken.modification_time;
    else broken.modification_time = String(item.modification_time);
  }
}
