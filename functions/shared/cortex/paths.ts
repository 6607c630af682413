// The Cortex public API paths, once: the client calls them, the emulator serves them.
// The real service accepts them with and without the trailing slash (API-FACTS.md).
export const CORTEX_API_PATHS = {
  get_incidents: "/public_api/v1/incidents/get_incidents/",
  get_incident_extra_data: "/public_api/v1/incidents/get_incident_extra_data/",
  // Not on a public page; the vendor's own SOAR integration uses it (API-FACTS.md).
  get_multiple_incidents_extra_data: "/public_api/v1/incidents/get_multiple_incidents_extra_data/",
} as const;

export type CortexEndpoint = keyof typeof CORTEX_API_PATHS;

export const GET_INCIDENTS_PATH = CORTEX_API_PATHS.get_incidents;
export const EXTRA_DATA_PATH = CORTEX_API_PATHS.get_incident_extra_data;
export const BATCH_EXTRA_DATA_PATH = CORTEX_API_PATHS.get_multiple_incidents_extra_data;

/** The two endpoints an archived reply can come from (recorded in the object's metadata). */
export type ExtraDataEndpoint = Extract<
  CortexEndpoint,
  "get_incident_extra_data" | "get_multiple_incidents_extra_data"
>;
