/**
 * The built-in `postgres` sync source: the dataset's own upstream table or query in
 * UPSTREAM_DATABASE_URL, read through a server-side cursor in id order (`COLLATE "C"`, the byte
 * order the index's keyword sort uses), so neither side holds the table.
 *
 *   full:        SELECT key, row FROM … WHERE NOT removed ORDER BY key::text COLLATE "C"
 *   version:     rowVersion(row): the version column's JSON value, or an MD5 of the row's JSON
 *   incremental: … WHERE cursorColumn > $cursor            (next cursor: the greatest value seen)
 *   deletions:   rows flagged by removedColumn after the cursor; rows deleted outright leave the
 *                index at the next full sync (the reconcile), which an incremental one cannot see
 *
 * Caveat of any cursor column: a transaction that commits after a later one, with an older
 * `updated_at`, is missed by the incremental sync and caught by the next full one.
 *
 * A database failure while reading names UPSTREAM_DATABASE_URL (`#named`): the sync's own handler
 * would take a driver error for the API database's.
 */
import { databaseFailure, ident, isDatabaseFailure, isServerAway, openDatabase, type Sql } from "../adapters/postgres.ts";
import type { Dataset, PostgresSourceConfig } from "../config/types.ts";
import { SluiceError } from "../errors.ts";
import { qualifiedName } from "../stages/refresh/upstream.ts";
import type { Source, SourceCursor, SourceRecord, SourceState } from "./types.ts";

const BATCH_ROWS = 2000;

/**
 * A row's version, computed from its `row_to_json` object rather than in SQL, so that the index
 * stage can stamp a first generation built from the staging table (the same rows, decoded to the
 * same objects by copy-row-reader.ts) with exactly the versions this source yields.
 *
 *   versionColumn updated_at: {updated_at: "2026-01-01T00:00:00+00:00", …} → "2026-01-01T00:00:00+00:00"
 *   no versionColumn:        {id: 1, title: "a"}                          → md5 of '{"id":1,"title":"a"}'
 */
export function rowVersion(row: Record<string, unknown>, versionColumn: string | null): string {
  if (versionColumn) {
    const value = row[versionColumn];
    return typeof value === "string" ? value : JSON.stringify(value ?? null);
  }
  // The static hash: no hasher object a row (a quarter less CPU than `new CryptoHasher`, same digest).
  return Bun.CryptoHasher.hash("md5", JSON.stringify(row), "hex") as unknown as string;
}

export class PostgresSource implements Source {
  readonly ordered = true;
  #sql: Sql | null = null;

  constructor(
    private readonly dataset: Dataset,
    private readonly source: PostgresSourceConfig,
    private readonly url: string,
  ) {}

  async #db(): Promise<Sql> {
    this.#sql ??= await openDatabase(this.url, { variable: "UPSTREAM_DATABASE_URL", maxConnections: 2 });
    return this.#sql;
  }

  get #from(): string {
    return this.source.table ? qualifiedName(this.source.table) : `(${this.source.query}) AS upstream_query`;
  }

  get #key(): string {
    return `(t.${ident(this.dataset.table.key)})::text`;
  }

  get #notRemoved(): string {
    return this.source.removedColumn ? `t.${ident(this.source.removedColumn)} IS NOT TRUE` : "TRUE";
  }


  get #cursorColumn(): string | null {
    return this.dataset.sync.cursorColumn ? `t.${ident(this.dataset.sync.cursorColumn)}` : null;
  }

  /** A driver error as one line naming UPSTREAM_DATABASE_URL; anything else as it is. */
  #named(error: unknown): unknown {
    if (error instanceof SluiceError || !isDatabaseFailure(error)) return error;
    return databaseFailure(error, this.url, "UPSTREAM_DATABASE_URL", `read the sync source of dataset ${this.dataset.name}`);
  }

  /** `records`, with a database failure named (#named). */
  async *#namedFailures<T, R>(records: AsyncGenerator<T, R, undefined>): AsyncGenerator<T, R, undefined> {
    try {
      return yield* records;
    } catch (error) {
      throw this.#named(error);
    }
  }

  async ping(): Promise<void> {
    const sql = await this.#db();
    try {
      await sql.unsafe(`SELECT 1 FROM ${this.#from} t LIMIT 0`);
    } catch (error) {
      if (isServerAway(error)) throw this.#named(error);
      throw new SluiceError(`the sync source of dataset ${this.dataset.name} cannot be read in UPSTREAM_DATABASE_URL: ${(error as Error).message}`, {
        hint: "check source.table / source.query in the dataset config",
      });
    }
  }

  /** Changed when the row count or the greatest cursor value moved (every row counts, removed or not). */
  async changed(state: SourceState | null): Promise<boolean> {
    // Without a cursor column an update cannot be seen in the counts: always changed, and no scan.
    if (!state || !this.#cursorColumn) return true;
    const now = await this.state();
    return now.rows !== state.rows || now.cursor !== state.cursor;
  }

  async state(): Promise<SourceState> {
    const sql = await this.#db();
    const cursor = this.#cursorColumn ? `max(${this.#cursorColumn})::text` : "NULL";
    const [row] = await sql.unsafe(`SELECT count(*)::bigint::text AS rows, ${cursor} AS cursor FROM ${this.#from} t`).catch((error) => {
      throw this.#named(error);
    });
    return { rows: row?.rows ?? "0", cursor: row?.cursor ?? null };
  }

  async cursor(): Promise<SourceCursor | null> {
    if (!this.#cursorColumn) return null;
    return ((await this.state()).cursor as string | null) ?? null;
  }

  docs(signal: AbortSignal): AsyncIterable<SourceRecord> {
    return this.#namedFailures(this.#read(`WHERE ${this.#notRemoved} ORDER BY ${this.#key} COLLATE "C"`, [], signal));
  }

  /**
   * With a version column, ids and versions without building each row's JSON: the value's JSON text,
   * as rowVersion gives it (a string unquoted). Without one the version is a hash of the whole row,
   * so there is nothing cheaper than docs(): null.
   */
  versions(signal: AbortSignal): AsyncIterable<{ id: string; version: string }> | null {
    const column = this.dataset.sync.versionColumn;
    if (!column) return null;
    const value = `to_json(t.${ident(column)})`;
    const version = `CASE WHEN json_typeof(${value}) = 'string' THEN ${value} #>> '{}' ELSE coalesce(${value}::text, 'null') END`;
    const query = `SELECT ${this.#key} AS id, ${version} AS version FROM ${this.#from} t WHERE ${this.#notRemoved} ORDER BY ${this.#key} COLLATE "C"`;
    const db = () => this.#db();
    return this.#namedFailures(
      (async function* () {
        const sql = await db();
        for await (const rows of sql.unsafe(query).cursor(10_000)) {
          yield* rows as unknown as { id: string; version: string }[];
          if (signal.aborted) return;
        }
      })(),
    );
  }

  docsByIds(ids: string[], signal: AbortSignal): AsyncIterable<SourceRecord> {
    return this.#namedFailures(this.#docsByIds(ids, signal));
  }

  async *#docsByIds(ids: string[], signal: AbortSignal): AsyncGenerator<SourceRecord> {
    const sql = await this.#db();
    // Compared in the key's own type, so that its index is used.
    this.#keyType ??= ((await sql.unsafe(`SELECT pg_typeof(t.${ident(this.dataset.table.key)})::text AS type FROM ${this.#from} t LIMIT 1`))[0]?.type as string | undefined) ?? "text";
    yield* this.#read(`WHERE ${this.#notRemoved} AND t.${ident(this.dataset.table.key)} = ANY($1::text[]::${this.#keyType}[])`, [ids as never], signal);
  }

  #keyType: string | null = null;

  docsSince(cursor: SourceCursor, signal: AbortSignal): AsyncGenerator<SourceRecord, SourceCursor, undefined> {
    return this.#namedFailures(this.#docsSince(cursor, signal));
  }

  async *#docsSince(cursor: SourceCursor, signal: AbortSignal): AsyncGenerator<SourceRecord, SourceCursor, undefined> {
    const bound = await this.#cursorBound();
    if (!bound) return cursor;
    const sql = await this.#db();
    const [{ greater } = { greater: null }] = await sql.unsafe(`SELECT max(${bound.column})::text AS greater FROM ${this.#from} t WHERE ${bound.column} > ${bound.param(1)}`, [cursor]);
    if (greater === null) return cursor;
    // Up to the greatest value seen now: rows changed while this reads are left for the next sync.
    yield* this.#read(`WHERE ${this.#notRemoved} AND ${bound.column} > ${bound.param(1)} AND ${bound.column} <= ${bound.param(2)}`, [cursor, greater as string], signal);
    return greater as string;
  }

  /**
   * The cursor column and how to pass a stored cursor back: as text cast to the column's own type
   * in SQL. (A parameter the driver sees as a timestamp goes through a JavaScript Date and loses
   * its microseconds, which would re-read the last rows forever.) Null for an empty source.
   */
  async #cursorBound(): Promise<{ column: string; param(n: number): string } | null> {
    const column = this.#requireCursorColumn();
    const sql = await this.#db();
    const [row] = await sql.unsafe(`SELECT pg_typeof(${column})::text AS type FROM ${this.#from} t LIMIT 1`);
    if (!row) return null;
    return { column, param: (n) => `$${n}::text::${row.type as string}` };
  }

  deletedSince(cursor: SourceCursor, signal: AbortSignal): AsyncIterable<string> {
    return this.#namedFailures(this.#deletedSince(cursor, signal));
  }

  async *#deletedSince(cursor: SourceCursor, signal: AbortSignal): AsyncGenerator<string> {
    if (!this.source.removedColumn) return;
    const bound = await this.#cursorBound();
    if (!bound) return;
    const sql = await this.#db();
    const query = `SELECT ${this.#key} AS id FROM ${this.#from} t WHERE t.${ident(this.source.removedColumn)} IS TRUE AND ${bound.column} > ${bound.param(1)}`;
    for await (const rows of sql.unsafe(query, [cursor]).cursor(BATCH_ROWS)) {
      for (const row of rows) yield row.id as string;
      if (signal.aborted) return;
    }
  }

  async close(): Promise<void> {
    await this.#sql?.end({ timeout: 2 });
    this.#sql = null;
  }

  #requireCursorColumn(): string {
    const column = this.#cursorColumn;
    if (!column) {
      throw new SluiceError(`dataset ${this.dataset.name} has no sync.cursorColumn, so it cannot be synced incrementally`, {
        hint: "set sync.cursorColumn to a column that grows when a row changes (e.g. updated_at), or run `sluice sync --full`",
      });
    }
    return column;
  }

  /** The rows `where` selects; the public methods name its failures (#namedFailures). */
  async *#read(where: string, params: unknown[], signal: AbortSignal): AsyncGenerator<SourceRecord> {
    const sql = await this.#db();
    const query = `SELECT ${this.#key} AS id, row_to_json(t) AS doc FROM ${this.#from} t ${where}`;
    const versionColumn = this.dataset.sync.versionColumn;
    for await (const rows of sql.unsafe(query, params as never[]).cursor(BATCH_ROWS)) {
      for (const row of rows) {
        const doc = row.doc as Record<string, unknown>;
        yield { id: row.id as string, version: rowVersion(doc, versionColumn), doc };
      }
      if (signal.aborted) return;
    }
  }
}
