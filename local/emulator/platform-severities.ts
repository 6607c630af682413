// The platformSeverities switch: a tenant whose data has moved to the platform's spelling answers every
// severity as SEV_040_HIGH rather than high (API-FACTS "the move to cases"). Replies are copies, so the
// tenant's own records keep the classic spelling and its version history stays comparable.
import { normalizeSeverity, PLATFORM_SEVERITY_CODES } from "../../functions/shared/cortex/vocabulary.ts";
import type { EmulatorEndpoint } from "./types.ts";

type Item = Record<string, unknown>;

function respell(record: Item | undefined, fields: readonly string[]): void {
  if (record === undefined) return;
  for (const field of fields) {
    const severity = normalizeSeverity(record[field]);
    if (severity !== undefined) record[field] = PLATFORM_SEVERITY_CODES[severity];
  }
}

/** An extra-data reply (or one element of a batch reply): the incident and each of its alerts. */
function respellExtraData(element: Item | undefined): void {
  respell(element?.incident as Item | undefined, ["severity", "manual_severity"]);
  const alerts = (element?.alerts as { data?: Item[] } | undefined)?.data ?? [];
  for (const alert of alerts) respell(alert, ["severity"]);
}

export function spellSeveritiesForPlatform(body: { reply: Item }, endpoint: EmulatorEndpoint): void {
  const { reply } = body;
  const incidents = (reply.incidents as Item[] | undefined) ?? [];
  if (endpoint === "get_incidents") {
    for (const incident of incidents) respell(incident, ["severity", "manual_severity"]);
  } else if (endpoint === "get_multiple_incidents_extra_data") {
    for (const element of incidents) respellExtraData(element);
  } else {
    respellExtraData(reply);
  }
}
