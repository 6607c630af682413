// `ops redrive` on a dead-letter queue of mixed failure reasons, on the embedded AWS endpoint (fauxqs).
// fauxqs has no StartMessageMoveTask (it answers InvalidAction), so the receive/send/delete path runs
// against it for real; the move-task path is shown with that one call stubbed in the SDK's middleware.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand, type StartMessageMoveTaskCommandInput } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { quarantineKey } from "../../functions/shared/archive.ts";
import { updateIncidentState } from "../../functions/shared/incident-state.ts";
import type { RedriveResult } from "../../local/ops/redrive.ts";
import { redriveDeadLetters } from "../../local/ops/redrive.ts";
import type { OpsTarget } from "../../local/ops/target.ts";
import { queueDepth } from "../../local/runner/aws-resources.ts";
import { drainQueue } from "../support/aws.ts";
import { type OpsHarness, startOpsHarness } from "./ops-harness.ts";

let h: OpsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const version = (id: string, modificationTime: number) =>
  JSON.stringify({
    incident_id: id,
    modification_time: modificationTime,
    creation_time: Math.max(0, modificationTime - 1000),
    severity: "high",
    status: "new",
    polled_at: modificationTime,
  });

async function toDeadLetterQueue(harness: OpsHarness, bodies: string[]) {
  for (const body of bodies) {
    await harness.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: harness.resources.deadLetterQueueUrl, MessageBody: body }),
    );
  }
}

/** A DLQ with every kind of failure the enricher leaves behind. */
async function mixedDeadLetters(harness: OpsHarness) {
  const { s3 } = harness.clients;
  const bucket = harness.resources.bucket;
  await updateIncidentState(s3, bucket, "501", (current) => ({
    record: { ...current, archived: { modification_time: 2_000, key: "incidents/x", archived_at: 3_000 } },
    result: undefined,
  }));
  await updateIncidentState(s3, bucket, "502", (current) => ({
    record: { ...current, not_found: { modification_time: 2_000, recorded_at: 3_000 } },
    result: undefined,
  }));
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: quarantineKey("503", 4_000),
      Body: "x",
      Metadata: { reason: "Cortex API answered 502 without the JSON envelope" },
    }),
  );
  await toDeadLetterQueue(harness, [
    "{not json",
    JSON.stringify({ incident_id: "", modification_time: "soon" }),
    version("501", 2_000),
    version("502", 2_000),
    version("503", 2_000),
    version("504", 2_000),
    version("505", 2_000),
  ]);
}

describe("ops redrive", () => {
  it("shows the failure reasons grouped and changes nothing with --dry-run", async () => {
    h = await startOpsHarness({ incidents: 0 });
    await mixedDeadLetters(h);
    const run = await h.ops(["redrive", "--dry-run", "--json"]);
    const result = JSON.parse(run.stdout) as RedriveResult;
    expect(run.code).toBe(0);
    expect(result.messages).toBe(7);
    const byReason = Object.fromEntries(result.reasons.map((g) => [g.reason, [g.count, g.redriven]]));
    expect(byReason).toEqual({
      "failed every retry (the enricher's log lines with this incident_id say why)": [2, true],
      "not JSON: not an incident version message": [1, false],
      "not an incident version message (incident_id: Too small: expected string to have >=1 characters)": [
        1,
        false,
      ],
      "archived since (the enricher will just acknowledge it)": [1, true],
      "the Cortex API says the incident does not exist": [1, true],
      "the API's reply was not JSON (quarantined: Cortex API answered 502 without the JSON envelope)": [
        1,
        true,
      ],
    });
    expect(await queueDepth(h.clients.sqs, h.resources.deadLetterQueueUrl)).toMatchObject({ visible: 7 });
    expect((await queueDepth(h.clients.sqs, h.resources.queueUrl)).visible).toBe(0);
  });

  it("moves the incident versions back by receive, send and delete, and leaves the invalid ones", async () => {
    h = await startOpsHarness({ incidents: 0 });
    await mixedDeadLetters(h);
    const run = await h.ops(["redrive"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("not JSON: not an incident version message [stays in the DLQ]");
    expect(run.stdout).toContain(
      "moved 5 message(s) back to the incident queue (receive, send, delete); 2 left in the DLQ",
    );
    const moved = await drainQueue(h.clients.sqs, h.resources.queueUrl);
    expect(moved.map((m) => m.incident_id).sort()).toEqual(["501", "502", "503", "504", "505"]);
    expect(await queueDepth(h.clients.sqs, h.resources.deadLetterQueueUrl)).toMatchObject({
      visible: 2,
      inFlight: 0,
    });
  });

  it("falls back to receive, send and delete when the endpoint has no message move task", async () => {
    h = await startOpsHarness({ incidents: 0 });
    await toDeadLetterQueue(h, [version("601", 1), version("602", 1)]);
    const run = await h.ops(["redrive"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "moved 2 message(s) back to the incident queue (receive, send, delete); 0 left",
    );
    expect((await drainQueue(h.clients.sqs, h.resources.queueUrl)).map((m) => m.incident_id).sort()).toEqual([
      "601",
      "602",
    ]);
  });

  it("starts SQS's message move task from the DLQ to the queue when every message can go back", async () => {
    h = await startOpsHarness({ incidents: 0 });
    await toDeadLetterQueue(h, [version("701", 1)]);
    const calls: StartMessageMoveTaskCommandInput[] = [];
    const { sqs } = h.clients;
    // Stub: fauxqs lacks StartMessageMoveTask; every other call still reaches it.
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "StartMessageMoveTaskCommand") return next(args);
        calls.push(args.input as StartMessageMoveTaskCommandInput);
        return { output: { TaskHandle: "task-1", $metadata: {} }, response: {} } as Awaited<
          ReturnType<typeof next>
        >;
      },
      { step: "initialize", name: "stubMessageMoveTask" },
    );
    const target = { ...h.resources, s3: h.clients.s3, sqs } as unknown as OpsTarget;
    const result = await redriveDeadLetters({ target, dryRun: false });
    expect(result).toMatchObject({ method: "message_move_task", moved: 1, left_in_dlq: 0 });
    expect(calls).toEqual([
      { SourceArn: h.resources.deadLetterQueueArn, DestinationArn: h.resources.queueArn },
    ]);
    // Released for the task to move: visible again, not held by this process.
    expect(await queueDepth(sqs, h.resources.deadLetterQueueUrl)).toMatchObject({ visible: 1, inFlight: 0 });
  });
});
