// Once per incident, again only on escalation, and nothing lost: enricher instances racing on one incident,
// a crash between claiming and publishing, a claim held by another instance, an escalation while a lower
// claim is being published. The embedded AWS endpoint (fauxqs) with a fresh set of clients per instance
// (one per "container"); fauxqs does not enforce S3 conditional writes, so ConditionalWrites makes every
// instance's S3 client honour If-Match / If-None-Match as S3 does. Time is an injected clock.
import { randomUUID } from "node:crypto";
import type { SNSClient } from "@aws-sdk/client-sns";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EnricherDependencies } from "../../functions/enricher/create-handler.ts";
import {
  completeClaim,
  pendingClaimOf,
  pendingRecord,
  planNotification,
} from "../../functions/enricher/notification-claim.ts";
import type { ExtraDataResult, IncidentSummary } from "../../functions/shared/cortex/api.ts";
import {
  type IncidentStateRecord,
  readIncidentState,
  updateIncidentState,
} from "../../functions/shared/incident-state.ts";
import { EnricherMetric } from "../../functions/shared/metric-names.ts";
import { digestIncident } from "../../functions/shared/notification.ts";
import { localAwsClients } from "../../local/aws-endpoint.ts";
import { ConditionalWrites } from "../../local/conditional-writes.ts";
import {
  type AwsFixture,
  drainNotifications,
  listKeys,
  resetQueues,
  sendVersions,
  startAws,
} from "../support/aws.ts";
import { extraDataResult, incidentFields, scriptedEnricher, versionMessage } from "./fixtures.ts";

const INVOCATION_MS = 120_000;
/** The stack's visibility timeout: six times the function timeout. */
const VISIBILITY_MS = 6 * INVOCATION_MS;

let aws: AwsFixture;
let conditionalWrites: ConditionalWrites;
const containers: ReturnType<typeof localAwsClients>[] = [];

beforeAll(async () => {
  aws = await startAws();
  conditionalWrites = new ConditionalWrites(aws.s3);
});
afterAll(async () => {
  for (const clients of containers) {
    clients.s3.destroy();
    clients.sqs.destroy();
    clients.sns.destroy();
  }
  await aws?.close();
});
beforeEach(() => resetQueues(aws));

let idBase = 5000;
function nextId(): string {
  idBase += 10;
  return String(idBase);
}

/** One enricher container: its own clients (S3 with conditional writes enforced), pacer and clock. */
function instance(overrides: Partial<EnricherDependencies> = {}) {
  const clients = localAwsClients(aws.endpoint.url);
  containers.push(clients);
  const s3 = conditionalWrites.enforceOn(clients.s3);
  return scriptedEnricher(aws, { s3, sqs: clients.sqs, sns: clients.sns, ...overrides }, INVOCATION_MS);
}

/** Resolves every caller once `parties` have arrived: both instances have read the state before either goes on. */
function barrier(parties: number) {
  let arrived = 0;
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return async () => {
    arrived += 1;
    if (arrived >= parties) open();
    await opened;
  };
}

/** An SNS client of its own whose Publish calls go through `intercept` first. */
function interceptedSns(intercept: (call: number) => Promise<void>): SNSClient {
  const clients = localAwsClients(aws.endpoint.url);
  containers.push(clients);
  let calls = 0;
  clients.sns.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PublishCommand") await intercept(++calls);
      return next(args);
    },
    { step: "initialize", name: "intercept-publish" },
  );
  return clients.sns;
}

class SimulatedCrash extends Error {
  constructor() {
    super("Simulated crash: the enricher died after claiming the notification and before publishing it");
    this.name = "SimulatedCrash";
  }
}

function machineMessage(notification: { body: string } | undefined) {
  return JSON.parse(JSON.parse(notification?.body ?? "{}").default ?? "{}") as Record<string, unknown>;
}

describe("notifying once per incident", () => {
  it("publishes exactly once when two instances handle versions of the same incident at the same time", async () => {
    const id = nextId();
    const first = incidentFields(id, { severity: "critical", modification_time: 10_000 });
    const second = incidentFields(id, { severity: "critical", modification_time: 11_000 });
    const bothFetched = barrier(2);
    const gated = (result: ExtraDataResult) => ({
      getIncidentExtraData: async () => {
        await bothFetched();
        return structuredClone(result);
      },
    });
    const a = instance({ extraData: gated(extraDataResult(first)) });
    const b = instance({ extraData: gated(extraDataResult(second)) });
    await sendVersions(aws, [versionMessage(first), versionMessage(second)]);
    const refusedBefore = conditionalWrites.refused;

    const [ranA, ranB] = await Promise.all([a.invoke({ max: 1 }), b.invoke({ max: 1 })]);

    expect([...ranA.failedIds, ...ranB.failedIds]).toEqual([]);
    expect(ranA.event.Records).toHaveLength(1);
    expect(ranB.event.Records).toHaveLength(1);
    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toEqual([
      `incidents/2026/11/20/${id}/10000.json.gz`,
      `incidents/2026/11/20/${id}/11000.json.gz`,
    ]);
    expect(await drainNotifications(aws)).toHaveLength(1);
    expect(a.recorded.total(EnricherMetric.Notified) + b.recorded.total(EnricherMetric.Notified)).toBe(1);
    // They really raced: one claim write was refused and re-applied to the winner's record.
    expect(conditionalWrites.refused).toBeGreaterThan(refusedBefore);
    const notified = (await readIncidentState(aws.s3, aws.bucket, id))?.record.notified;
    expect(notified).toMatchObject({ severity: "critical" });
    expect(notified?.pending).toBeUndefined();
  });

  it("recovers a crash between the claim and the publish with the redelivered message, publishing once", async () => {
    const id = nextId();
    const incident = incidentFields(id, { severity: "critical", incident_name: "Ransomware on db-1" });
    const run = instance({
      sns: interceptedSns(async (call) => {
        if (call === 1) throw new SimulatedCrash();
      }),
    });
    run.extraData.answer(id, extraDataResult(incident));
    await sendVersions(aws, [versionMessage(incident)]);

    // Visibility 0: the failed message is back at once, standing in for its visibility timeout passing.
    const crashed = await run.invoke({ visibilitySeconds: 0 });
    expect(crashed.failedIds).toEqual([crashed.event.Records[0]?.messageId]);
    expect(await drainNotifications(aws)).toEqual([]);
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record.notified).toMatchObject({
      severity: "critical",
      pending: true,
    });

    run.clock.advance(VISIBILITY_MS);
    const redelivered = await run.invoke();
    expect(redelivered.event.Records[0]?.messageId).toBe(crashed.event.Records[0]?.messageId);

    expect(redelivered.failedIds).toEqual([]);
    const notifications = await drainNotifications(aws);
    expect(notifications).toHaveLength(1);
    expect(machineMessage(notifications[0])).toMatchObject({
      incident_id: id,
      incident_name: "Ransomware on db-1",
      severity: "critical",
      reason: "threshold",
      archive: {
        bucket: aws.bucket,
        key: `incidents/2026/11/20/${id}/${incident.modification_time}.json.gz`,
      },
    });
    expect(run.extraData.calls).toHaveLength(1); // the redelivered message was coalesced
    expect(run.recorded.total(EnricherMetric.Coalesced)).toBe(1);
    expect(run.recorded.total(EnricherMetric.Notified)).toBe(1);
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record.notified?.pending).toBeUndefined();

    // Done means done: yet another delivery publishes nothing.
    await sendVersions(aws, [versionMessage(incident)]);
    await run.invoke();
    expect(await drainNotifications(aws)).toEqual([]);
  });

  it("does not publish while another instance holds a fresh claim, and takes the claim over once it has expired", async () => {
    const id = nextId();
    const incident = incidentFields(id, { severity: "high" });
    const run = instance();
    run.extraData.answer(id, extraDataResult(incident));
    // Another instance claimed this incident's notification a moment ago and is still publishing it.
    const otherClaimId = randomUUID();
    const otherArchive = { bucket: aws.bucket, key: `incidents/2026/11/20/${id}/other.json.gz` };
    const claimedElsewhere = (current: IncidentStateRecord) => ({
      ...current,
      notified: pendingRecord(
        {
          claimId: otherClaimId,
          severity: "high",
          modificationTime: incident.modification_time,
          expiresAt: run.clock.now() + INVOCATION_MS,
          previousSeverity: undefined,
          digest: digestIncident(
            { ...incident, incident_name: "Claimed elsewhere" },
            versionMessage(incident),
          ),
          archive: otherArchive,
          firstSeenAt: run.clock.now(),
        },
        run.clock.now(),
      ),
    });
    await updateIncidentState(aws.s3, aws.bucket, id, (current) => ({
      record: claimedElsewhere(current),
      result: undefined,
    }));

    await sendVersions(aws, [versionMessage(incident)]);
    expect((await run.invoke()).failedIds).toEqual([]);
    await sendVersions(aws, [versionMessage(incident)]); // coalesced, the claim still fresh
    expect((await run.invoke()).failedIds).toEqual([]);

    expect(await listKeys(aws, `incidents/2026/11/20/${id}/`)).toHaveLength(1);
    expect(await drainNotifications(aws)).toEqual([]);
    expect(run.recorded.total(EnricherMetric.Notified)).toBe(0);
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record.notified).toMatchObject({
      pending: true,
      claim_id: otherClaimId,
    });

    // The other instance died without publishing: once its claim has expired, the next message publishes it.
    run.clock.advance(INVOCATION_MS);
    await sendVersions(aws, [versionMessage(incident)]);
    expect((await run.invoke()).failedIds).toEqual([]);
    const notifications = await drainNotifications(aws);
    expect(notifications).toHaveLength(1);
    expect(machineMessage(notifications[0])).toMatchObject({
      incident_name: "Claimed elsewhere",
      archive: otherArchive,
    });
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record.notified?.pending).toBeUndefined();
  });

  it("still notifies an escalation while a lower-severity claim is being published, and keeps the higher one", async () => {
    const id = nextId();
    const high = incidentFields(id, { severity: "high", modification_time: 20_000 });
    const critical = incidentFields(id, { severity: "critical", modification_time: 21_000 });
    let publishing = () => {};
    const highIsPublishing = new Promise<void>((resolve) => {
      publishing = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = instance({
      sns: interceptedSns(async () => {
        publishing();
        await released;
      }),
    });
    slow.extraData.answer(id, extraDataResult(high));
    const fast = instance();
    fast.extraData.answer(id, extraDataResult(critical));

    await sendVersions(aws, [versionMessage(high)]);
    const slowRun = slow.invoke();
    await highIsPublishing; // the high claim is written and its publish is under way
    await sendVersions(aws, [versionMessage(critical)]);
    expect((await fast.invoke()).failedIds).toEqual([]);
    release();
    expect((await slowRun).failedIds).toEqual([]);

    const notifications = await drainNotifications(aws);
    expect(notifications.map((n) => n.attributes.severity).sort()).toEqual(["critical", "high"]);
    expect(machineMessage(notifications.find((n) => n.attributes.severity === "critical"))).toMatchObject({
      reason: "escalation",
      previous_severity: "high",
    });
    // The high claimant's "done" write found the critical claim in its place and left it alone.
    const notified = (await readIncidentState(aws.s3, aws.bucket, id))?.record.notified;
    expect(notified).toEqual({
      severity: "critical",
      modification_time: 21_000,
      notified_at: expect.any(Number),
    });
  });

  it("takes over an expired claim at a higher severity when a lower version arrives, publishing what was claimed", async () => {
    const id = nextId();
    const critical = incidentFields(id, { severity: "critical", modification_time: 30_000 });
    const medium = incidentFields(id, { severity: "medium", modification_time: 31_000 });
    const crashing = instance({
      sns: interceptedSns(async () => {
        throw new SimulatedCrash();
      }),
    });
    crashing.extraData.answer(id, extraDataResult(critical));
    await sendVersions(aws, [versionMessage(critical)]);
    expect((await crashing.invoke()).failedIds).toHaveLength(1);
    await aws.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.queueUrl })); // its redelivery is late

    const next = instance();
    next.clock.advance(VISIBILITY_MS);
    next.extraData.answer(id, extraDataResult(medium as IncidentSummary));
    await sendVersions(aws, [versionMessage(medium)]);
    expect((await next.invoke()).failedIds).toEqual([]);

    const notifications = await drainNotifications(aws);
    expect(notifications.map((n) => n.attributes.severity)).toEqual(["critical"]);
    expect((await readIncidentState(aws.s3, aws.bucket, id))?.record).toMatchObject({
      archived: { modification_time: 31_000 },
      notified: { severity: "critical", modification_time: 30_000 },
    });
  });
});

describe("planNotification: deciding inside the claim write", () => {
  const NOW = 1_000_000;
  const incident = incidentFields("77", { severity: "critical" });
  const request = {
    digest: digestIncident(incident, versionMessage(incident)),
    archive: { bucket: "archive", key: "incidents/2026/11/20/77/1.json.gz" },
    modificationTime: 1,
    threshold: "high" as const,
    now: NOW,
    claimId: "mine",
    expiresAt: NOW + INVOCATION_MS,
    firstSeenAt: NOW - 5_000,
  };
  const claimAt = (severity: string, expiresAt: number, previousSeverity?: string) =>
    pendingRecord(
      {
        claimId: "theirs",
        severity,
        modificationTime: 0,
        expiresAt,
        previousSeverity,
        digest: { ...request.digest, severity },
        archive: { bucket: "archive", key: "theirs" },
        firstSeenAt: NOW - 10_000,
      },
      NOW - 1,
    );

  it("claims nothing below the threshold or at a severity already notified", () => {
    const medium = { ...request, digest: { ...request.digest, severity: "medium" } };
    expect(planNotification(undefined, medium).plan).toEqual({ kind: "not_due" });
    const done = { severity: "critical", modification_time: 0, notified_at: 0 };
    expect(planNotification(done, request)).toEqual({ plan: { kind: "not_due" }, notified: done });
  });

  it("leaves a live claim at this severity or higher alone, and claims over a live lower one", () => {
    const live = claimAt("critical", NOW + 1);
    expect(planNotification(live, request)).toEqual({
      plan: { kind: "claimed_elsewhere", severity: "critical", expiresAt: NOW + 1 },
      notified: live,
    });
    const { plan, notified } = planNotification(claimAt("high", NOW + 1), request);
    expect(plan).toMatchObject({ kind: "publish", takenOver: false, claim: { previousSeverity: "high" } });
    expect(notified).toMatchObject({ pending: true, claim_id: "mine", severity: "critical" });
  });

  it("takes over an expired claim at this severity or higher, and supersedes an expired lower one", () => {
    const { plan } = planNotification(claimAt("critical", NOW, "high"), request);
    expect(plan).toMatchObject({
      kind: "publish",
      takenOver: true,
      claim: { claimId: "mine", expiresAt: NOW + INVOCATION_MS, previousSeverity: "high" },
    });
    expect(plan.kind === "publish" && plan.claim.archive.key).toBe("theirs");
    // The expired high claim was never heard: the critical one reads as reaching critical from nothing.
    const superseded = planNotification(claimAt("high", NOW), request).plan;
    expect(superseded).toMatchObject({
      kind: "publish",
      takenOver: false,
      claim: { previousSeverity: undefined },
    });
  });

  it("marks only its own claim done", () => {
    const claim = pendingClaimOf(claimAt("critical", NOW));
    if (claim === undefined) throw new Error("the claim did not read back");
    expect(completeClaim(claimAt("critical", NOW), claim, NOW + 5)).toEqual({
      severity: "critical",
      modification_time: 0,
      notified_at: NOW + 5,
    });
    const replaced = claimAt("critical", NOW);
    expect(completeClaim(replaced, { ...claim, claimId: "an earlier one" }, NOW + 5)).toBe(replaced);
  });
});
