// The IncidentCursor store: ordering on the real embedded S3 (fauxqs), and the conditional-write headers
// with aws-sdk-client-mock, because fauxqs does not enforce IfMatch / IfNoneMatch.
import {
  GetObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CURSOR_KEY,
  compareIncidentCursors,
  furthestIncidentCursor,
  IncidentCursorStore,
} from "../../functions/shared/cursor.ts";
import { S3JsonStoreError } from "../../functions/shared/s3-json-store.ts";
import { type AwsHarness, startAwsHarness } from "../support/aws.ts";

const at = (modificationTime: number, ...idsAtCursor: string[]) => ({ modificationTime, idsAtCursor });

describe("cursor order", () => {
  it("orders by millisecond, then by the ids handled at it", () => {
    expect(compareIncidentCursors(at(10), at(9, "a", "b"))).toBeGreaterThan(0);
    expect(compareIncidentCursors(at(10, "a"), at(10, "a", "b"))).toBeLessThan(0);
    expect(compareIncidentCursors(at(10, "b", "a"), at(10, "a", "b"))).toBe(0);
    expect(compareIncidentCursors(at(10, "a"), at(10, "b"))).toBeNull();
  });

  it("unites the ids two runs handled at the same millisecond", () => {
    expect(furthestIncidentCursor(at(10, "a", "c"), at(10, "b", "c"))).toEqual(at(10, "a", "b", "c"));
    expect(furthestIncidentCursor(at(9, "z"), at(10, "a"))).toEqual(at(10, "a"));
  });
});

describe("cursor store on the embedded S3", () => {
  let aws: AwsHarness;
  beforeAll(async () => {
    aws = await startAwsHarness();
  });
  afterAll(async () => {
    await aws?.close();
  });

  it("has no cursor before the first save, then reads back what it saved with its bookkeeping", async () => {
    const { s3, bucket } = await aws.createPipeline();
    const store = new IncidentCursorStore({ s3, bucket, now: () => Date.UTC(2026, 0, 2) });
    expect(await store.load()).toBeUndefined();

    expect(await store.save(at(1_700_000_000_000, "7", "8"))).toMatchObject({
      cursor: at(1_700_000_000_000, "7", "8"),
      outcome: "written",
    });
    expect((await store.load())?.cursor).toEqual(at(1_700_000_000_000, "7", "8"));
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: CURSOR_KEY }));
    expect(JSON.parse((await object.Body?.transformToString()) ?? "")).toEqual({
      version: 1,
      modificationTime: 1_700_000_000_000,
      idsAtCursor: ["7", "8"],
      updatedAt: "2026-01-02T00:00:00.000Z",
      // Saved without a record of sends: complete from the cursor on, which its own ids cover.
      lateWindow: { completeFrom: 1_700_000_000_000, sent: {} },
    });
  });

  it("keeps the record of sent versions with the cursor, uniting two runs' records", async () => {
    const { s3, bucket } = await aws.createPipeline();
    const first = new IncidentCursorStore({ s3, bucket });
    const second = new IncidentCursorStore({ s3, bucket });
    await first.save(at(500, "a"), { completeFrom: 100, sent: { a: 500, b: 300 } });
    // Behind on the cursor but with a send of its own: the cursor stays, the send is kept.
    const result = await second.save(at(400), { completeFrom: 200, sent: { b: 350, c: 250 } });
    expect(result.cursor).toEqual(at(500, "a"));
    expect((await first.load())?.record).toEqual({ completeFrom: 200, sent: { a: 500, b: 350, c: 250 } });
  });

  it("reads a cursor written before the late-arrival window as a record complete from the cursor", async () => {
    const { s3, bucket } = await aws.createPipeline();
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: CURSOR_KEY,
        Body: JSON.stringify({
          version: 1,
          modificationTime: 900,
          idsAtCursor: ["x"],
          updatedAt: "2026-01-01T00:00:00Z",
        }),
      }),
    );
    const loaded = await new IncidentCursorStore({ s3, bucket }).load();
    expect(loaded?.record).toEqual({ completeFrom: 900, sent: {} });
  });

  it("never writes a cursor older than the stored one, whichever run saves last", async () => {
    const { s3, bucket } = await aws.createPipeline();
    const fastRun = new IncidentCursorStore({ s3, bucket });
    const slowRun = new IncidentCursorStore({ s3, bucket });
    await slowRun.save(at(100, "a"));
    await fastRun.save(at(300, "z"));

    expect(await slowRun.save(at(200, "m"))).toMatchObject({ cursor: at(300, "z"), outcome: "kept_stored" });
    expect(await slowRun.save(at(300))).toMatchObject({ cursor: at(300, "z"), outcome: "kept_stored" });
    expect((await fastRun.load())?.cursor).toEqual(at(300, "z"));

    expect(await slowRun.save(at(400, "q"))).toMatchObject({ cursor: at(400, "q"), outcome: "written" });
  });

  it("keeps the ids both runs handled when they stopped in the same millisecond", async () => {
    const { s3, bucket } = await aws.createPipeline();
    await new IncidentCursorStore({ s3, bucket }).save(at(500, "1", "2"));
    const result = await new IncidentCursorStore({ s3, bucket }).save(at(500, "2", "3"));
    expect(result).toMatchObject({ cursor: at(500, "1", "2", "3"), outcome: "written" });
  });

  it("refuses an unreadable cursor object, naming it and what to do", async () => {
    const { s3, bucket } = await aws.createPipeline();
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: CURSOR_KEY, Body: '{"modificationTime":"soon"}' }),
    );
    const store = new IncidentCursorStore({ s3, bucket });
    await expect(store.load()).rejects.toBeInstanceOf(S3JsonStoreError);
    await expect(store.load()).rejects.toThrow(
      `s3://${bucket}/state/cursor.json does not have the expected shape`,
    );
    await expect(store.load()).rejects.toThrow("Fix or delete it");
  });
});

// fauxqs accepts every conditional write, so what real S3 would enforce is shown by what is sent.
describe("cursor store conditional writes (aws-sdk-client-mock: fauxqs does not enforce IfMatch/IfNoneMatch)", () => {
  const storedBody = (modificationTime: number, ...ids: string[]) => ({
    Body: {
      transformToString: async () =>
        JSON.stringify({
          version: 1,
          modificationTime,
          idsAtCursor: ids,
          updatedAt: "2026-01-01T00:00:00.000Z",
        }),
    } as never,
  });
  const noSuchKey = () =>
    new S3ServiceException({ name: "NoSuchKey", $fault: "client", $metadata: { httpStatusCode: 404 } });
  const preconditionFailed = () =>
    new S3ServiceException({
      name: "PreconditionFailed",
      $fault: "client",
      $metadata: { httpStatusCode: 412 },
    });

  function mockedStore() {
    const s3 = new S3Client({ region: "us-east-1" });
    const mock = mockClient(s3);
    return { mock, store: new IncidentCursorStore({ s3, bucket: "archive", maxAttempts: 3 }) };
  }
  const puts = (mock: ReturnType<typeof mockClient>) =>
    mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input as PutObjectCommandInput);

  it("creates the first cursor only if no other run created one (IfNoneMatch: *)", async () => {
    const { mock, store } = mockedStore();
    mock.on(GetObjectCommand).rejects(noSuchKey());
    mock.on(PutObjectCommand).resolves({ ETag: '"new"' });

    await store.save(at(100, "a"));
    expect(puts(mock)).toEqual([expect.objectContaining({ Key: CURSOR_KEY, IfNoneMatch: "*" })]);
    expect(puts(mock)[0]?.IfMatch).toBeUndefined();
  });

  it("updates the cursor only if it is still the object it read (IfMatch: its ETag)", async () => {
    const { mock, store } = mockedStore();
    mock.on(GetObjectCommand).resolves({ ...storedBody(100, "a"), ETag: '"etag-1"' });
    mock.on(PutObjectCommand).resolves({ ETag: '"etag-2"' });

    await store.save(at(200, "b"));
    expect(puts(mock)).toEqual([expect.objectContaining({ IfMatch: '"etag-1"' })]);
    expect(puts(mock)[0]?.IfNoneMatch).toBeUndefined();
  });

  it("after a precondition failure re-reads, and keeps the other run's cursor when it is ahead", async () => {
    const { mock, store } = mockedStore();
    mock
      .on(GetObjectCommand)
      .resolvesOnce({ ...storedBody(100, "a"), ETag: '"etag-1"' })
      .resolves({ ...storedBody(900, "z"), ETag: '"etag-2"' });
    mock.on(PutObjectCommand).rejects(preconditionFailed());

    expect(await store.save(at(200, "b"))).toMatchObject({ cursor: at(900, "z"), outcome: "kept_stored" });
    expect(puts(mock)).toHaveLength(1);
  });

  it("after a precondition failure re-reads, and writes against the new ETag when it is still ahead", async () => {
    const { mock, store } = mockedStore();
    mock
      .on(GetObjectCommand)
      .resolvesOnce({ ...storedBody(100, "a"), ETag: '"etag-1"' })
      .resolves({ ...storedBody(150, "c"), ETag: '"etag-2"' });
    mock.on(PutObjectCommand).rejectsOnce(preconditionFailed()).resolves({ ETag: '"etag-3"' });

    expect(await store.save(at(200, "b"))).toMatchObject({ cursor: at(200, "b"), outcome: "written" });
    expect(puts(mock).map((p) => p.IfMatch)).toEqual(['"etag-1"', '"etag-2"']);
  });

  it("gives up with an actionable error when another writer keeps winning the race", async () => {
    const { mock, store } = mockedStore();
    mock.on(GetObjectCommand).resolves({ ...storedBody(100, "a"), ETag: '"etag-1"' });
    mock.on(PutObjectCommand).rejects(preconditionFailed());

    await expect(store.save(at(200, "b"))).rejects.toThrow(
      /another poller run is writing it at the same time/,
    );
    expect(puts(mock)).toHaveLength(3);
  });
});
