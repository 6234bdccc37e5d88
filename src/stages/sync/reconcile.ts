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

function outOfOrder(what: string, last: string, id: string): SluiceError {
  return new SluiceError(`${what} gave id ${JSON.stringify(id)} after ${JSON.stringify(last)}, out of id order${last === id ? " (a duplicate id)" : ""}`, {
    hint: what.startsWith("the source") ? "make docs() yield ids in ascending byte order without duplicates, or set `ordered = false` so sluice sorts them" : "the index holds an id twice; rebuild it with `sluice run`",
  });
}

/** One side of the merge: its pages read one at a time, checked for id order as they are used. */
class PageCursor<T extends { id: string }> {
  #pages: AsyncIterator<T[]>;
  #page: T[] = [];
  #at = 0;
  #last: string | null = null;
  done = false;

  constructor(pages: AsyncIterable<T[]>, private readonly what: string) {
    this.#pages = pages[Symbol.asyncIterator]();
  }

  /** The current item, or undefined when the page is used up (then `fill`). */
  get current(): T | undefined {
    return this.#page[this.#at];
  }

  advance(): void {
    this.#at++;
  }

  /** The next page, asked for as soon as the one before arrived (its rejection is handled when it is awaited). */
  #ahead: Promise<IteratorResult<T[]>> | null = null;

  #next(): Promise<IteratorResult<T[]>> {
    const next = this.#ahead ?? this.#pages.next();
    this.#ahead = null;
    return next;
  }

  /**
   * Reads the next non-empty page; sets `done` at the end. The page after it is asked for at once,
   * so that the database reads it while this one is merged (a no-op resync waits on two cursors).
   */
  async fill(): Promise<void> {
    for (;;) {
      const next = await this.#next();
      if (next.done) {
        this.done = true;
        return;
      }
      this.#ahead = this.#pages.next();
      this.#ahead.catch(() => {});
      if (!next.value.length) continue;
      for (const item of next.value) {
        if (this.#last !== null && compareIds(this.#last, item.id) >= 0) throw outOfOrder(this.what, this.#last, item.id);
        this.#last = item.id;
      }
      this.#page = next.value;
      this.#at = 0;
      return;
    }
  }
}

/**
 * The merge over pages (arrays in id order), yielding its steps a batch at a time: one await per
 * page rather than several per record (each async generator hop is a promise and a result object),
 * which made a 100k no-op resync's merge its slowest part and ~90 MB of garbage a second.
 * Steps already decided are yielded before the next page is awaited, so a source that throws
 * leaves exactly the steps the per-record merge would have taken.
 */
export async function* reconcilePages<R extends Versioned = SourceRecord>(source: AsyncIterable<R[]>, index: AsyncIterable<IndexEntry[]>): AsyncGenerator<ReconcileStep<R>[]> {
  const s = new PageCursor(source, "the source");
  const i = new PageCursor(index, "the index");
  let steps: ReconcileStep<R>[] = [];
  const refill = async function* (side: PageCursor<R> | PageCursor<IndexEntry>) {
    if (steps.length) {
      yield steps;
      steps = [];
    }
    await side.fill();
  };
  await Promise.all([s.fill(), i.fill()]);
  while (!s.done) {
    const record = s.current;
    if (record === undefined) {
      yield* refill(s);
      continue;
    }
    if (i.done) {
      steps.push({ kind: "new", record });
      s.advance();
      continue;
    }
    const entry = i.current;
    if (entry === undefined) {
      yield* refill(i);
      continue;
    }
    const order = compareIds(record.id, entry.id);
    if (order < 0) {
      steps.push({ kind: "new", record });
      s.advance();
    } else if (order > 0) {
      // The source has passed this id without yielding it: it is gone upstream.
      steps.push({ kind: "vanished", id: entry.id });
      i.advance();
    } else {
      steps.push(entry.version === record.version ? { kind: "unchanged", id: record.id } : { kind: "changed", record });
      s.advance();
      i.advance();
    }
  }
  // The source ended normally: whatever the index holds beyond its last id is gone.
  while (!i.done) {
    const entry = i.current;
    if (entry === undefined) {
      yield* refill(i);
      continue;
    }
    steps.push({ kind: "vanished", id: entry.id });
    i.advance();
  }
  if (steps.length) yield steps;
}

async function* singletons<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of items) yield [item];
}

/** The merge one record at a time (reconcilePages over pages of one). */
export async function* reconcile<R extends Versioned = SourceRecord>(source: AsyncIterable<R>, index: AsyncIterable<IndexEntry>): AsyncGenerator<ReconcileStep<R>> {
  for await (const steps of reconcilePages(singletons(source), singletons(index))) yield* steps;
}

/**
 * Pages of `size` items from a stream of items; a page part-filled when the stream throws is
 * yielded before the error, so that no item read is held back.
 */
export async function* pagesOf<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let page: T[] = [];
  try {
    for await (const item of items) {
      page.push(item);
      if (page.length >= size) {
        yield page;
        page = [];
      }
    }
  } catch (error) {
    if (page.length) yield page;
    throw error;
  }
  if (page.length) yield page;
}
