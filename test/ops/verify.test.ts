// `ops verify` against the Cortex emulator and the embedded AWS endpoint, with the archive filled by the
// real poller and enricher: it must name exactly what is missing or broken, and --repair must fix it.
import { gzipSync } from "node:zlib";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey } from "../../functions/shared/archive.ts";
import type { VerifyReport } from "../../local/ops/verify.ts";
import { type OpsHarness, startOpsHarness } from "./ops-harness.ts";

let h: OpsHarness;
let from: string;
beforeAll(async () => {
  h = await startOpsHarness({ incidents: 30 });
  from = new Date(Date.now() - 7 * 3_600_000).toISOString();
  await h.poll();
  await h.enrichQueue();
});
afterAll(async () => {
  await h?.close();
});

const keyOf = (incident: { incident_id: string; creation_time: number; modification_time: number }) =>
  archiveKey(incident.incident_id, incident.creation_time, incident.modification_time);

describe("ops verify", () => {
  it("passes with exit 0 when the pipeline archived every version the tenant lists", async () => {
    const run = await h.ops(["verify", "--from", from, "--json"]);
    const report = JSON.parse(run.stdout) as VerifyReport;
    expect(run.code).toBe(0);
    expect(report.listed_versions).toBe(30);
    expect(report.missing).toEqual([]);
    expect(report.broken).toEqual([]);
  });

  it("finds a deleted object, a corrupted object and a version never queued, and --repair brings them back", async () => {
    const [deleted, corrupted, neverQueued] = h.emulator.control.incidents().slice(0, 3);
    if (!deleted || !corrupted || !neverQueued) throw new Error("the emulator has fewer than 3 incidents");
    const { s3 } = h.clients;
    const bucket = h.resources.bucket;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(deleted) }));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: keyOf(corrupted), Body: Buffer.from('{"trunc') }),
    );
    const modified = h.emulator.control.modifyIncident(neverQueued.incident_id);

    const found = await h.ops(["verify", "--from", from]);
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`MISSING  incident ${deleted.incident_id} @ ${deleted.modification_time}`);
    expect(found.stdout).toContain(
      `MISSING  incident ${modified.incident_id} @ ${modified.modification_time}`,
    );
    expect(found.stdout).toContain(`BROKEN   ${keyOf(corrupted)}: not gzip`);
    expect(found.stdout).toContain("2 missing, 1 broken");

    const repaired = await h.ops(["verify", "--from", from, "--repair", "--json"]);
    const report = JSON.parse(repaired.stdout) as VerifyReport;
    expect(repaired.code).toBe(1);
    expect(report.repair).toEqual({ enqueued: 3, state_records_reset: 2, not_repairable: [] });
    // The enricher would otherwise skip the deleted and the corrupted version as already archived.
    expect(await h.enrichQueue()).toBe(3);

    const after = await h.ops(["verify", "--from", from, "--json"]);
    expect(after.code).toBe(0);
    expect((JSON.parse(after.stdout) as VerifyReport).missing).toEqual([]);
  });

  it("names an object whose body holds another version than its key", async () => {
    const incident = h.emulator.control.incidents()[5];
    if (!incident) throw new Error("no incident 5");
    const key = keyOf({ ...incident, modification_time: incident.modification_time - 1 });
    const body = gzipSync(JSON.stringify({ incident: { ...incident } }));
    await h.clients.s3.send(new PutObjectCommand({ Bucket: h.resources.bucket, Key: key, Body: body }));
    const run = await h.ops(["verify", "--from", from]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `BROKEN   ${key}: body's modification_time is ${incident.modification_time}`,
    );
    expect(run.stdout).toContain("an older version: restore it from the bucket's object versions");
    await h.clients.s3.send(new DeleteObjectCommand({ Bucket: h.resources.bucket, Key: key }));
  });
});
