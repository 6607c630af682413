import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  buildSummary,
  formatSummary,
  type SummaryInput,
  writeSummaryJson,
} from "../../local/runner/summary.ts";

const clean: SummaryInput = {
  counts: {
    polled: 12,
    enqueued: 12,
    enriched: 12,
    requeued: 0,
    archived: 12,
    notified: 4,
    dead_lettered: 0,
    failed_attempts: 1,
    failed_invocations: 0,
    not_started: 0,
    returned_unfinished: 0,
    api_calls: 14,
    api_calls_by_endpoint: {
      get_incidents: 2,
      get_incident_extra_data: 10,
      get_multiple_incidents_extra_data: 2,
    },
    throttled: 1,
    poll_runs: 1,
    left_in_queue: 0,
    not_found: 0,
  },
  archiveDir: "/tmp/incident-archive",
  durationMs: 73_456.4,
  accessProblem: undefined,
  failure: undefined,
  once: true,
};

describe("run summary", () => {
  it("exits 0 with no problem when nothing ended in the DLQ", () => {
    const summary = buildSummary(clean);
    expect(summary).toMatchObject({ ...clean.counts, exit_code: 0, problem: null, duration_ms: 73_456 });
  });

  it("exits 1 and says what to do when messages ended in the dead-letter queue", () => {
    const summary = buildSummary({ ...clean, counts: { ...clean.counts, dead_lettered: 2 } });
    expect(summary.exit_code).toBe(1);
    expect(summary.problem).toContain("2 message(s) ended in the dead-letter queue");
    expect(summary.problem).toContain("--log-level INFO");
  });

  it("exits 2 when a credential was rejected, even if other things also went wrong", () => {
    const summary = buildSummary({
      ...clean,
      counts: { ...clean.counts, dead_lettered: 1 },
      accessProblem: "Cortex API rejected the API key (401).",
      failure: "poller failed",
    });
    expect(summary.exit_code).toBe(2);
    expect(summary.problem).toBe("Cortex API rejected the API key (401).");
  });

  it("exits 1 with the failure's own words when the run could not finish", () => {
    const summary = buildSummary({ ...clean, failure: "The poller failed 3 times in a row." });
    expect(summary).toMatchObject({ exit_code: 1, problem: "The poller failed 3 times in a row." });
  });

  it("does not exit 0 when --once stops with versions still queued, and says how many it left", () => {
    const stopped = buildSummary({ ...clean, counts: { ...clean.counts, left_in_queue: 4 } });
    expect(stopped.exit_code).toBe(3);
    expect(stopped.problem).toContain("--once stopped with 4 incident version(s) still queued");
    // A continuous run stopped with Ctrl-C leaves its queue on purpose.
    expect(
      buildSummary({ ...clean, once: false, counts: { ...clean.counts, left_in_queue: 4 } }),
    ).toMatchObject({ exit_code: 0, problem: null });
  });

  it("counts versions that end as not found, and does not exit 0 for them", () => {
    const summary = buildSummary({ ...clean, counts: { ...clean.counts, not_found: 2 } });
    expect(summary).toMatchObject({ not_found: 2, exit_code: 3 });
    expect(summary.problem).toContain(
      "2 queued version(s) were not archived: the Cortex API says the incident does not exist",
    );
    expect(formatSummary(summary)).toContain("left in queue 0, not found 2");
    // A failure outranks it.
    expect(
      buildSummary({ ...clean, failure: "x", counts: { ...clean.counts, not_found: 2 } }).exit_code,
    ).toBe(1);
  });

  it("prints every count a user checks, and the problem last", () => {
    const text = formatSummary(buildSummary({ ...clean, counts: { ...clean.counts, dead_lettered: 3 } }));
    expect(text).toContain("Summary (73.5 s)");
    expect(text).toContain("polled 12, enqueued 12, enriched 12, archived 12, notified 4");
    expect(text).toContain("dead-lettered 3, failed attempts 1, left in queue 0");
    expect(text).toContain("Cortex API calls 14 (throttled 1)");
    expect(text).toContain(
      "calls per endpoint: get_incidents 2, get_incident_extra_data 10, get_multiple_incidents_extra_data 2",
    );
    expect(text).toContain("archive copy: /tmp/incident-archive");
    expect(text.trimEnd().split("\n").at(-1)).toMatch(/^Problem: 3 message/);
  });

  it("reports an invocation that failed as a whole apart from failed records, its records as returned unfinished", () => {
    // A function timeout in a batch of five: one record was cut off, four were never started.
    const counts = { ...clean.counts, failed_attempts: 0, failed_invocations: 1, returned_unfinished: 5 };
    const text = formatSummary(buildSummary({ ...clean, counts }));
    expect(text).toContain(
      "failed attempts 0, invocations failed as a whole 1 (5 record(s) returned unfinished), left in queue 0",
    );
    expect(text).not.toMatch(/5 failed|failed attempts 5/);
    // Nothing went wrong for good: the records came back and were archived then.
    expect(buildSummary({ ...clean, counts }).exit_code).toBe(0);
    // And without any, the line reads as before.
    expect(formatSummary(buildSummary(clean))).not.toContain("failed as a whole");
  });

  it("writes the JSON with at least the counts the issue names, creating the folder", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "summary-"));
    try {
      const file = path.join(dir, "nested", "summary.json");
      await writeSummaryJson(file, buildSummary(clean));
      const json = JSON.parse(await readFile(file, "utf8"));
      for (const key of [
        "polled",
        "enqueued",
        "archived",
        "notified",
        "dead_lettered",
        "api_calls",
        "throttled",
      ]) {
        expect(json[key]).toBe(clean.counts[key as keyof typeof clean.counts]);
      }
      expect(json.exit_code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
