// Storage: the archive and the pipeline's state in one versioned bucket, its access logs in another.
import { Duration } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { ARCHIVE_PREFIX, QUARANTINE_PREFIX, STATE_PREFIX } from "../../functions/shared/archive.ts";
import { CURSOR_KEY } from "../../functions/shared/cursor.ts";
import { INCIDENT_STATE_PREFIX } from "../../functions/shared/incident-state.ts";
import type { PipelineConfig } from "../config.ts";
import { secureBucketProps } from "./secure-defaults.ts";

/** Bucket layout, from the functions that own each part, so grants follow the code. */
export const ArchiveKeys = {
  cursor: CURSOR_KEY,
  incidentState: INCIDENT_STATE_PREFIX,
  incidents: ARCHIVE_PREFIX,
  quarantine: QUARANTINE_PREFIX,
  state: STATE_PREFIX,
} as const;

export class ArchiveStorage {
  readonly archiveBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;

  /** Built in the pipeline's own scope, so the buckets keep the logical IDs deployed stacks have. */
  constructor(scope: Construct, config: PipelineConfig) {
    this.accessLogsBucket = new s3.Bucket(scope, "AccessLogsBucket", {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.S3_MANAGED, // server access logs can only be delivered to SSE-S3 buckets
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(365) }],
    });

    this.archiveBucket = new s3.Bucket(scope, "ArchiveBucket", {
      ...secureBucketProps(),
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "archive/",
      // The archive outlives the stack: `cdk destroy` leaves it for you to empty and delete.
      autoDeleteObjects: false,
      lifecycleRules: [
        {
          id: "archive-incidents",
          prefix: ArchiveKeys.incidents,
          transitions: [
            {
              storageClass: new s3.StorageClass(config.archive.storageClass),
              transitionAfter: Duration.days(config.archive.transitionAfterDays),
            },
          ],
          ...(config.archive.expireAfterDays === undefined
            ? {}
            : { expiration: Duration.days(config.archive.expireAfterDays) }),
          noncurrentVersionExpiration: Duration.days(30),
        },
        {
          // The cursor is rewritten every run: keep a week of old versions for recovery, not forever.
          id: "expire-old-state-versions",
          prefix: ArchiveKeys.state,
          noncurrentVersionExpiration: Duration.days(7),
        },
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }
}
