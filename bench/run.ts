// `npm run bench`: runs the benchmarks, prints each table and writes BENCHMARKS.md at the repo root.
// Benchmarks never run inside `npm test`; their figures depend on the machine.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { benchApiBudget } from "./api-budget.ts";
import { benchBatchMode } from "./batch-mode.ts";
import { benchColdStart } from "./cold-start.ts";
import { costPerMillionVersions } from "./cost.ts";
import { benchLargeIncident } from "./large-incident.ts";
import { benchLateWindow } from "./late-window.ts";
import { benchPollerBacklog } from "./poller-backlog.ts";
import { type BenchTable, renderBenchmarksMarkdown, renderConsoleTable } from "./report.ts";
import { benchTimeToAlert } from "./time-to-alert.ts";

const OUTPUT = fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url));
/** At the budget's ceiling of 10 versions a minute and one poll a minute, a poll run serves 10 versions. */
const VERSIONS_PER_POLL_RUN = 10;

function show(table: BenchTable): BenchTable {
  console.log(renderConsoleTable(table));
  return table;
}

/** The configured memory of the function whose logical id contains `name` (Poller, Enricher). */
function memoryOf(memory: Record<string, number>, name: string, fallback: number): number {
  const entry = Object.entries(memory).find(([logicalId]) => logicalId.includes(name));
  return entry?.[1] ?? fallback;
}

const started = new Date();
console.log(`cortex-incident-export benchmarks, ${started.toISOString()}`);

const budget = await benchApiBudget();
const large = await benchLargeIncident();
const poller = await benchPollerBacklog();
const coldStart = benchColdStart();

const tables = [budget.table, large, coldStart.table, poller.table].map(show);
const cost = costPerMillionVersions({
  enricherMsPerVersion: budget.enricherMsPerVersion,
  enricherMemoryMb: memoryOf(coldStart.memoryMb, "Enricher", 512),
  enricherInvocationsPerVersion: budget.enricherInvocationsPerVersion,
  // Each run's fixed cost is shared by the versions it finds, plus the time per version.
  pollerMsPerVersion: poller.idleRunMs / VERSIONS_PER_POLL_RUN + poller.pollerMsPerVersion,
  pollerMemoryMb: memoryOf(coldStart.memoryMb, "Poller", 256),
  pollerInvocationsPerVersion: 1 / VERSIONS_PER_POLL_RUN,
  sqsRequestsPerVersion: budget.sqsRequestsPerVersion,
  s3PutsPerVersion: budget.s3PutsPerVersion,
  s3GetsPerVersion: budget.s3GetsPerVersion,
  archiveBytesPerVersion: budget.archiveBytesPerVersion,
  notifiedFraction: budget.notifiedFraction,
  emailSubscribers: 1,
});
cost.notes = [
  `Inputs: enricher time per version from benchmark 1 (the 30x run's wall time per version x 30: pacing waits scale with the budget, the work itself is a few ms), invocations, SQS and S3 requests, archive size and share notified from benchmark 1; poller time per version from benchmark 4 (an idle run's time / ${VERSIONS_PER_POLL_RUN} + the time per version of the backlog run); memory sizes from the synthesized stack; one poll run per ${VERSIONS_PER_POLL_RUN} versions (a poll a minute at the budget's ceiling).`,
  "Almost all of the compute is the enricher waiting for its next API slot: Lambda bills that wait at the function's memory size, so the enricher's memory (or moving the wait out of Lambda, e.g. into SQS visibility delays) is the lever on cost.",
  ...(cost.notes ?? []),
  `Cold starts (benchmark 3: at most ${Math.max(...Object.values(coldStart.importMs)).toFixed(0)} ms of module import each) are billed as init time too; a container serves many batches, so they add little per version and are left out.`,
];
tables.push(show(cost));
tables.push(show(await benchTimeToAlert()));
tables.push(show(await benchBatchMode()));
tables.push(show(await benchLateWindow()));

writeFileSync(OUTPUT, renderBenchmarksMarkdown(tables, started));
console.log(`\nWrote ${OUTPUT} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s).`);
