/**
 * The filtered twin of an index, made once the full index is built and refreshed: Elasticsearch
 * clones the full index (its segments are hard-linked, so no document is indexed twice), then the
 * documents the same pass found holding a sensitive term are deleted from the clone by id.
 *
 *   full <alias>-gN (write-blocked for the clone) --_clone--> <alias>-<suffix>-gN --bulk delete kept-out ids
 *
 * Openverse built its twin with a second `_reindex` filtered by a `must_not` of every term: every
 * document analysed again (99% CPU until throttled) and a query past `too_many_clauses`. Here the
 * twin costs a clone and one delete per document kept out.
 */
import { countDocuments, type SearchClient } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { assertOwned } from "../../generations/owned-indices.ts";
import type { IndexOwner } from "../../generations/ownership.ts";

const DELETES_PER_REQUEST = 1000;

export interface TwinOutcome {
  /** Documents in the twin once the kept-out ones are deleted. */
  documents: number;
  /** Kept-out ids that were in the full index (a document that failed to index is not). */
  deleted: number;
}

export async function cloneFilteredTwin(es: SearchClient, full: string, twin: string, keptOut: readonly string[], owner: IndexOwner, generation: number): Promise<TwinOutcome> {
  // A twin left by an earlier attempt at this generation is ours to replace; anything else is refused.
  if (await assertOwned(es, twin, owner, "replace", { generation })) await es.indices.delete({ index: twin });
  await es.indices.putSettings({ index: full, settings: { "index.blocks.write": true } });
  try {
    // The clone takes the full index's settings and mappings (with sluice's ownership mark); not its write block.
    await es.indices.clone({ index: full, target: twin, settings: { "index.blocks.write": false }, wait_for_active_shards: 1 });
  } finally {
    await es.indices.putSettings({ index: full, settings: { "index.blocks.write": null } as Record<string, unknown> });
  }
  let deleted = 0;
  for (let at = 0; at < keptOut.length; at += DELETES_PER_REQUEST) {
    const ids = keptOut.slice(at, at + DELETES_PER_REQUEST);
    const res = await es.bulk({ operations: ids.map((id) => ({ delete: { _index: twin, _id: id } })) });
    for (const item of res.items) {
      const outcome = item.delete!;
      if (outcome.status === 200) deleted++;
      else if (outcome.status !== 404) {
        throw new SluiceError(`deleting document ${outcome._id} from the filtered index ${twin} failed: ${outcome.error?.reason ?? `HTTP ${outcome.status}`}`, {
          hint: "check Elasticsearch's logs, then run the index stage again",
        });
      }
    }
  }
  await es.indices.refresh({ index: twin });
  return { documents: await countDocuments(es, twin), deleted };
}
