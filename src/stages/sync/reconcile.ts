/**
 * The full sync's reconcile, pure: two streams in id order — the source's records and the index's
 * ids and versions — merged one step at a time, so neither is ever held whole.
 *
 *   source a b   d e          index a b' c d         → a unchanged, b changed, c vanished, d unchanged, e new
 *
 * An index id is declared vanished only once the source has passed it (yielded a greater id) or
 * ended normally. If the source throws, the merge throws with it: ids not yet passed stay.
 */
import { SluiceError } from "../../errors.ts";
import type { SourceRecord } from "../../sources/types.ts";

export interface IndexEntry {
  id: string;
  /** The `_sluice_version` stored with the document; null when a document has none. */
  version: string | null;
}

/** What the merge needs of a source's record: its id and version (the record itself, or only those two). */
export type Versioned = Pick<SourceRecord, "id" | "version">;

export type ReconcileStep<R extends Versioned = SourceRecord> =
  | { kind: "new"; record: R }
  | { kind: "changed"; record: R }
  | { kind: "unchanged"; id: string }
  | { kind: "vanished"; id: string };

/**
 * Compares ids as their UTF-8 bytes, the order of Postgres `COLLATE "C"` and of Elasticsearch's
 * keyword sort. UTF-16 order is the same except that a surrogate (U+D800–DFFF, a character above
 * U+FFFF) sorts after U+E000–FFFF in UTF-8.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && Math.max(x, y) >= 0xe000) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Throws when a stream that must be in id order is not (a duplicate counts). */
async function* inOrder<T extends { id: string }>(items: AsyncIterable<T>, what: string): AsyncGenerator<T> {
  let last: string | null = null;
  for await (const item of items) {
    if (last !== null && compareIds(last, item.id) >= 0) {
      throw new SluiceError(`${what} gave id ${JSON.stringify(item.id)} after ${JSON.stringify(last)}, out of id order${last === item.id ? " (a duplicate id)" : ""}`, {
        hint: what.startsWith("the source") ? "make docs() yield ids in ascending byte order without duplicates, or set `ordered = false` so sluice sorts them" : "the index holds an id twice; rebuild it with `sluice run`",
      });
    }
    last = item.id;
    yield item;
  }
}

export async function* reconcile<R extends Versioned = SourceRecord>(source: AsyncIterable<R>, index: AsyncIterable<IndexEntry>): AsyncGenerator<ReconcileStep<R>> {
  const s = inOrder(source, "the source")[Symbol.asyncIterator]();
  const i = inOrder(index, "the index")[Symbol.asyncIterator]();
  let record = await s.next();
  let entry = await i.next();
  while (!record.done) {
    if (entry.done) {
      yield { kind: "new", record: record.value };
      record = await s.next();
      continue;
    }
    const order = compareIds(record.value.id, entry.value.id);
    if (order < 0) {
      yield { kind: "new", record: record.value };
      record = await s.next();
    } else if (order > 0) {
      // The source has passed this id without yielding it: it is gone upstream.
      yield { kind: "vanished", id: entry.value.id };
      entry = await i.next();
    } else {
      yield entry.value.version === record.value.version ? { kind: "unchanged", id: record.value.id } : { kind: "changed", record: record.value };
      record = await s.next();
      entry = await i.next();
    }
  }
  // The source ended normally: whatever the index holds beyond its last id is gone.
  while (!entry.done) {
    yield { kind: "vanished", id: entry.value.id };
    entry = await i.next();
  }
}
