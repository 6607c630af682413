// `ops replay` against the Cortex emulator and the embedded AWS endpoint: the enricher's own handler
// fetches and archives the incidents again now, also when the archive already holds their version,
// without telling subscribers twice.
import { DeleteObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey } from "../../functions/shared/archive.ts";
import type { ReplayOutcome } from "../../local/ops/replay.ts";
import { queueDepth } from "../../local/runner/aws-resources.ts";
import { type OpsHarness, startArchivedOpsHarness } from "./ops-harness.ts";

let h: OpsHarness;
beforeAll(async () => {
  h = await startArchivedOpsHarness(12);
});
afterAll(() => h?.close());

const fetchTime = async (key: string) =>
  (await h.clients.s3.send(new HeadObjectCommand({ Bucket: h.resources.bucket, Key: key }))).Metadata?.[
    "fetch-time"
  ];

describe("ops replay", () => {
  it("re-archives a deleted version and one already archived, reports an unknown id, and notifies nobody again", async () => {
    const [deleted, kept] = h.emulator.control.incidents();
    if (!deleted || !kept) throw new Error("the emulator has fewer than 2 incidents");
    const deletedKey = archiveKey(deleted.incident_id, deleted.creation_time, deleted.modification_time);
    const keptKey = archiveKey(kept.incident_id, kept.creation_time, kept.modification_time);
    await h.clients.s3.send(new DeleteObjectCommand({ Bucket: h.resources.bucket, Key: deletedKey }));
    const keptFetchedAt = await fetchTime(keptKey);
    const notificationsBefore = await queueDepth(h.clients.sqs, h.resources.notificationInboxUrl);

    const run = await h.ops([
      "replay",
      "--incident",
      deleted.incident_id,
      "--incident",
      `${kept.incident_id},999999`,
      "--json",
    ]);
    const outcomes = JSON.parse(run.stdout) as ReplayOutcome[];
    expect(run.code).toBe(1);
    expect(outcomes).toEqual([
      {
        incident_id: deleted.incident_id,
        outcome: "archived",
        key: deletedKey,
        modification_time: deleted.modification_time,
      },
      {
        incident_id: kept.incident_id,
        outcome: "archived",
        key: keptKey,
        modification_time: kept.modification_time,
      },
      { incident_id: "999999", outcome: "not_in_tenant" },
    ]);
    expect(await fetchTime(deletedKey)).toBeDefined();
    expect(Number(await fetchTime(keptKey))).toBeGreaterThan(Number(keptFetchedAt));
    expect(await queueDepth(h.clients.sqs, h.resources.notificationInboxUrl)).toEqual(notificationsBefore);
  });

  it("archives the version the tenant holds now when the incident changed since", async () => {
    const incident = h.emulator.control.incidents()[3];
    if (!incident) throw new Error("no incident 3");
    const changed = h.emulator.control.modifyIncident(incident.incident_id, {
      status: "under_investigation",
    });
    const run = await h.ops(["replay", "--incident", incident.incident_id]);
    const key = archiveKey(changed.incident_id, changed.creation_time, changed.modification_time);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`incident ${incident.incident_id}: archived ${key}\n`);
    expect(await fetchTime(key)).toBeDefined();
  });
});
