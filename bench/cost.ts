// Benchmark 5: dollars per million incident versions on AWS list prices, from measured figures.
import type { BenchTable } from "./report.ts";

/** us-east-1 list prices (2026), on-demand, no free tier. */
export const PRICES = {
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  sqsPerMillionRequests: 0.4,
  s3PutPerThousand: 0.005,
  s3GetPerThousand: 0.0004,
  s3StandardPerGbMonth: 0.023,
  snsPerMillionPublishes: 0.5,
  snsEmailPerHundredThousand: 2,
} as const;

export interface MeasuredCostInputs {
  /** Billed enricher time per version (ms), pacing waits included: Lambda bills wall time. */
  enricherMsPerVersion: number;
  enricherMemoryMb: number;
  /** Enricher invocations per version (1 / effective batch size). */
  enricherInvocationsPerVersion: number;
  pollerMsPerVersion: number;
  pollerMemoryMb: number;
  pollerInvocationsPerVersion: number;
  sqsRequestsPerVersion: number;
  s3PutsPerVersion: number;
  s3GetsPerVersion: number;
  archiveBytesPerVersion: number;
  /** Fraction of versions that publish a notification. */
  notifiedFraction: number;
  /** Email subscriptions on the incident topic (each notification is one email delivery each). */
  emailSubscribers: number;
}

export function costPerMillionVersions(m: MeasuredCostInputs): BenchTable {
  const million = 1_000_000;
  const gbSeconds = (ms: number, mb: number) => (ms / 1000) * (mb / 1024);
  const lambdaCompute =
    million *
    (gbSeconds(m.enricherMsPerVersion, m.enricherMemoryMb) +
      gbSeconds(m.pollerMsPerVersion, m.pollerMemoryMb)) *
    PRICES.lambdaArmPerGbSecond;
  const lambdaRequests =
    m.enricherInvocationsPerVersion * PRICES.lambdaPerMillionRequests +
    m.pollerInvocationsPerVersion * PRICES.lambdaPerMillionRequests;
  const sqs = m.sqsRequestsPerVersion * PRICES.sqsPerMillionRequests;
  const s3Requests =
    (million / 1000) *
    (m.s3PutsPerVersion * PRICES.s3PutPerThousand + m.s3GetsPerVersion * PRICES.s3GetPerThousand);
  const storageGbMonth = (million * m.archiveBytesPerVersion) / 1024 ** 3;
  const s3Storage = storageGbMonth * PRICES.s3StandardPerGbMonth;
  const snsPublishes = m.notifiedFraction * PRICES.snsPerMillionPublishes;
  const snsEmail =
    ((million * m.notifiedFraction * m.emailSubscribers) / 100_000) * PRICES.snsEmailPerHundredThousand;
  const rows: (string | number)[][] = [
    [
      "Lambda compute (ARM)",
      `(${(m.enricherMsPerVersion / 1000).toFixed(2)} s x ${m.enricherMemoryMb / 1024} GB + ${(m.pollerMsPerVersion / 1000).toFixed(4)} s x ${m.pollerMemoryMb / 1024} GB) x 1e6 x $${PRICES.lambdaArmPerGbSecond}/GB-s`,
      lambdaCompute,
    ],
    [
      "Lambda requests",
      `(${m.enricherInvocationsPerVersion.toFixed(3)} + ${m.pollerInvocationsPerVersion.toFixed(4)}) x $${PRICES.lambdaPerMillionRequests}/1M`,
      lambdaRequests,
    ],
    ["SQS requests", `${m.sqsRequestsPerVersion.toFixed(2)} x $${PRICES.sqsPerMillionRequests}/1M`, sqs],
    [
      "S3 requests",
      `1e6 x (${m.s3PutsPerVersion.toFixed(2)} PUT x $${PRICES.s3PutPerThousand} + ${m.s3GetsPerVersion.toFixed(2)} GET x $${PRICES.s3GetPerThousand}) / 1000`,
      s3Requests,
    ],
    [
      "S3 storage, first month",
      `1e6 x ${(m.archiveBytesPerVersion / 1024).toFixed(1)} KiB = ${storageGbMonth.toFixed(2)} GB x $${PRICES.s3StandardPerGbMonth}`,
      s3Storage,
    ],
    [
      "SNS publishes",
      `${m.notifiedFraction.toFixed(3)} x $${PRICES.snsPerMillionPublishes}/1M`,
      snsPublishes,
    ],
    [
      "SNS email deliveries",
      `1e6 x ${m.notifiedFraction.toFixed(3)} x ${m.emailSubscribers} subscriber(s) x $${PRICES.snsEmailPerHundredThousand}/100k`,
      snsEmail,
    ],
  ];
  const total = rows.reduce((sum, row) => sum + Number(row[2]), 0);
  return {
    title: "5. Cost per million incident versions",
    method:
      "AWS us-east-1 list prices, no free tier, applied to the figures measured by the other benchmarks (durations, SQS and S3 calls per version, archive object size, share of versions notified). Lambda bills wall time, so the enricher's pacing waits are included.",
    columns: ["item", "formula", "USD"],
    rows: [
      ...rows.map((r) => [r[0] ?? "", r[1] ?? "", `$${Number(r[2]).toFixed(2)}`]),
      ["total", "", `$${total.toFixed(2)}`],
    ],
    notes: [
      "Not included: CloudWatch Logs ingestion and metrics, KMS requests, Secrets Manager ($0.40/secret-month; reads are cached), SMS (priced per country), and Lambda's idle SQS polling (a fixed monthly cost, not per version).",
      "The API budget, not cost, is the limit: at 10 extra-data calls a minute a tenant yields at most 14,400 versions a day.",
    ],
  };
}
