/**
 * The source interface `sluice sync` reads from. The built-in `postgres` and `file` sources
 * implement it, and so does any class a `module` source names (`./sources/crm.ts:CrmSource`):
 *
 *   ping() → changed(state)? → docs() | docsSince(cursor) + deletedSince(cursor) → state()
 *
 * This file is part of the public module `"sluice"`: `import type { Source } from "sluice"`.
 */

/** One record of a source. */
export interface SourceRecord {
  /** Stable identity: the document's `_id` in the index. */
  id: string;
  /**
   * Changes whenever the record changes: a timestamp, a revision or a content hash. A full sync
   * rewrites a document only when its version differs from the one stored beside it in the index.
   */
  version: string;
  /** The record, handed to the dataset's `index.toDocument` (by default indexed as it is). */
  doc: Record<string, unknown>;
}

/** What a source remembers between syncs (JSON), stored in Postgres after each successful sync. */
export type SourceState = Record<string, unknown>;

/** An opaque position in a source's change stream (a timestamp, a sequence number), as text. */
export type SourceCursor = string;

export interface Source {
  /**
   * Whether `docs()` yields records in ascending `id` order, comparing ids as UTF-8 bytes
   * (Postgres `ORDER BY id COLLATE "C"`). A full sync merges the source with the index in that
   * order, so memory does not grow with the dataset. An unordered source (false) is spilled to a
   * Postgres table first and read back sorted: same result, one extra write of each record.
   */
  readonly ordered: boolean;

  /** Throws, naming what cannot be reached, when the source is unreachable. */
  ping(): Promise<void>;

  /**
   * Whether anything may have changed since `state`, what `state()` returned after the last
   * successful sync (null before the first). `false` skips the sync and the job says so; when in
   * doubt, return true.
   */
  changed(state: SourceState | null): Promise<boolean>;

  /** What to remember for the next `changed` call; read before the records. @default {} */
  state?(): Promise<SourceState>;

  /**
   * Every record, for a full sync. Deletions are decided only for ids the stream has passed: if it
   * throws or stops early, nothing it did not reach is deleted (and nothing at all is, since the
   * sync then fails before its deletions).
   */
  docs(signal: AbortSignal): AsyncIterable<SourceRecord>;

  /**
   * Optional, with `docsByIds`: every record's id and version alone, in the order of `docs()`, or
   * null when this source cannot give them cheaply. A full sync then compares these with the index
   * and reads whole only the records it finds new or changed (not used when sync rules are set,
   * which need the records). The versions must be exactly those `docs()` gives.
   */
  versions?(signal: AbortSignal): AsyncIterable<Pick<SourceRecord, "id" | "version">> | null;

  /** The records of `ids` that still exist, in any order (see `versions`). */
  docsByIds?(ids: string[], signal: AbortSignal): AsyncIterable<SourceRecord>;

  /**
   * Records changed after `cursor` (in any order), for an incremental sync; the generator's return
   * value is the cursor to store once the sync succeeds. Without it, `--incremental` is refused.
   */
  docsSince?(cursor: SourceCursor, signal: AbortSignal): AsyncGenerator<SourceRecord, SourceCursor, undefined>;

  /** Ids of records deleted after `cursor`, for an incremental sync. */
  deletedSince?(cursor: SourceCursor, signal: AbortSignal): AsyncIterable<string>;

  /**
   * The cursor a full sync leaves for the next incremental one, read before `docs()` so that changes
   * made while it reads are picked up next time. Null when the source has no changes yet.
   */
  cursor?(): Promise<SourceCursor | null>;

  /** Releases connections; called once the sync is over, whatever happened. */
  close?(): Promise<void>;
}

/** What a module source's export is given. */
export interface SourceContext {
  /** The dataset being synced. */
  dataset: string;
  /** The id field of its records (`table.key`). */
  key: string;
}
