/**
 * The live index as sync sees it. Each document sync writes carries three fields beside its own:
 * `_sluice_id` (keyword: the id again, because sorting on `_id` is disallowed by default), the
 * source's `_sluice_version` and `_sluice_job` (the sync job that last wrote it). Reads go through a
 * point in time with `search_after`, a page at a time, so the index is never held whole.
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { whileReachable } from "../../adapters/elasticsearch.ts";
import type { IndexEntry } from "./reconcile.ts";

export const SYNC_FIELDS = {
  _sluice_id: { type: "keyword" },
  _sluice_version: { type: "keyword", index: false },
  _sluice_job: { type: "keyword" },
} as const;

const PAGE = 10_000;
const KEEP_ALIVE = "5m";

/** Adds the sync fields to the index's mapping (allowed even when the mapping is `dynamic: strict`). */
export async function ensureSyncFields(es: SearchClient, index: string): Promise<void> {
  await whileReachable(() => es.indices.putMapping({ index, properties: SYNC_FIELDS as never }));
}

/** Documents that no sync has stamped yet (an index built by `run`, or a sync cut short while stamping). */
export async function unstampedDocuments(es: SearchClient, index: string): Promise<number> {
  const res = await whileReachable(() => es.count({ index, query: { bool: { must_not: { exists: { field: "_sluice_id" } } } } }));
  return res.count;
}

interface Page {
  hits: { _id: string; sort?: unknown[]; fields?: Record<string, unknown[]> }[];
}

/** Every hit of `query`, sorted, through a point in time. */
async function* pages(es: SearchClient, index: string, query: Record<string, unknown>, sort: Record<string, unknown>[], fields: string[], signal: AbortSignal, withIds = false): AsyncGenerator<Page["hits"]> {
  // Reads through a point in time are tried again while the node cannot be reached (whileReachable);
  // a node that restarted has lost the point in time and answers so, which ends the sync.
  const pit = await whileReachable(() => es.openPointInTime({ index, keep_alive: KEEP_ALIVE }), signal);
  let id = pit.id;
  try {
    let after: unknown[] | undefined;
    for (;;) {
      const res = await whileReachable(() => es.search({
        pit: { id, keep_alive: KEEP_ALIVE },
        size: PAGE,
        query,
        sort: sort as never,
        _source: false,
        // No stored fields (not even _id) unless asked: the fetch phase then reads doc values only.
        ...(withIds ? {} : { stored_fields: "_none_" }),
        docvalue_fields: fields,
        track_total_hits: false,
        ...(after ? { search_after: after as never } : {}),
        filter_path: ["pit_id", "hits.hits._id", "hits.hits.sort", "hits.hits.fields"],
      } as never, { signal }), signal);
      id = res.pit_id ?? id;
      const hits = ((res.hits as { hits?: Page["hits"] } | undefined)?.hits ?? []) as Page["hits"];
      if (hits.length === 0) return;
      yield hits;
      after = hits.at(-1)!.sort;
      if (hits.length < PAGE) return;
    }
  } finally {
    await es.closePointInTime({ id }).catch(() => {});
  }
}

/**
 * The index's stamped ids and versions, a page at a time, in Elasticsearch's natural order
 * (`_shard_doc`, doc values only, no stored fields): each page costs the same however deep it is,
 * where a keyword sort with search_after scans the whole index again for every page. The caller
 * sorts them (through Postgres, scratch.ts).
 */
export async function* indexEntryPages(es: SearchClient, index: string, signal: AbortSignal): AsyncGenerator<IndexEntry[]> {
  for await (const hits of pages(es, index, { exists: { field: "_sluice_id" } }, [{ _shard_doc: "asc" }], ["_sluice_id", "_sluice_version"], signal)) {
    yield hits.map((hit) => ({ id: String(hit.fields!._sluice_id![0]), version: (hit.fields?._sluice_version?.[0] as string | undefined) ?? null }));
  }
}

/** Ids of documents this job did not write (every one, stamped or not), in no useful order. */
export async function* idsNotWrittenBy(es: SearchClient, index: string, job: number, signal: AbortSignal): AsyncGenerator<string> {
  for await (const hits of pages(es, index, { bool: { must_not: { term: { _sluice_job: String(job) } } } }, [{ _shard_doc: "asc" }], [], signal, true)) {
    for (const hit of hits) yield hit._id;
  }
}

/** The stored versions of some ids (absent ids are missing from the map). */
export async function storedVersions(es: SearchClient, index: string, ids: string[]): Promise<Map<string, string | null>> {
  const res = await whileReachable(() => es.mget({ index, ids, _source: ["_sluice_version"] }));
  const found = new Map<string, string | null>();
  for (const doc of res.docs as { _id: string; found?: boolean; _source?: { _sluice_version?: string } }[]) {
    if (doc.found) found.set(doc._id, doc._source?._sluice_version ?? null);
  }
  return found;
}
