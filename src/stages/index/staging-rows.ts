/**
 * Reads a staging table as one object per row, shaped as `row_to_json` shapes it, or, for a
 * projection dataset, as each row's document already in JSON (stagingDocuments). Plain COPY text
 * with the values decoded here costs the server about half what `row_to_json` does, and on a
 * machine shared with Elasticsearch that CPU goes to indexing instead.
 */
import { databaseFailure, ident, isDatabaseFailure, openDatabase, type Sql } from "../../adapters/postgres.ts";
import type { Readable } from "node:stream";
import { SluiceError } from "../../errors.ts";
import { untilAborted } from "../../retry.ts";
import { copyRowJson } from "../../transforms/copy-row-json.ts";
import { type CopyLineReader, copyRowReader, type JsonKeys, jsonKeysProblem, type TableColumn } from "../../transforms/copy-row-reader.ts";
import { CopyLineBuffer } from "../../transforms/copy-text.ts";

/** A table of keys whose rows are read with `mature: true` (Openverse's `api_mature<media>`), joined on `key`. */
export interface MatureJoin {
  table: string;
  key: string;
}

/** What to read of a staging table, beside the table itself. */
export interface StagingRead {
  /** The table's key column: always read, whatever `columns` says (as is a column named `mature`). */
  key: string;
  /** The columns to read (index.columns), null for every one; a name the table lacks is refused. */
  columns?: readonly string[] | null;
  mature?: MatureJoin | null;
  /**
   * A `WHERE … ORDER BY …` over the table's columns, to read one key range in key order
   * (scale-out workers, see stages/scale-out/key-ranges.ts); by default the whole table, unordered.
   */
  where?: string;
  /** index.jsonKeys: of these json columns, only these keys (transforms/copy-row-reader.ts). */
  jsonKeys?: JsonKeys | null;
}

export function stagingRows(api: Sql, databaseUrl: string, table: string, signal: AbortSignal, read: StagingRead): AsyncGenerator<Record<string, unknown>[]> {
  return stagingCopy(api, databaseUrl, table, signal, read, (columns) => copyRowReader(columns, ident, read.jsonKeys));
}

/**
 * The documents of a projection dataset (no `toDocument`: the row as `row_to_json` shapes it, plus
 * `id` from `key`), as JSON bytes straight from the COPY text (transforms/copy-row-json.ts). A
 * batch's `json` views are reused for the next batch: copy them (as the sink does) before asking for it.
 */
export function stagingDocuments(api: Sql, databaseUrl: string, table: string, signal: AbortSignal, read: StagingRead): AsyncGenerator<{ id: string; json: Uint8Array }[]> {
  return stagingCopy(api, databaseUrl, table, signal, read, (columns) => copyRowJson(columns, ident, read.key));
}

/** The table's columns in order, each with its type as `format_type` spells it. */
async function tableColumns(sql: Sql, table: string): Promise<TableColumn[]> {
  return (await sql`
    select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
    where attrelid = ${ident(table)}::regclass and attnum > 0 and not attisdropped order by attnum`) as unknown as TableColumn[];
}

/**
 * The one line for index.columns naming columns a table lacks (`subject` names the setting, `what`
 * the table), or null when every name is there. Shared by `sluice config check` and the index stage.
 */
export function lackingColumnsError(chosen: readonly string[] | null, available: readonly string[], subject: string, what: string): SluiceError | null {
  const lacking = chosen?.filter((name) => !available.includes(name)) ?? [];
  if (!lacking.length) return null;
  return new SluiceError(`${subject} names ${lacking.join(", ")}, which ${what} lacks`, {
    hint: `name only the table's columns (${available.join(", ")}) in index.columns, or leave it out to read them all`,
  });
}

/** Refuses index.columns naming a column the staging table lacks, or index.jsonKeys one that is not json, before anything is created for it (the reader checks again). */
export async function checkStagingColumns(sql: Sql, table: string, chosen: readonly string[] | null, jsonKeys: JsonKeys | null = null): Promise<void> {
  if (!chosen && !jsonKeys) return;
  const columns = await tableColumns(sql, table);
  const lacking = lackingColumnsError(chosen, columns.map((c) => c.name), "index.columns", `the staging table ${table}`);
  if (lacking) throw lacking;
  const keysProblem = jsonKeysProblem(chosen ? columns.filter((c) => chosen.includes(c.name)) : columns, jsonKeys, `the staging table ${table}`);
  if (keysProblem) throw jsonKeysError("index.jsonKeys", keysProblem);
}

/**
 * The one line for index.jsonKeys naming a column that is not json, or not read (`problem` from
 * jsonKeysProblem). Shared by `sluice config check` and the index stage.
 */
export function jsonKeysError(subject: string, problem: string): SluiceError {
  return new SluiceError(`${subject} ${problem}`, { hint: "name in index.jsonKeys only json or jsonb columns that index.columns reads" });
}

/** A COPY out of the table (its chosen columns, with the mature column, in `where`'s range), each line decoded by the reader made for its columns. */
async function* stagingCopy<T>(
  api: Sql,
  databaseUrl: string,
  table: string,
  signal: AbortSignal,
  { key, columns: chosen = null, mature = null, where = "", jsonKeys = null }: StagingRead,
  makeReader: (columns: TableColumn[]) => CopyLineReader<T>,
): AsyncGenerator<T[]> {
  // A connection of its own, ended afterwards: under Bun, postgres.js leaves a connection that
  // streamed a large COPY TO waiting forever on its next query.
  const sql = await untilAborted(openDatabase(databaseUrl, { variable: "DATABASE_URL", maxConnections: 1 }), signal).catch((error) => {
    // Mid-stage, a connection refused or cut while it opens is the server going away, not a wrong URL.
    const cause = (error as { cause?: unknown })?.cause;
    throw isDatabaseFailure(cause) ? databaseFailure(cause, databaseUrl, "DATABASE_URL", `read the staging table ${table}`) : error;
  });
  const unreadable = (error: unknown) =>
    new SluiceError(`reading the staging table ${table} failed: ${(error as Error).message}`, {
      hint: "run `sluice refresh` for a fresh generation, then index again; if it recurs, report it with this line",
      cause: error,
    });
  // Every await here also ends when the job aborts (the job's heartbeat aborts once it sees the lock
  // gone): whatever a restart between these queries leaves unsettled cannot hold the command.
  const setUp = async () => {
    const [backend] = await untilAborted(sql`select pg_backend_pid() as pid`, signal);
    const columns = await untilAborted(tableColumns(sql, table), signal);
    const lacking = lackingColumnsError(chosen, columns.map((c) => c.name), "index.columns", `the staging table ${table}`);
    if (lacking) throw lacking;
    let source = ident(table);
    // The key names each document; `mature` is the column sluice itself gives meaning to (below).
    let described = chosen ? columns.filter((c) => c.name === key || c.name === "mature" || chosen.includes(c.name)) : columns;
    if (mature) {
      // Openverse's indexer reads `EXISTS (… api_mature<media> …) AS mature` beside each row; a mature column of the row's own also counts.
      const own = columns.some((c) => c.name === "mature") ? "t.mature IS TRUE OR " : "";
      const listed = `EXISTS (SELECT 1 FROM ${ident(mature.table)} m WHERE m.${ident(mature.key)}::text = t.${ident(mature.key)}::text)`;
      const others = described.filter((c) => c.name !== "mature").map((c) => `t.${ident(c.name)}`);
      source = `(SELECT ${[...others, `(${own}${listed}) AS mature`].join(", ")} FROM ${ident(table)} t) AS rows`;
      described = [...described.filter((c) => c.name !== "mature"), { name: "mature", type: "boolean" }];
    }
    const keysProblem = jsonKeysProblem(described, jsonKeys, `the staging table ${table}`);
    if (keysProblem) throw jsonKeysError("index.jsonKeys", keysProblem);
    let reader: CopyLineReader<T>;
    try {
      // A table without its key column (table.key) cannot be read as documents.
      reader = makeReader(described);
    } catch (error) {
      throw unreadable(error);
    }
    const readable: Readable = await untilAborted(sql.unsafe(`COPY (SELECT ${reader.selectList} FROM ${source} ${where}) TO STDOUT`).readable(), signal);
    return { backend, reader, readable };
  };
  let setup: Awaited<ReturnType<typeof setUp>>;
  try {
    setup = await setUp();
  } catch (error) {
    await sql.end({ timeout: 0 });
    throw error;
  }
  const { backend, reader, readable } = setup;
  const onAbort = () => readable.destroy(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  /** A reader's decode, its failure reported as the table being unreadable. */
  const reported =
    <L>(decode: (line: L) => T) =>
    (line: L): T => {
      try {
        return decode(line);
      } catch (error) {
        throw unreadable(error);
      }
    };
  const decodeRow = reported(reader.decode);
  const decodeRowText = reader.decodeText && reported(reader.decodeText);
  const lines = new CopyLineBuffer();
  let finished = false;
  try {
    for await (const chunk of readable as AsyncIterable<Buffer>) {
      // One row per chunk, read as text straight from the chunk: no line view cut out of it (measured
      // ~0.5 µs a row less than the line buffer and TextDecoder).
      if (decodeRowText && lines.isWholeLine(chunk)) {
        reader.startBatch?.();
        yield [decodeRowText(chunk.toString("utf8", 0, chunk.length - 1))];
        continue;
      }
      const batch = lines.push(chunk);
      if (!batch.length) continue;
      // The previous batch is consumed: the consumer asked for this one.
      reader.startBatch?.();
      yield batch.map(decodeRow);
    }
    const last = lines.end();
    if (last) {
      reader.startBatch?.();
      yield [decodeRow(last)];
    }
    finished = true;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!finished) {
      readable.destroy();
      // The server may be blocked writing to a socket nobody reads, holding its lock on the
      // table that the rollback wants to drop: end it from another connection.
      await api`select pg_terminate_backend(${backend!.pid as number})`.catch(() => {});
    }
    await sql.end({ timeout: 0 });
  }
}
