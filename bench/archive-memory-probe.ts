// Run by benchmark 2 in a fresh process, so its memory figures are not mixed with the benchmark's own:
// reads a saved reply body and either only reads it ("baseline") or archives it once ("archive"), then
// prints the process's peak RSS and the heap held while the parsed reply is alive, as JSON.
// Usage: node bench/archive-memory-probe.ts <baseline|archive> <reply file> <endpoint url> <bucket>
import { readFileSync } from "node:fs";
import { archiveIncident } from "../functions/shared/archive.ts";
import { parseExtraDataReply } from "../functions/shared/cortex/schemas.ts";
import { localAwsClients } from "../local/aws-endpoint.ts";

const [mode, file, endpointUrl, bucket] = process.argv.slice(2);
const text = readFileSync(file ?? "", "utf8");
const heapBefore = process.memoryUsage().heapUsed;
let heapHeld = 0;
/** Keeps the parsed reply reachable until the heap is measured. */
let kept: unknown;
if (mode === "archive" && endpointUrl !== undefined && bucket !== undefined) {
  const result = parseExtraDataReply((JSON.parse(text) as { reply: Record<string, unknown> }).reply);
  kept = result;
  await archiveIncident(localAwsClients(endpointUrl).s3, {
    bucket,
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
      schemaIssues: result.schemaIssues,
    },
  });
  heapHeld = process.memoryUsage().heapUsed - heapBefore;
}
// resourceUsage().maxRSS is in KiB.
process.stdout.write(
  JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, heapHeld, kept: kept !== undefined }),
);
