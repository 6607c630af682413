// A get_incidents item the pipeline cannot use (no numeric modification_time, say) must neither block
// the good ones nor vanish: it is kept raw under state/quarantine/listing/, with an ERROR and a metric, and
// the walk goes on. The key comes from the item's content, so the same broken item listed on every poll
// is kept once.
import { createHash } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { keySegment, metadataValue, QUARANTINE_PREFIX } from "../shared/archive.ts";
import type { MalformedListedIncident } from "../shared/cortex/api.ts";
import { PollerMetric } from "../shared/metric-names.ts";

export const LISTING_QUARANTINE_PREFIX = `${QUARANTINE_PREFIX}listing/`;

export interface ListingQuarantine {
  s3: S3Client;
  bucket: string;
  logger: Logger;
  metrics: Metrics;
}

/** state/quarantine/listing/<incident_id or "unknown">/<sha256 of the item>.json */
export function listingQuarantineKey(item: unknown): string {
  const raw = JSON.stringify(item) ?? "null";
  const id = (item as { incident_id?: unknown } | null)?.incident_id;
  const name = typeof id === "string" || typeof id === "number" ? keySegment(String(id)) : "unknown";
  return `${LISTING_QUARANTINE_PREFIX}${name}/${createHash("sha256").update(raw).digest("hex")}.json`;
}

export async function quarantineMalformedIncidents(
  items: readonly MalformedListedIncident[],
  context: ListingQuarantine,
): Promise<void> {
  for (const { item, problem } of items) {
    const key = listingQuarantineKey(item);
    await context.s3.send(
      new PutObjectCommand({
        Bucket: context.bucket,
        Key: key,
        Body: JSON.stringify(item),
        ContentType: "application/json",
        Metadata: { reason: metadataValue(problem) },
      }),
    );
    context.logger.error(
      "A get_incidents item fails the schema; kept it raw in quarantine and carried on with the rest",
      { quarantine_key: key, problem },
    );
  }
  context.metrics.addMetric(PollerMetric.QuarantinedIncidents, MetricUnit.Count, items.length);
}
