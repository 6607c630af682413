// The vocabulary's rules as the queries spell them in SQL must judge every value as the TypeScript does,
// run for real on DuckDB; and the CLI's list, errors and output, on a tiny archive written by archive.ts.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey } from "../../functions/shared/archive.ts";
import {
  ARCHIVE_QUERIES,
  effectiveSeveritySql,
  resolvedStatusSql,
  severityNameSql,
} from "../../functions/shared/archive-queries.ts";
import {
  effectiveSeverity,
  isResolvedStatus,
  normalizeSeverity,
} from "../../functions/shared/cortex/vocabulary.ts";
import { runQueryCli } from "../../local/query/cli.ts";

const SEVERITIES = [
  "critical",
  "HIGH",
  " medium ",
  "low",
  "informational",
  "info",
  "unknown",
  "SEV_050_CRITICAL",
  "SEV_010_INFO",
  "sev_040_high",
  "bogus",
  "",
];
const STATUSES = [
  "new",
  "under_investigation",
  "resolved",
  "resolved_false_positive",
  "RESOLVED_AUTO",
  "STATUS_025_RESOLVED",
  "STATUS_020_UNDER_INVESTIGATION",
  "unresolved",
  "resolvedx",
];

const literal = (value: string | null) => (value === null ? "CAST(NULL AS VARCHAR)" : `'${value}'`);

async function scalar(sql: string): Promise<unknown> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const rows = (await connection.runAndReadAll(`SELECT ${sql} AS v`)).getRowObjectsJson();
    return rows[0]?.v;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe("the vocabulary in SQL", () => {
  it("names severities as normalizeSeverity does, in every spelling", async () => {
    for (const value of SEVERITIES)
      expect(await scalar(severityNameSql(literal(value))), value).toBe(normalizeSeverity(value) ?? null);
  });

  it("judges the effective severity as effectiveSeverity does, manual severity over detection", async () => {
    for (const detected of ["low", "critical", "bogus", "SEV_030_MEDIUM"]) {
      for (const manual of [null, "high", "bogus", "informational", "SEV_050_CRITICAL"]) {
        const sql = effectiveSeveritySql(
          `{'severity': ${literal(detected)}, 'manual_severity': ${literal(manual)}}`,
        );
        const chosen = effectiveSeverity(detected, manual);
        expect(await scalar(sql), `${detected} / ${manual}`).toBe(normalizeSeverity(chosen) ?? chosen);
      }
    }
  });

  it("tells resolved statuses as isResolvedStatus does", async () => {
    for (const status of STATUSES)
      expect(await scalar(resolvedStatusSql(literal(status))), status).toBe(isResolvedStatus(status));
  });
});

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runQueryCli(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("npm run query", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "query-cli-"));
    const created = Date.UTC(2026, 10, 20, 23, 0);
    for (const [id, modified, severity] of [
      ["7", created, "low"],
      ["7", created + 60_000, "critical"],
      ["8", created, "high"],
    ] as const) {
      const key = archiveKey(id, created, modified);
      const reply = {
        incident: {
          incident_id: id,
          creation_time: created,
          modification_time: modified,
          severity,
          status: "new",
          hosts: ["WKS-1:abc"],
          Unknown_Field: 1,
        },
        alerts: { total_count: 0, data: [] },
      };
      await mkdir(path.dirname(path.join(dir, key)), { recursive: true });
      await writeFile(path.join(dir, key), gzipSync(JSON.stringify(reply)));
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("--list prints one named query a line, its name first", async () => {
    const { code, stdout } = await cli(["--list"]);
    expect(code).toBe(0);
    expect(
      stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.split(/\s+/)[0]),
    ).toEqual(ARCHIVE_QUERIES.map((q) => q.name));
  });

  it("runs a named query as an aligned table with a row count", async () => {
    const { code, stdout } = await cli(["--archive", dir, "latest-versions"]);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^incident_id\s+incident_name\s+severity\s+status/);
    expect(lines.slice(2, 4).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([
      ["7", "critical"],
      ["8", "high"],
    ]);
    expect(lines.at(-1)).toBe("(2 rows)");
  });

  it("runs any SQL over the table, the key's date as the partition column", async () => {
    const { code, stdout } = await cli([
      "--archive",
      dir,
      "--json",
      "SELECT creation_date, count(*) AS n FROM incident_versions GROUP BY 1",
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ creation_date: "2026/11/20", n: "3" });
  });

  it("names an unknown query and lists the real ones", async () => {
    const { code, stderr } = await cli(["--archive", dir, "criticals"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/No named query "criticals"[\s\S]*criticals-last-7-days/);
  });

  it("says to run npm start first when there is no archive copy", async () => {
    const { code, stderr } = await cli(["--archive", path.join(dir, "nothing-here"), "top-hosts"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/No archived incidents under .*nothing-here.*npm start -- --once/);
  });

  it("reports DuckDB's own message for bad SQL", async () => {
    const { code, stderr } = await cli(["--archive", dir, "SELECT no_such_column FROM incident_versions"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^The query failed: .*no_such_column/);
  });
});
