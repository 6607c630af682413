// The archive as a table: a Glue database and table over incidents/ (JSON SerDe over the gzip objects,
// partition projection on the key's creation date, so no crawler and no partitions to add), an Athena
// workgroup whose encrypted, expiring results location and limits users cannot override, the named queries
// (functions/shared/archive-queries.ts, the same ones `npm run query` runs) and one managed policy that
// grants just enough to run them.
import { Aws, Duration, Stack, Token, Validations } from "aws-cdk-lib";
import * as athena from "aws-cdk-lib/aws-athena";
import * as glue from "aws-cdk-lib/aws-glue";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { ARCHIVE_QUERIES, querySql } from "../../functions/shared/archive-queries.ts";
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_TABLE,
  CREATION_DATE_PARTITION,
  hiveType,
} from "../../functions/shared/archive-table.ts";
import { secureBucketProps } from "./secure-defaults.ts";
import { ArchiveKeys, type ArchiveStorage } from "./storage.ts";

/** Query results are working files: kept long enough to download, then expired. */
export const QUERY_RESULTS_EXPIRE_AFTER_DAYS = 30;
/** A runaway query stops here (the whole archive of a busy tenant is a few GB compressed). */
export const BYTES_SCANNED_CUTOFF_PER_QUERY = 10 * 1024 ** 3;
export const QUERY_RESULTS_PREFIX = "athena/";

/** The Glue table's SerDe and formats: one JSON document per (gzip) object, unknown fields ignored. */
export const ARCHIVE_TABLE_FORMAT = {
  serializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
  inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
  outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
} as const;

/** Glue and Athena names: lower case letters, digits and underscores. */
function catalogName(stackName: string, suffix: string): string {
  if (Token.isUnresolved(stackName))
    throw new Error("The archive's Glue database is named after the stack: give the stack a literal name.");
  return `${stackName.toLowerCase().replace(/[^a-z0-9_]+/g, "_")}_${suffix}`;
}

export class ArchiveAnalytics {
  readonly resultsBucket: s3.Bucket;
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
  readonly workGroup: athena.CfnWorkGroup;
  readonly namedQueries: athena.CfnNamedQuery[];
  /** Attach to the people and roles that query the archive. */
  readonly queryPolicy: iam.ManagedPolicy;
  readonly databaseName: string;
  readonly workGroupName: string;

  constructor(scope: Construct, storage: ArchiveStorage) {
    const stackName = Stack.of(scope).stackName;
    this.databaseName = catalogName(stackName, "archive");
    this.workGroupName = `${stackName}-archive`;
    this.resultsBucket = new s3.Bucket(scope, "QueryResultsBucket", {
      ...secureBucketProps(),
      serverAccessLogsBucket: storage.accessLogsBucket,
      serverAccessLogsPrefix: "query-results/",
      lifecycleRules: [
        { id: "expire-query-results", expiration: Duration.days(QUERY_RESULTS_EXPIRE_AFTER_DAYS) },
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    this.database = new glue.CfnDatabase(scope, "ArchiveDatabase", {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: this.databaseName,
        description: "The Cortex incident archive (one row per version)",
      },
    });
    this.table = this.#table(scope, storage.archiveBucket);
    this.workGroup = this.#workGroup(scope);
    this.namedQueries = ARCHIVE_QUERIES.map((query) => {
      const named = new athena.CfnNamedQuery(scope, `ArchiveQuery-${query.name}`, {
        name: query.name,
        description: query.description,
        database: this.databaseName,
        workGroup: this.workGroupName,
        queryString: querySql(query, "athena"),
      });
      named.addResourceDependency(this.workGroup);
      named.addResourceDependency(this.table);
      return named;
    });
    this.queryPolicy = this.#queryPolicy(scope, storage.archiveBucket);
  }

  #table(scope: Construct, archiveBucket: s3.IBucket): glue.CfnTable {
    const { name, projectionFormat, firstDate } = CREATION_DATE_PARTITION;
    const archiveLocation = `s3://${archiveBucket.bucketName}/${ArchiveKeys.incidents}`;
    const table = new glue.CfnTable(scope, "ArchiveTable", {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: {
        name: ARCHIVE_TABLE,
        description: "One row per archived incident version: the get_incident_extra_data reply as received",
        tableType: "EXTERNAL_TABLE",
        parameters: {
          classification: "json",
          compressionType: "gzip",
          "projection.enabled": "true",
          [`projection.${name}.type`]: "date",
          [`projection.${name}.format`]: projectionFormat,
          [`projection.${name}.range`]: `${firstDate},NOW`,
          [`projection.${name}.interval`]: "1",
          [`projection.${name}.interval.unit`]: "DAYS",
          "storage.location.template": `${archiveLocation}\${${name}}/`,
        },
        partitionKeys: [{ name, type: "string", comment: "creation date (UTC) from the key, YYYY/MM/DD" }],
        storageDescriptor: {
          location: archiveLocation,
          inputFormat: ARCHIVE_TABLE_FORMAT.inputFormat,
          outputFormat: ARCHIVE_TABLE_FORMAT.outputFormat,
          compressed: true,
          serdeInfo: {
            serializationLibrary: ARCHIVE_TABLE_FORMAT.serializationLibrary,
            // An object that is not valid JSON reads as nulls instead of failing every query over its day.
            parameters: { "ignore.malformed.json": "true" },
          },
          columns: Object.entries(ARCHIVE_COLUMNS).map(([column, type]) => ({
            name: column,
            type: hiveType(type),
          })),
        },
      },
    });
    table.addResourceDependency(this.database);
    return table;
  }

  #workGroup(scope: Construct): athena.CfnWorkGroup {
    return new athena.CfnWorkGroup(scope, "ArchiveWorkGroup", {
      name: this.workGroupName,
      description: "Queries over the Cortex incident archive",
      state: "ENABLED",
      // The stack owns the workgroup: deleting it deletes its named queries and query history too.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: BYTES_SCANNED_CUTOFF_PER_QUERY,
        engineVersion: { selectedEngineVersion: "Athena engine version 3" },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/${QUERY_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: "SSE_S3" },
          expectedBucketOwner: Aws.ACCOUNT_ID,
        },
      },
    });
  }

  /** Run queries in this workgroup over this table, and nothing else: no other table, prefix or workgroup. */
  #queryPolicy(scope: Construct, archiveBucket: s3.IBucket): iam.ManagedPolicy {
    const stack = Stack.of(scope);
    const policy = new iam.ManagedPolicy(scope, "ArchiveQueryPolicy", {
      description: "Query the Cortex incident archive with Athena (its workgroup, table and results only)",
      statements: [...this.#catalogStatements(stack), ...this.#objectStatements(archiveBucket)],
    });
    for (const [bucket, prefix] of [
      [archiveBucket, ArchiveKeys.incidents],
      [this.resultsBucket, QUERY_RESULTS_PREFIX],
    ] as const) {
      const logicalId = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`,
        reason: `Athena reads every object under ${prefix}: the grant is that one key prefix of the bucket, nothing else.`,
      });
    }
    return policy;
  }

  /** The workgroup's queries and the table's metadata. */
  #catalogStatements(stack: Stack): iam.PolicyStatement[] {
    const glueArn = (resource: string) =>
      stack.formatArn({
        service: "glue",
        resource,
        resourceName: resource === "catalog" ? undefined : this.databaseName,
      });
    return [
      new iam.PolicyStatement({
        actions: [
          "athena:StartQueryExecution",
          "athena:StopQueryExecution",
          "athena:GetQueryExecution",
          "athena:GetQueryResults",
          "athena:GetQueryRuntimeStatistics",
          "athena:ListQueryExecutions",
          "athena:BatchGetQueryExecution",
          "athena:GetWorkGroup",
          "athena:ListNamedQueries",
          "athena:GetNamedQuery",
          "athena:BatchGetNamedQuery",
        ],
        resources: [
          stack.formatArn({ service: "athena", resource: "workgroup", resourceName: this.workGroupName }),
        ],
      }),
      new iam.PolicyStatement({
        actions: [
          "glue:GetDatabase",
          "glue:GetTable",
          "glue:GetTables",
          "glue:GetPartition",
          "glue:GetPartitions",
        ],
        resources: [
          glueArn("catalog"),
          glueArn("database"),
          stack.formatArn({
            service: "glue",
            resource: "table",
            resourceName: `${this.databaseName}/${ARCHIVE_TABLE}`,
          }),
        ],
      }),
    ];
  }

  /** The archive's incidents (read) and the results prefix (read and write). */
  #objectStatements(archiveBucket: s3.IBucket): iam.PolicyStatement[] {
    const incidents = archiveBucket.arnForObjects(`${ArchiveKeys.incidents}*`);
    const results = this.resultsBucket.arnForObjects(`${QUERY_RESULTS_PREFIX}*`);
    return [
      new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: [incidents] }),
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [archiveBucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${ArchiveKeys.incidents}*`] } },
      }),
      new iam.PolicyStatement({
        actions: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        resources: [results],
      }),
      new iam.PolicyStatement({
        actions: ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
        resources: [this.resultsBucket.bucketArn],
      }),
      new iam.PolicyStatement({ actions: ["s3:GetBucketLocation"], resources: [archiveBucket.bucketArn] }),
    ];
  }
}
