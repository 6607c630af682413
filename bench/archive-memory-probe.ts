// Run by benchmark 2 in a fresh process (with --expose-gc), so its memory figures are not mixed with the
// benchmark's own: reads a saved reply body, collects garbage, then archives it once as the enricher does
// (parse, validate, gzip, upload) and prints, as JSON, how far RSS and the heap rose above where they were
// just before the step. Usage: node --expose-gc bench/archive-memory-probe.ts <reply file> <endpoint url> <bucket>
import { readFileSync } from "node:fs";
import { archiveIncident } from "../functions/shared/archive.ts";
import { parseExtraDataReply } from "../functions/shared/cortex/schemas.ts";
import { localAwsClients } from "../local/aws-endpoint.ts";

const [file, endpointUrl, bucket] = process.argv.slice(2);
const text = readFileSync(file ?? "", "utf8");
const { s3 } = localAwsClients(endpointUrl ?? "");
globalThis.gc?.();
const before = process.memoryUsage();
let peakRss = before.rss;
let peakHeap = before.heapUsed;
const sample = () => {
  const now = process.memoryUsage();
  peakRss = Math.max(peakRss, now.rss);
  peakHeap = Math.max(peakHeap, now.heapUsed);
};
// The upload is asynchronous: sample while it runs too.
const sampler = setInterval(sample, 1);
const parsed = JSON.parse(text) as { reply: Record<string, unknown> };
sample();
const result = parseExtraDataReply(parsed.reply);
sample();
await archiveIncident(s3, {
  bucket: bucket ?? "",
  key: `incidents/probe/${process.pid}.json.gz`,
  reply: result.reply,
  version: {
    incidentId: "probe",
    severity: "high",
    status: "new",
    modificationTime: 1,
    fetchTime: Date.now(),
    alertsReturned: result.alertsReturned,
    alertsTotal: result.alertsTotal,
    alertsComplete: true,
    source: "get_incident_extra_data",
    schemaIssues: result.schemaIssues,
  },
});
sample();
clearInterval(sampler);
process.stdout.write(
  JSON.stringify({
    rssBefore: before.rss,
    rssRise: peakRss - before.rss,
    heapRise: peakHeap - before.heapUsed,
  }),
);
