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
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { countDocuments, deleteIds, isIndexExists, type SearchClient, whileReachable } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { assertOwned } from "../../generations/owned-indices.ts";
import type { IndexOwner } from "../../generations/ownership.ts";

const DELETES_PER_REQUEST = 1000;

/**
 * The ids the index pass kept out of the twin, held in memory only up to `spillAt`: beyond that
 * they go to a temporary file (one JSON string a line), so that a pass over millions of rows with a
 * common term does not hold every kept-out id until the clone (it did: a string a document).
 */
export class KeptOutList {
  #held: string[] = [];
  #file: string | null = null;
  count = 0;

  constructor(private readonly spillAt = 10_000) {}

  add(id: string): void {
    this.#held.push(id);
    this.count++;
    if (this.#held.length >= this.spillAt) this.#spill();
  }

  /** Ids in memory now (at most `spillAt`). */
  get held(): number {
    return this.#held.length;
  }

  #spill(): void {
    if (this.#file === null) {
      const dir = mkdtempSync(join(tmpdir(), "sluice-kept-out-"));
      this.#file = join(dir, "ids.jsonl");
      // A pass that fails before the clone leaves nothing behind.
      process.once("exit", this.#onExit);
    }
    appendFileSync(this.#file, `${this.#held.map((id) => JSON.stringify(id)).join("\n")}\n`);
    this.#held = [];
  }

  /** The ids in the order added, `size` at a time. */
  async *batches(size: number): AsyncGenerator<string[]> {
    let batch: string[] = [];
    if (this.#file !== null) {
      const decoder = new TextDecoder();
      let rest = "";
      for await (const chunk of Bun.file(this.#file).stream()) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          batch.push(JSON.parse(line) as string);
          if (batch.length >= size) {
            yield batch;
            batch = [];
          }
        }
      }
    }
    for (const id of this.#held) {
      batch.push(id);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  readonly #onExit = (): void => this.discard();

  discard(): void {
    if (this.#file === null) return;
    process.off("exit", this.#onExit);
    rmSync(join(this.#file, ".."), { recursive: true, force: true });
    this.#file = null;
  }
}

export interface TwinOutcome {
  /** Documents in the twin once the kept-out ones are deleted. */
  documents: number;
  /** Kept-out ids that were in the full index (a document that failed to index is not). */
  deleted: number;
}

/**
 * Clones `full` into `twin` and deletes the kept-out documents from it.
 *
 * `serving`: the full index's replicas (load-settings.ts). A clone copies every setting of its
 * source except `number_of_replicas` and `auto_expand_replicas`, so without them the twin got
 * Elasticsearch's 1 replica whatever the body said (and a single-node cluster stayed yellow).
 * `retries`: the abort signal, and who hears the deletes' resends (deleteIds).
 */
export async function cloneFilteredTwin(
  es: SearchClient,
  full: string,
  twin: string,
  keptOut: KeptOutList,
  owner: IndexOwner,
  generation: number,
  serving: Partial<Record<"number_of_replicas" | "auto_expand_replicas", unknown>>,
  retries: { signal?: AbortSignal; onRetry?: (reason: string, ids: number) => void } = {},
): Promise<TwinOutcome> {
  const { signal } = retries;
  // Every call is tried again while the node restarts, as the rest of the index stage's are (whileReachable).
  const reachable = <T>(call: () => Promise<T>) => whileReachable(call, signal);
  // A twin left by an earlier attempt at this generation is ours to replace; anything else is refused.
  if (await reachable(() => assertOwned(es, twin, owner, "replace", { generation }))) await reachable(() => es.indices.delete({ index: twin }, { ignore: [404] }));
  await reachable(() => es.indices.putSettings({ index: full, settings: { "index.blocks.write": true } }));
  try {
    // The clone takes the full index's settings and mappings (with sluice's ownership mark); not its write block.
    const replicas = { number_of_replicas: serving.number_of_replicas, ...(serving.auto_expand_replicas !== undefined ? { auto_expand_replicas: serving.auto_expand_replicas } : {}) };
    let retried = false;
    await reachable(async () => {
      try {
        await es.indices.clone({ index: full, target: twin, settings: { "index.blocks.write": false, ...replicas } as Record<string, unknown>, wait_for_active_shards: 1 });
      } catch (error) {
        // A clone whose answer a restart cut may have landed: on the retry, a twin marked as ours is that clone.
        if (!(retried && isIndexExists(error) && (await assertOwned(es, twin, owner, "replace", { generation })))) throw error;
        await es.cluster.health({ index: twin, wait_for_active_shards: 1, timeout: "60s" });
      } finally {
        retried = true;
      }
    });
  } finally {
    await reachable(() => es.indices.putSettings({ index: full, settings: { "index.blocks.write": null } as Record<string, unknown> }));
  }
  let deleted = 0;
  for await (const ids of keptOut.batches(DELETES_PER_REQUEST)) {
    const outcome = await deleteIds(es, twin, ids, retries);
    deleted += outcome.deleted;
    const failed = Object.entries(outcome.failed);
    if (failed.length) {
      throw new SluiceError(`deleting ${failed.reduce((n, [, k]) => n + k, 0)} kept-out documents from the filtered index ${twin} failed (${failed.map(([reason, n]) => `${reason} ${n}`).join(", ")})`, {
        hint: "check Elasticsearch's logs, then run the index stage again",
      });
    }
  }
  await reachable(() => es.indices.refresh({ index: twin }));
  return { documents: await reachable(() => countDocuments(es, twin)), deleted };
}
