import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EmbeddedAwsEndpoint,
  localAwsClients,
  startEmbeddedAwsEndpoint,
} from "../../local/aws-endpoint.ts";
import { ArchiveMirror } from "../../local/runner/archive-mirror.ts";

let endpoint: EmbeddedAwsEndpoint;
let dir: string;

beforeAll(async () => {
  endpoint = await startEmbeddedAwsEndpoint();
  dir = await mkdtemp(path.join(tmpdir(), "archive-mirror-"));
});
afterAll(async () => {
  await endpoint.close();
  await rm(dir, { recursive: true, force: true });
});

async function putArchive(
  s3: ReturnType<typeof localAwsClients>["s3"],
  bucket: string,
  key: string,
  reply: unknown,
) {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: gzipSync(JSON.stringify(reply)),
      ContentType: "application/json",
      ContentEncoding: "gzip",
    }),
  );
}

describe("ArchiveMirror", () => {
  it("copies an object again when it is replaced under the same key (a partial one completed), counting it once", async () => {
    const { s3 } = localAwsClients(endpoint.url);
    const bucket = "mirror-completed";
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const key = "incidents/2026/11/21/77/3000.json.gz";
    const mirror = new ArchiveMirror({ s3, bucket, outDir: path.join(dir, "completed") });
    await mirror.remember();
    await putArchive(s3, bucket, key, { alerts: { data: [1] } });
    expect(await mirror.sync()).toEqual([key]);
    await putArchive(s3, bucket, key, { alerts: { data: [1, 2, 3] } });

    expect(await mirror.sync()).toEqual([]);

    const copied = JSON.parse(gunzipSync(await readFile(path.join(dir, "completed", key))).toString("utf8"));
    expect(copied.alerts.data).toEqual([1, 2, 3]);
    expect(mirror.archivedThisRun).toBe(1);
  });

  it("copies incident objects byte for byte under the same key layout, counting only this run's", async () => {
    const { s3 } = localAwsClients(endpoint.url);
    const bucket = "mirror-test";
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await putArchive(s3, bucket, "incidents/2026/11/20/1/1000.json.gz", { incident: { incident_id: "1" } });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "state/cursor.json", Body: "{}" }));

    const mirror = new ArchiveMirror({ s3, bucket, outDir: dir });
    await mirror.remember();
    await putArchive(s3, bucket, "incidents/2026/11/21/893/2000.json.gz", {
      incident: { incident_id: "893" },
      x: [1],
    });

    const added = await mirror.sync();
    expect(added).toEqual(["incidents/2026/11/21/893/2000.json.gz"]);
    expect(mirror.archivedThisRun).toBe(1);
    // What the bucket held before is copied too, just not counted as this run's.
    const earlier = await readFile(path.join(dir, "incidents/2026/11/20/1/1000.json.gz"));
    expect(JSON.parse(gunzipSync(earlier).toString())).toEqual({ incident: { incident_id: "1" } });
    const copy = await readFile(path.join(dir, "incidents/2026/11/21/893/2000.json.gz"));
    expect(JSON.parse(gunzipSync(copy).toString())).toEqual({ incident: { incident_id: "893" }, x: [1] });
    // The state prefix is not part of the archive.
    await expect(readFile(path.join(dir, "state/cursor.json"))).rejects.toThrow();
    // Nothing new: nothing copied again.
    expect(await mirror.sync()).toEqual([]);
  });

  it("gives a sync called during another pass its own pass, so no object written before the call is missed", async () => {
    const { s3 } = localAwsClients(endpoint.url);
    const bucket = "mirror-race";
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const mirror = new ArchiveMirror({ s3, bucket, outDir: path.join(dir, "race") });
    await putArchive(s3, bucket, "incidents/2026/11/21/1/1.json.gz", {});
    const first = mirror.sync();
    await putArchive(s3, bucket, "incidents/2026/11/21/2/2.json.gz", {});
    const second = mirror.sync();
    const third = mirror.sync();
    await Promise.all([first, second, third]);
    expect(mirror.archivedThisRun).toBe(2);
    expect(third).toBe(second);
  });
});
