// The per-incident state record's conditional writes. fauxqs does not enforce S3 If-Match/If-None-Match,
// so the headers and the conflict handling are shown with a mocked S3 client (aws-sdk-client-mock);
// the round trip through the real embedded endpoint is covered at the end.
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type IncidentStateRecord,
  incidentStateKey,
  readIncidentState,
  updateIncidentState,
} from "../../functions/shared/incident-state.ts";
import { S3JsonStoreError } from "../../functions/shared/s3-json-store.ts";
import { type AwsFixture, startAws } from "../support/aws.ts";

/** The part of the SDK's streaming body that the state reader uses. */
function stream(text: string) {
  return { transformToString: async () => text };
}
function s3Error(name: string, status: number) {
  return new S3ServiceException({
    name,
    $fault: "client",
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

/** A merge that records a "not found" answer: what the tests below write. */
function markNotFound(current: IncidentStateRecord) {
  return { record: { ...current, not_found: { modification_time: 5, recorded_at: 6 } }, result: undefined };
}

describe("incident state record: conditional writes (mocked S3)", () => {
  const s3Mock = mockClient(S3Client);
  const s3 = new S3Client({ region: "us-east-1" });

  beforeEach(() => s3Mock.reset());
  afterAll(() => s3Mock.restore());

  it("creates a new record only if none exists (If-None-Match: *)", async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error("NoSuchKey", 404));
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"e1"' });
    await updateIncidentState(s3, "bucket", "893", (current) => ({
      record: { ...current, not_found: { modification_time: 5, recorded_at: 6 } },
      result: undefined,
    }));
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toBe("state/incidents/893.json");
    expect(put?.IfNoneMatch).toBe("*");
    expect(put?.IfMatch).toBeUndefined();
  });

  it("replaces an existing record only if it is unchanged since it was read (If-Match: ETag)", async () => {
    s3Mock
      .on(GetObjectCommand)
      .resolves({ Body: stream(JSON.stringify({ incident_id: "893" })), ETag: '"etag-1"' } as never);
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"etag-2"' });
    await updateIncidentState(s3, "bucket", "893", (current) => ({ record: current, result: undefined }));
    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.IfMatch).toBe('"etag-1"');
    expect(put?.IfNoneMatch).toBeUndefined();
  });

  it("re-reads and re-applies the update when another writer got there first (412)", async () => {
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce({
        Body: stream(
          JSON.stringify({
            incident_id: "893",
            notified: { severity: "high", modification_time: 1, notified_at: 1 },
          }),
        ),
        ETag: '"old"',
      } as never)
      .resolves({
        Body: stream(
          JSON.stringify({
            incident_id: "893",
            notified: { severity: "critical", modification_time: 2, notified_at: 2 },
          }),
        ),
        ETag: '"new"',
      } as never);
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error("PreconditionFailed", 412)).resolves({ ETag: '"newer"' });
    const seen: (string | undefined)[] = [];
    const saved = await updateIncidentState(s3, "bucket", "893", (current) => {
      seen.push(current.notified?.severity);
      return { record: current, result: current.notified?.severity };
    });
    expect(seen).toEqual(["high", "critical"]);
    expect(saved.record.notified?.severity).toBe("critical");
    expect(saved.result).toBe("critical");
    const puts = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input.IfMatch);
    expect(puts).toEqual(['"old"', '"new"']);
  });

  it("writes from the record the caller already holds without reading it again, and hands back the new ETag", async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"after"' });
    const known = { record: { incident_id: "893" }, etag: '"held"' };
    const saved = await updateIncidentState(s3, "bucket", "893", markNotFound, { known });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.IfMatch).toBe('"held"');
    expect(saved.stored).toEqual({ record: saved.record, etag: '"after"' });
  });

  it("re-reads once when the record the caller held is stale, and merges onto what is there now", async () => {
    s3Mock.on(GetObjectCommand).resolves({
      Body: stream(
        JSON.stringify({
          incident_id: "893",
          notified: { severity: "critical", modification_time: 2, notified_at: 2 },
        }),
      ),
      ETag: '"now"',
    } as never);
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error("PreconditionFailed", 412)).resolves({ ETag: '"after"' });
    const known = { record: { incident_id: "893" }, etag: '"stale"' };
    const saved = await updateIncidentState(s3, "bucket", "893", markNotFound, { known });
    expect(saved.record.notified?.severity).toBe("critical");
    expect(saved.record.not_found?.modification_time).toBe(5);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input.IfMatch);
    expect(puts).toEqual(['"stale"', '"now"']);
  });

  it("creates the record without reading when the caller knows there is none (null)", async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"e1"' });
    await updateIncidentState(s3, "bucket", "893", (current) => ({ record: current, result: undefined }), {
      known: null,
    });
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.IfNoneMatch).toBe("*");
  });

  it("treats a lost race to create the record (409 ConditionalRequestConflict) the same way", async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error("NoSuchKey", 404));
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error("ConditionalRequestConflict", 409)).resolves({});
    await updateIncidentState(s3, "bucket", "893", (current) => ({ record: current, result: undefined }));
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(2);
  });

  it("gives up with an actionable error after repeated conflicts instead of looping forever", async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error("NoSuchKey", 404));
    s3Mock.on(PutObjectCommand).rejects(s3Error("PreconditionFailed", 412));
    const attempt = updateIncidentState(
      s3,
      "bucket",
      "893",
      (current) => ({ record: current, result: undefined }),
      { maxAttempts: 3 },
    );
    await expect(attempt).rejects.toThrow(S3JsonStoreError);
    await expect(attempt).rejects.toThrow(/kept changing under 3 conditional writes/);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(3);
  });

  it("does not mistake other S3 failures for conflicts", async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error("NoSuchKey", 404));
    s3Mock.on(PutObjectCommand).rejects(s3Error("AccessDenied", 403));
    await expect(
      updateIncidentState(s3, "bucket", "893", (current) => ({ record: current, result: undefined })),
    ).rejects.toThrow("AccessDenied");
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(1);
  });

  it("names the object to delete when a record is corrupt", async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: stream("{not json"), ETag: '"x"' } as never);
    await expect(readIncidentState(s3, "bucket", "893")).rejects.toThrow(
      "The incident state record s3://bucket/state/incidents/893.json is not JSON. Delete it",
    );
  });

  it("keeps odd incident ids inside the state prefix", () => {
    expect(incidentStateKey("../../etc")).toBe("state/incidents/%2E%2E%2F%2E%2E%2Fetc.json");
  });
});

describe("incident state record on the embedded AWS endpoint", () => {
  let aws: AwsFixture;
  beforeAll(async () => {
    aws = await startAws();
  });
  afterAll(async () => {
    await aws?.close();
  });

  it("reads back what it wrote, keeping fields it does not know", async () => {
    expect(await readIncidentState(aws.s3, aws.bucket, "42")).toBeUndefined();
    await updateIncidentState(aws.s3, aws.bucket, "42", (current) => ({
      record: {
        ...current,
        archived: { modification_time: 10, key: "incidents/k", archived_at: 11 },
        written_by_a_future_version: true,
      },
      result: undefined,
    }));
    await updateIncidentState(aws.s3, aws.bucket, "42", (current) => ({
      record: { ...current, notified: { severity: "high", modification_time: 10, notified_at: 12 } },
      result: undefined,
    }));
    const stored = await readIncidentState(aws.s3, aws.bucket, "42");
    expect(stored?.record).toEqual({
      incident_id: "42",
      archived: { modification_time: 10, key: "incidents/k", archived_at: 11 },
      notified: { severity: "high", modification_time: 10, notified_at: 12 },
      written_by_a_future_version: true,
    });
    expect(stored?.etag).toBeTruthy();
  });

  it("hands back the ETag the endpoint gave the write: the next conditional write can start from it", async () => {
    const first = await updateIncidentState(aws.s3, aws.bucket, "43", (current) => ({
      record: { ...current, not_found: { modification_time: 1, recorded_at: 2 } },
      result: undefined,
    }));
    expect(first.stored?.etag).toBe((await readIncidentState(aws.s3, aws.bucket, "43"))?.etag);
  });
});
