// The --help texts of `npm run ops`; local/ops/README.md says the same at length.

const TARGET = `Target (every command)
  --stack NAME              a deployed stack (default CortexIncidentExport unless AWS_ENDPOINT_URL is set);
                            its CloudFormation outputs give the bucket, queues, topic, secret and settings
  --region REGION           the stack's region (default AWS_REGION / the profile's)
  With AWS_ENDPOINT_URL and no --stack: the local runner's resources on that endpoint
  (bucket cortex-incident-archive-local, queues cortex-incidents and cortex-incidents-dlq), the
  tenant from CORTEX_API_URL, CORTEX_API_KEY, CORTEX_API_KEY_ID, CORTEX_AUTH_TYPE, and
  --product xdr|xpanse, --budget-per-minute N as the runner was started with.`;

const EXIT_CODES = `Exit codes
  0    done, nothing wrong
  1    done, something is wrong (verify: missing or broken objects; redrive: messages left in the DLQ;
       replay: an incident not archived)
  2    the Cortex API rejected the key (401), the licence (402) or the key's permission (403)
  3    the AWS side: no such stack, no credentials, wrong region, access denied, a missing output
  64   bad flags or environment
  130  interrupted (a backfill resumes from its checkpoint when run again)`;

export const OPS_HELP = `Usage: npm run ops -- <command> [flags]      (npm run ops -- <command> --help for each)

Commands
  status                    cursor and lag, last poll, queue and DLQ depth, alarms, newest archived version
  backfill --from DATE      queue a past range of incident versions for the enricher, resumably
  redrive [--dry-run]       move the dead-letter queue back to the queue, showing why messages failed
  replay --incident ID...   fetch and archive the given incidents again, now
  verify --from DATE        prove the archive is complete and sound over a range; --repair queues what is not

${TARGET}

${EXIT_CODES}

Secrets are never printed. Details: local/ops/README.md.
`;

export const COMMAND_HELP = {
  status: `Usage: npm run ops -- status [--json]

One screen: the poller's cursor (and how far behind now it is, and when it was saved), the poller's
last report (CloudWatch), queue and DLQ depth with in-flight and delayed counts and the oldest
message's age (CloudWatch), alarms in ALARM, and the newest archived version.
  --json                    the same as one JSON object

${TARGET}

${EXIT_CODES}
`,
  backfill: `Usage: npm run ops -- backfill --from DATE [--to DATE] [--filters JSON] [--calls-per-second N]

Walks get_incidents over a past modification-time range with the poller's own walk and queues every
version the archive does not hold yet, for the enricher to archive. Never touches the poller's cursor:
its own checkpoint (state/backfill/<job>/) lets an interrupted backfill resume where it stopped, by
running the same command again. --to defaults to just before the live cursor (a later --to is cut back
to it): versions the poller queued that are archived by then are skipped, ones still queued are coalesced
by the enricher. To walk only what the poller never saw, give --to where its first run began.
  --from DATE               2026-09-01, 2026-09-01T12:00:00Z or epoch ms (UTC)
  --to DATE                 default: just before the live poller's cursor
  --filters JSON            get_incidents filters (default: the stack's incidentFilters)
  --calls-per-second N      get_incidents calls per second (default 1; the tenant allows about 10 for
                            every client together)
Progress: a bar on a terminal, plain lines otherwise, with the walk's ETA and how long the enricher needs
for what was queued at the pipeline's extra-data budget.

${TARGET}

${EXIT_CODES}
`,
  redrive: `Usage: npm run ops -- redrive [--dry-run] [--json]

Shows why the dead-letter queue's messages failed, grouped (not an incident version; already archived;
the API says the incident does not exist; the API's reply was quarantined; failed every retry), then
moves them back to the incident queue: with SQS's message move task where the endpoint offers it, else
by receive, send and delete. Messages that are not incident versions stay in the DLQ (they would fail again).
  --dry-run                 only show the reasons and what would move
  --json                    the result as JSON

${TARGET}

${EXIT_CODES}
`,
  replay: `Usage: npm run ops -- replay --incident ID [--incident ID ...] [--json]

Fetches the given incidents again and archives their current version now, through the enricher's own
handler (extra-data call within the pipeline's budget, archive write, notification only if one is due,
never twice). Also when the archive already holds that version.
  --incident ID             repeatable; or ids separated by commas

${TARGET}

${EXIT_CODES}
`,
  verify: `Usage: npm run ops -- verify --from DATE [--to DATE] [--filters JSON] [--repair] [--json]

Reconciles the archive with the tenant: every version get_incidents lists as modified in the range
must be archived, and every archived object of the incidents created in the range must be readable
gzip JSON holding the version its key names. Lists exactly what is missing or broken; exit 1 if anything is.
  --from DATE, --to DATE    modification-time range (--to defaults to now)
  --filters JSON            get_incidents filters (default: the stack's incidentFilters)
  --repair                  queue the missing and broken versions for the enricher (older versions of
                            an incident cannot be fetched again: restore them from the bucket's versions)

${TARGET}

${EXIT_CODES}
`,
} as const;
