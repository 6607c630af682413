// `npm run query -- [--archive DIR] [--json] NAME|"SQL"` and `--list`: the named queries (or any SQL) on the
// local archive copy with DuckDB. See local/query/README.md.
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { ARCHIVE_QUERIES, findArchiveQuery, querySql } from "../../functions/shared/archive-queries.ts";
import { ARCHIVE_TABLE } from "../../functions/shared/archive-table.ts";
import { DEFAULTS as RUNNER_DEFAULTS } from "../runner/options.ts";
import { ArchiveDatabase, ArchiveNotFoundError, ArchiveQueryError, type QueryResult } from "./archive-db.ts";

export interface QueryIo {
  stdout: Writable;
  stderr: Writable;
}

export const QueryExitCode = { ok: 0, failed: 1, usage: 2 } as const;

export const QUERY_HELP = `Usage: npm run query -- [--archive DIR] [--json] NAME|"SQL"
       npm run query -- --list

Runs a named query, or any SQL over the table ${ARCHIVE_TABLE}, on the local archive copy with DuckDB.
  --archive DIR   the archive copy (default ${RUNNER_DEFAULTS.outDir}, where npm start writes it)
  --json          print the rows as JSON, one object a line
  --list          print the named queries, one a line, name first
The same named queries are Athena named queries in the deployed stack's workgroup (local/query/README.md).
`;

/** One line per named query: its name, then what it answers. */
export function formatQueryList(): string {
  const width = Math.max(...ARCHIVE_QUERIES.map((query) => query.name.length));
  return ARCHIVE_QUERIES.map((query) => `${query.name.padEnd(width)}  ${query.description}\n`).join("");
}

const cellText = (value: unknown): string =>
  value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);

/** An aligned text table with a row count, as a terminal shows it. */
export function formatTable(result: QueryResult): string {
  const cells = result.rows.map((row) => result.columns.map((column) => cellText(row[column])));
  const widths = result.columns.map((column, i) =>
    Math.max(column.length, ...cells.map((row) => (row[i] ?? "").length)),
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  const count = `(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})`;
  return [line(result.columns), rule, ...cells.map(line), count].join("\n").concat("\n");
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      archive: { type: "string" },
      json: { type: "boolean" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
}

export async function runQueryCli(argv: readonly string[], io: QueryIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${QUERY_HELP}`);
    return QueryExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) return write(io.stdout, QUERY_HELP, QueryExitCode.ok);
  if (values.list) return write(io.stdout, formatQueryList(), QueryExitCode.ok);
  if (positionals.length !== 1)
    return write(io.stderr, `Give one query name or one SQL text.\n\n${QUERY_HELP}`, QueryExitCode.usage);
  const text = positionals[0] ?? "";
  const named = findArchiveQuery(text);
  if (named === undefined && /^[a-z0-9-]+$/.test(text)) {
    return write(
      io.stderr,
      `No named query "${text}". These are:\n${formatQueryList()}`,
      QueryExitCode.usage,
    );
  }
  const sql = named === undefined ? text : querySql(named, "duckdb");
  try {
    const database = await ArchiveDatabase.open(values.archive ?? RUNNER_DEFAULTS.outDir);
    try {
      const result = await database.query(sql);
      const output = values.json
        ? result.rows.map((row) => `${JSON.stringify(row)}\n`).join("")
        : formatTable(result);
      return write(io.stdout, output, QueryExitCode.ok);
    } finally {
      database.close();
    }
  } catch (error) {
    if (error instanceof ArchiveNotFoundError || error instanceof ArchiveQueryError)
      return write(io.stderr, `${error.message}\n`, QueryExitCode.failed);
    throw error;
  }
}

function write(stream: Writable, text: string, code: number): number {
  stream.write(text);
  return code;
}
