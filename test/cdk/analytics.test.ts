// The Glue table over the archive must read what the enricher writes: its columns are the declared ones, its
// SerDe reads JSON, and its partition projection, filled in for a creation date, is exactly the key prefix
// archiveKey() gives an incident created that day. The workgroup keeps its results encrypted and expiring.
import { beforeAll, describe, expect, it } from "vitest";
import { ARCHIVE_PREFIX, archiveKey } from "../../functions/shared/archive.ts";
import { ARCHIVE_QUERIES, querySql } from "../../functions/shared/archive-queries.ts";
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_TABLE,
  CREATION_DATE_PARTITION,
  hiveType,
} from "../../functions/shared/archive-table.ts";
import { QUERY_RESULTS_EXPIRE_AFTER_DAYS } from "../../lib/pipeline/analytics.ts";
import { type SynthesizedStack, synthesize } from "./synth.ts";

type Json = Record<string, unknown>;

let synth: SynthesizedStack;
let table: Json;
let archiveBucketId: string;

/** A CloudFormation string with the archive bucket's Ref written as BUCKET. */
function flatten(value: unknown): string {
  if (typeof value === "string") return value;
  const join = (value as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (join !== undefined) return join[1].map(flatten).join(join[0]);
  if ((value as { Ref?: string }).Ref === archiveBucketId) return "BUCKET";
  throw new Error(`unexpected CloudFormation value ${JSON.stringify(value)}`);
}

/** Java's yyyy/MM/dd for a UTC date, as Athena's projection renders it. */
function projected(format: string, date: Date): string {
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  return format
    .replace("yyyy", pad(date.getUTCFullYear(), 4))
    .replace("MM", pad(date.getUTCMonth() + 1, 2))
    .replace("dd", pad(date.getUTCDate(), 2));
}

beforeAll(() => {
  synth = synthesize();
  const tables = synth.template.findResources("AWS::Glue::Table");
  table = Object.values(tables)[0]?.Properties.TableInput as Json;
  archiveBucketId = Object.keys(synth.template.findResources("AWS::S3::Bucket")).find((id) =>
    id.startsWith("PipelineArchiveBucket"),
  ) as string;
}, 120_000);

describe("the archive table", () => {
  it("has the declared columns with their Hive types, and the creation date as its partition", () => {
    const descriptor = table.StorageDescriptor as Json;
    expect(table.Name).toBe(ARCHIVE_TABLE);
    expect(descriptor.Columns).toEqual(
      Object.entries(ARCHIVE_COLUMNS).map(([name, type]) => ({ Name: name, Type: hiveType(type) })),
    );
    expect((descriptor.Columns as { Type: string }[])[0]?.Type).toMatch(
      /^struct<incident_id:string,.*modification_time:bigint,.*hosts:array<string>/,
    );
    expect(table.PartitionKeys).toEqual([
      expect.objectContaining({ Name: CREATION_DATE_PARTITION.name, Type: "string" }),
    ]);
  });

  it("reads the gzip objects as JSON through the OpenX SerDe, no crawler", () => {
    const descriptor = table.StorageDescriptor as Json;
    expect((descriptor.SerdeInfo as Json).SerializationLibrary).toBe("org.openx.data.jsonserde.JsonSerDe");
    expect(descriptor.InputFormat).toBe("org.apache.hadoop.mapred.TextInputFormat");
    expect(flatten(descriptor.Location)).toBe(`s3://BUCKET/${ARCHIVE_PREFIX}`);
    synth.template.resourceCountIs("AWS::Glue::Crawler", 0);
  });

  it("projects each creation date onto the key prefix archiveKey() writes for it", () => {
    const parameters = table.Parameters as Json;
    const { name } = CREATION_DATE_PARTITION;
    expect(parameters["projection.enabled"]).toBe("true");
    expect(parameters[`projection.${name}.type`]).toBe("date");
    expect(parameters[`projection.${name}.interval.unit`]).toBe("DAYS");
    expect(parameters[`projection.${name}.range`]).toMatch(/^\d{4}\/\d{2}\/\d{2},NOW$/);
    const template = flatten(parameters["storage.location.template"]);
    const format = parameters[`projection.${name}.format`] as string;
    for (const created of [
      Date.UTC(2026, 0, 1, 0, 0),
      Date.UTC(2026, 10, 20, 23, 59, 59, 999),
      Date.UTC(2019, 1, 28, 12),
    ]) {
      const location = template.replace(`\${${name}}`, projected(format, new Date(created)));
      const key = archiveKey("893", created, created + 5_000);
      expect(`s3://BUCKET/${key}`.startsWith(location), `${key} under ${location}`).toBe(true);
      expect(location.endsWith("/")).toBe(true);
    }
  });
});

describe("the archive workgroup", () => {
  it("enforces encrypted results in their own expiring bucket, with a scan limit and metrics", () => {
    const groups = synth.template.findResources("AWS::Athena::WorkGroup");
    const config = Object.values(groups)[0]?.Properties.WorkGroupConfiguration as Json;
    expect(config.EnforceWorkGroupConfiguration).toBe(true);
    expect(config.PublishCloudWatchMetricsEnabled).toBe(true);
    expect(config.BytesScannedCutoffPerQuery).toBeGreaterThan(0);
    expect((config.ResultConfiguration as Json).EncryptionConfiguration).toEqual({
      EncryptionOption: "SSE_S3",
    });
    const [results] = Object.entries(synth.template.findResources("AWS::S3::Bucket")).filter(([id]) =>
      id.startsWith("PipelineQueryResultsBucket"),
    );
    const bucket = results?.[1].Properties as Json;
    expect(bucket.BucketEncryption).toBeDefined();
    expect((bucket.LifecycleConfiguration as { Rules: Json[] }).Rules).toContainEqual(
      expect.objectContaining({ ExpirationInDays: QUERY_RESULTS_EXPIRE_AFTER_DAYS, Status: "Enabled" }),
    );
  });

  it("holds every named query, in its Athena form, against the archive database", () => {
    const named = Object.values(synth.template.findResources("AWS::Athena::NamedQuery")).map(
      (resource) => resource.Properties as Json,
    );
    expect(named.map((query) => [query.Name, query.QueryString])).toEqual(
      ARCHIVE_QUERIES.map((query) => [query.name, querySql(query, "athena")]),
    );
    const database = Object.values(synth.template.findResources("AWS::Glue::Database"))[0]?.Properties
      .DatabaseInput.Name;
    for (const query of named) expect(query.Database).toBe(database);
  });

  it("grants queries the archive's incidents/ prefix only, never the state/ records", () => {
    const policies = synth.template.findResources("AWS::IAM::ManagedPolicy");
    const document = JSON.stringify(
      Object.values(policies).map((policy) => policy.Properties.PolicyDocument),
    );
    expect(document).toContain(`"/${ARCHIVE_PREFIX}*"`);
    expect(document).not.toContain("state/");
    expect(document).not.toMatch(/"Resource":"\*"/);
  });
});
