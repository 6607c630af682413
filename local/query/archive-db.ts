// The local archive copy (`npm start --out`, the bucket's key layout) as the same table Athena has:
// a DuckDB view named as the Glue table, with its columns, its partition and Athena's "$path".
import { existsSync } from "node:fs";
import path from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { ARCHIVE_PREFIX } from "../../functions/shared/archive.ts";
import { DUCKDB_TRINO_MACROS } from "../../functions/shared/archive-queries.ts";
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_TABLE,
  CREATION_DATE_PARTITION,
  duckdbType,
} from "../../functions/shared/archive-table.ts";

/** The archive folder is missing or holds no archived object: nothing to query yet. */
export class ArchiveNotFoundError extends Error {
  constructor(dir: string) {
    super(
      `No archived incidents under ${dir}/${ARCHIVE_PREFIX}. Run \`npm start -- --once\` first (it copies the archive to ./incident-archive), or pass --archive DIR.`,
    );
    this.name = "ArchiveNotFoundError";
  }
}

/** DuckDB rejected or failed a query; the message is DuckDB's own (it names the line and the column). */
export class ArchiveQueryError extends Error {
  constructor(message: string) {
    super(`The query failed: ${message}`);
    this.name = "ArchiveQueryError";
  }
}

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** Every object of the key layout incidents/YYYY/MM/DD/<incident_id>/<modification_time>.json.gz. */
function archiveGlob(dir: string): string {
  return path.posix.join(path.resolve(dir).split(path.sep).join("/"), ARCHIVE_PREFIX, "*/*/*/*/*.json.gz");
}

function viewSql(dir: string): string {
  const columns = Object.entries(ARCHIVE_COLUMNS)
    .map(([name, type]) => `${name}: ${sqlString(duckdbType(type))}`)
    .join(", ");
  const { name, keyPattern } = CREATION_DATE_PARTITION;
  // A whole object is one JSON document; a 1,000-alert reply can pass DuckDB's 16 MB default.
  const source = `read_json(${sqlString(archiveGlob(dir))}, columns = {${columns}}, format = 'auto', filename = true, maximum_object_size = 268435456)`;
  return `CREATE OR REPLACE VIEW ${ARCHIVE_TABLE} AS
SELECT incident, alerts, network_artifacts, file_artifacts,
  regexp_extract(filename, ${sqlString(keyPattern)}, 1) AS ${name}, filename AS "$path"
FROM ${source}`;
}

export interface QueryResult {
  columns: string[];
  /** Values as JSON-friendly text/numbers (DuckDB's BIGINT comes back as a string, exactly). */
  rows: Record<string, unknown>[];
}

export class ArchiveDatabase {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.#instance = instance;
    this.#connection = connection;
  }

  /** An in-memory DuckDB with the archive under `dir` as the table; nothing is installed or downloaded. */
  static async open(dir: string): Promise<ArchiveDatabase> {
    if (!existsSync(path.join(dir, ARCHIVE_PREFIX))) throw new ArchiveNotFoundError(dir);
    const instance = await DuckDBInstance.create(":memory:", {
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
    });
    const connection = await instance.connect();
    const database = new ArchiveDatabase(instance, connection);
    try {
      // Athena's session time zone is UTC: dates and days come out the same on any machine.
      await connection.run("SET TimeZone = 'UTC'");
      for (const macro of DUCKDB_TRINO_MACROS) await connection.run(macro);
      await connection.run(viewSql(dir));
      return database;
    } catch (error) {
      database.close();
      if (/No files found/i.test((error as Error).message)) throw new ArchiveNotFoundError(dir);
      throw new ArchiveQueryError((error as Error).message);
    }
  }

  async query(sql: string): Promise<QueryResult> {
    try {
      const reader = await this.#connection.runAndReadAll(sql);
      return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() };
    } catch (error) {
      if (/No files found/i.test((error as Error).message)) throw new ArchiveNotFoundError("the archive");
      throw new ArchiveQueryError((error as Error).message);
    }
  }

  close(): void {
    this.#connection.closeSync();
    this.#instance.closeSync();
  }
}
