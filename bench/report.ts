// Benchmark output: each benchmark returns a table; the runner prints them and writes BENCHMARKS.md.
import { cpus, totalmem } from "node:os";

export interface BenchTable {
  title: string;
  /** What was measured and how, in a sentence or two. */
  method: string;
  columns: string[];
  rows: (string | number)[][];
  /** Optional lines under the table: formulas, targets, verdicts. */
  notes?: string[];
}

/** A benchmark could not measure what it set out to (its setup broke); the message says what. */
export class BenchmarkError extends Error {
  constructor(message: string) {
    super(`Benchmark failed: ${message}`);
    this.name = "BenchmarkError";
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function machineDescription(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const memGiB = (totalmem() / 1024 ** 3).toFixed(0);
  return `${cpus().length} x ${cpu}, ${memGiB} GiB RAM, Node ${process.version} (${process.platform}/${process.arch})`;
}

function cell(value: string | number): string {
  return typeof value === "number" ? formatNumber(value) : value;
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function renderMarkdownTable(table: BenchTable): string {
  const header = `| ${table.columns.join(" | ")} |`;
  const rule = `| ${table.columns.map(() => "---").join(" | ")} |`;
  const body = table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`);
  return [header, rule, ...body].join("\n");
}

export function renderConsoleTable(table: BenchTable): string {
  const cells = [table.columns, ...table.rows.map((row) => row.map(cell))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? "").length)));
  const line = (row: string[]) => row.map((value, i) => String(value).padEnd(widths[i] ?? 0)).join("  ");
  return [
    `\n${table.title}`,
    line(cells[0] ?? []),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map(line),
    ...(table.notes ?? []).map((n) => `  ${n}`),
  ].join("\n");
}

export function renderBenchmarksMarkdown(tables: BenchTable[], date: Date): string {
  const sections = tables.map((table) =>
    [
      `## ${table.title}`,
      "",
      table.method,
      "",
      renderMarkdownTable(table),
      "",
      ...(table.notes ?? []).map((n) => `- ${n}`),
    ]
      .join("\n")
      .trimEnd(),
  );
  return [
    "# Benchmarks",
    "",
    `Written by \`npm run bench\` on ${date.toISOString()}.`,
    "",
    `Machine: ${machineDescription()}.`,
    "",
    ...sections.flatMap((s) => [s, ""]),
  ].join("\n");
}
