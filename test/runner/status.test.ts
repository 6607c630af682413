import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  backlogEtaSeconds,
  formatDuration,
  LogLinesView,
  renderStatusBlock,
  renderStatusLine,
  type StatusSnapshot,
  TerminalStatusView,
} from "../../local/runner/status.ts";

const status: StatusSnapshot = {
  cortex: "emulator http://127.0.0.1:40001 (xdr)",
  aws: "embedded http://127.0.0.1:40002",
  polled: 12,
  queued: 9,
  backlog: 7,
  enriched: 5,
  archived: 5,
  notified: 2,
  failed: 1,
  failedInvocations: 0,
  notStarted: 0,
  inDlq: 0,
  apiCallsLastMinute: 6,
  budgetPerMinute: 10,
  batch: undefined,
  throttled: 0,
  activeInvocations: 2,
  maxConcurrency: 2,
  nextPollInSeconds: 12.2,
  archiveDir: "/home/me/incident-archive",
  phase: "running",
};

class Capture extends Writable {
  text = "";
  columns = 200;
  override _write(chunk: Buffer, _encoding: string, callback: () => void) {
    this.text += chunk.toString();
    callback();
  }
}

describe("status view", () => {
  it("estimates the backlog at one extra-data call per message still to do, at the budget", () => {
    expect(backlogEtaSeconds(7, { budgetPerMinute: 10, batch: undefined })).toBe(42);
    expect(backlogEtaSeconds(1, { budgetPerMinute: 600, batch: undefined })).toBe(1);
    expect(formatDuration(42)).toBe("42s");
    expect(formatDuration(125)).toBe("2m05s");
    expect(formatDuration(7320)).toBe("2h02m");
  });

  it("estimates the backlog at one batch call per 100 messages in batch mode, and shows both budgets", () => {
    const batching = { ...status, backlog: 250, batch: { callsLastMinute: 2, budgetPerMinute: 10 } };
    expect(backlogEtaSeconds(250, batching)).toBe(18); // 3 calls at 10 a minute
    expect(renderStatusBlock(batching).join("\n")).toContain("API budget single 6/10, batch 2/10 per min");
    expect(renderStatusLine(batching)).toContain("api_budget=6/10/min batch_budget=2/10/min");
  });

  it("counts the change events written with --events-out, and says nothing of them without it", () => {
    expect(renderStatusBlock({ ...status, events: 4 }).join("\n")).toMatch(/notified\s+2\s+events\s+4/);
    expect(renderStatusLine({ ...status, events: 4 })).toContain("notified=2 events=4 failed=1");
    expect(renderStatusBlock(status).join("\n")).not.toContain("events");
    expect(renderStatusLine(status)).not.toContain("events");
  });

  it("shows every number the user watches in the block", () => {
    const text = renderStatusBlock(status).join("\n");
    for (const expected of [
      /polled\s+12/,
      /queued\s+9/,
      /in DLQ\s+0/,
      /enriched\s+5/,
      /archived\s+5/,
      /notified\s+2/,
      /failed\s+1/,
      /API budget 6\/10 per min/,
      /backlog ETA ~42s/,
      /next poll in 13s/,
      /Ctrl-C to stop/,
    ]) {
      expect(text).toMatch(expected);
    }
    expect(renderStatusBlock({ ...status, queued: 0, backlog: 0 }).join("\n")).toContain("queue empty");
    expect(renderStatusBlock({ ...status, phase: "draining" }).join("\n")).toContain("draining (--once)");
  });

  it("logs a status line only when the numbers changed, at most every statusEveryMs", () => {
    const out = new Capture();
    let now = Date.parse("2026-11-21T06:00:00Z");
    const view = new LogLinesView(out, { now: () => now, statusEveryMs: 10_000 });
    view.update(status);
    now += 1000;
    view.update({ ...status, enriched: 6 });
    now += 10_000;
    view.update({ ...status, enriched: 6 });
    now += 10_000;
    view.update({ ...status, enriched: 6 });
    view.event(["poll: 3 read", "second line"]);
    const lines = out.text.trimEnd().split("\n");
    expect(lines).toEqual([
      `2026-11-21T06:00:00.000Z ${renderStatusLine(status)}`,
      `2026-11-21T06:00:11.000Z ${renderStatusLine({ ...status, enriched: 6 })}`,
      "2026-11-21T06:00:21.000Z poll: 3 read",
      "                         second line",
    ]);
    expect(out.text).not.toContain("\x1b[");
  });

  it("on a terminal, prints events and other output above the block and redraws the block in place", () => {
    const out = new Capture();
    const err = new Capture();
    const view = new TerminalStatusView(out, { alsoIntercept: [err] });
    view.start();
    view.update(status);
    const blockHeight = renderStatusBlock(status).length;
    view.event("archived incidents/2026/11/21/1/1.json.gz");
    // Someone else's line (e.g. the Lambda code's logger) goes through the same terminal.
    out.write('{"level":"WARN","message":"slow"}\n');
    err.write("on stderr\n");
    view.close();

    const erase = `\x1b[${blockHeight}F\x1b[0J`;
    const afterLast = out.text.split(erase);
    // Erased before each of: the event, the foreign stdout line, the foreign stderr line.
    expect(afterLast).toHaveLength(4);
    expect(afterLast[1]?.startsWith("archived incidents/2026/11/21/1/1.json.gz\n")).toBe(true);
    expect(afterLast[2]?.startsWith('{"level":"WARN","message":"slow"}\n')).toBe(true);
    expect(err.text).toBe("on stderr\n");
    // The block is the last thing on screen.
    expect(afterLast[3]).toBe(`${renderStatusBlock(status).join("\n")}\n`);
    // After close() writes go straight through again.
    out.write("after\n");
    expect(out.text.endsWith(`${renderStatusBlock(status).join("\n")}\nafter\n`)).toBe(true);
  });

  it("cuts lines to the terminal width so the redraw count stays right", () => {
    const out = new Capture();
    out.columns = 40;
    const view = new TerminalStatusView(out);
    view.start();
    view.update(status);
    view.close();
    for (const line of out.text.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(39);
  });
});
