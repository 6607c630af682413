// `npm start` shows each notification's time to alert (the envelope's publish Timestamp minus the
// first_seen_at the enricher puts in `default`) in its event lines, and p50/p95/max in the summary.
// The envelope is the one fauxqs really delivers to the runner's subscriber queue.
import { describe, expect, it } from "vitest";
import {
  formatNotification,
  type NotificationPreview,
  renderNotification,
} from "../../local/runner/notifications.ts";
import { buildSummary, formatSummary, percentile, timeToAlertStats } from "../../local/runner/summary.ts";
import { runnerTopicPerFile } from "./runner-topic.ts";

const runnerTopic = runnerTopicPerFile();

describe("time to alert in the local runner", () => {
  it("reads each notification's time to alert from what the topic delivers", async () => {
    const { publish, inbox, seen, resources } = await runnerTopic({
      bucket: "tta-bucket",
      queue: "tta-queue",
      deadLetterQueue: "tta-dlq",
      topic: "tta-topic",
      notificationInbox: "tta-inbox",
    });
    const firstSeenAt = Date.now() - 12_000;
    await publish({
      Message: JSON.stringify({
        default: JSON.stringify({ incident_id: "9", first_seen_at: firstSeenAt }),
        email: "body",
        sms: "CRITICAL Cortex incident 9",
      }),
      Subject: "Cortex incident 9 [CRITICAL]",
    });
    await inbox.drain();

    const tta = seen[0]?.timeToAlertMs ?? -1;
    expect(tta).toBeGreaterThanOrEqual(12_000);
    expect(tta).toBeLessThan(60_000);
    expect(formatNotification(seen[0] as NotificationPreview).at(-1)).toMatch(
      /^ {7}time to alert \d+\.\d s \(from the poll that first read it\)$/,
    );
    // The priority queue is there too, next to the ordinary one.
    expect(resources.priorityQueueUrl).toMatch(/tta-queue-priority$/);
  });

  it("shows no time to alert for a publish that does not say when its version was first seen", () => {
    const envelope = JSON.stringify({
      Type: "Notification",
      Message: JSON.stringify({ default: "{}" }),
      Timestamp: new Date().toISOString(),
    });
    expect(renderNotification(envelope).timeToAlertMs).toBeUndefined();
    expect(formatNotification(renderNotification(envelope)).join("\n")).not.toContain("time to alert");
  });

  it("summarises the notifications' p50, p95 and max", () => {
    const values = Array.from({ length: 20 }, (_, i) => (i + 1) * 1000);
    expect(percentile(values, 50)).toBe(10_000);
    expect(percentile(values, 95)).toBe(19_000);
    expect(timeToAlertStats(values)).toEqual({ count: 20, p50_ms: 10_000, p95_ms: 19_000, max_ms: 20_000 });
    expect(timeToAlertStats([])).toBeNull();

    const counts = {
      polled: 1,
      enqueued: 1,
      enriched: 1,
      requeued: 0,
      archived: 1,
      notified: 20,
      dead_lettered: 0,
      failed_attempts: 0,
      failed_invocations: 0,
      not_started: 0,
      returned_unfinished: 0,
      api_calls: 1,
      api_calls_by_endpoint: { get_incidents: 1 },
      throttled: 0,
      poll_runs: 1,
      left_in_queue: 0,
      not_found: 0,
    };
    const summary = buildSummary({
      counts,
      archiveDir: "/tmp/a",
      durationMs: 1,
      accessProblem: undefined,
      failure: undefined,
      once: true,
      timesToAlertMs: values,
    });
    expect(summary.time_to_alert).toEqual({ count: 20, p50_ms: 10_000, p95_ms: 19_000, max_ms: 20_000 });
    expect(formatSummary(summary)).toContain(
      "time to alert (poll to publish, 20 notifications): p50 10.0 s, p95 19.0 s, max 20.0 s",
    );
  });
});
