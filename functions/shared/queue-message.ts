// The message the poller sends and the enricher consumes: one incident version.
// One schema for producer and consumer; unknown fields are kept so either side can grow.
import { z } from "zod";

export const incidentVersionMessageSchema = z.looseObject({
  incident_id: z.string().min(1),
  modification_time: z.number().int().nonnegative(),
  creation_time: z.number().int().nonnegative(),
  severity: z.string().min(1),
  /** The analyst's override (null when not set): the threshold is judged on the higher of the two. */
  manual_severity: z.string().nullish(),
  status: z.string().min(1),
  alert_count: z.number().int().nonnegative().nullish(),
  incident_name: z.string().nullish(),
  /** Epoch ms when the poller read this version from the API. */
  polled_at: z.number().int().nonnegative(),
});

export type IncidentVersionMessage = z.infer<typeof incidentVersionMessageSchema>;

/** The priority queue keeps a hint this long: an older one is not worth serving first (its ordinary copy is queued). */
export const PRIORITY_HINT_RETENTION_SECONDS = 900;
