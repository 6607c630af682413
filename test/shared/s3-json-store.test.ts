// The one conditional JSON store both state objects use. What S3 would enforce (If-Match/If-None-Match)
// is shown by what is sent, with aws-sdk-client-mock, because fauxqs does not enforce conditional writes.
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { IncidentCursorStore } from "../../functions/shared/cursor.ts";
import { updateIncidentState } from "../../functions/shared/incident-state.ts";
import { S3JsonStore, S3JsonStoreError } from "../../functions/shared/s3-json-store.ts";

const body = (value: unknown) => ({ transformToString: async () => JSON.stringify(value) }) as never;
const notFound = () =>
  new S3ServiceException({ name: "NoSuchKey", $fault: "client", $metadata: { httpStatusCode: 404 } });

describe("conditional S3 JSON store", () => {
  const s3 = new S3Client({ region: "us-east-1" });
  const mock = mockClient(s3);
  beforeEach(() => mock.reset());
  afterAll(() => mock.restore());

  const counterStore = () =>
    new S3JsonStore({
      s3,
      bucket: "archive",
      schema: z.object({ count: z.number() }),
      description: "The counter",
      repairHint: "Delete it.",
      conflictHint: "someone else is counting.",
    });

  it("returns the merge's result and writes nothing when the merge keeps the stored value", async () => {
    mock.on(GetObjectCommand).resolves({ Body: body({ count: 3 }), ETag: '"e1"' });
    const merged = await counterStore().update("state/counter.json", (current) => ({
      value: current ?? { count: 0 },
      result: "kept",
      unchanged: true,
    }));
    expect(merged.result).toBe("kept");
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("writes a new object only if none exists and an existing one only if unchanged since read", async () => {
    mock
      .on(GetObjectCommand)
      .rejectsOnce(notFound())
      .resolves({ Body: body({ count: 1 }), ETag: '"e1"' });
    mock.on(PutObjectCommand).resolves({ ETag: '"e2"' });
    const store = counterStore();
    const increment = (current: { count: number } | undefined) => ({
      value: { count: (current?.count ?? 0) + 1 },
      result: undefined,
    });
    await store.update("state/counter.json", increment);
    await store.update("state/counter.json", increment);
    const puts = mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts.map((put) => [put.IfNoneMatch, put.IfMatch])).toEqual([
      ["*", undefined],
      [undefined, '"e1"'],
    ]);
    expect(puts.map((put) => put.Body)).toEqual(['{"count":1}', '{"count":2}']);
  });

  // Both users refuse the same way: before, the cursor threw and the incident record wrote unconditionally.
  it("refuses to update the cursor when the endpoint sends no ETag, instead of writing unconditionally", async () => {
    mock.on(GetObjectCommand).resolves({
      Body: body({ version: 1, modificationTime: 1, idsAtCursor: [], updatedAt: "x" }),
    });
    const save = new IncidentCursorStore({ s3, bucket: "archive" }).save({
      modificationTime: 2,
      idsAtCursor: [],
    });
    await expect(save).rejects.toMatchObject({ kind: "no_etag" });
    await expect(save).rejects.toThrow("s3://archive/state/cursor.json was read without an ETag");
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("refuses to update an incident record when the endpoint sends no ETag, instead of writing unconditionally", async () => {
    mock.on(GetObjectCommand).resolves({ Body: body({ incident_id: "893" }) });
    const update = updateIncidentState(s3, "archive", "893", (current) => ({
      record: current,
      result: undefined,
    }));
    await expect(update).rejects.toBeInstanceOf(S3JsonStoreError);
    await expect(update).rejects.toThrow("The incident state record s3://archive/state/incidents/893.json");
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
