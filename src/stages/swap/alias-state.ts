/**
 * Where a generation's aliases point now, asked of Elasticsearch after an `_aliases` call failed:
 * the connection may have dropped after Elasticsearch applied the move, or before it saw it.
 *
 *   every alias on exactly its index → "there";  none on it → "elsewhere";  no answer → "unknown"
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import type { IndexTarget } from "../../generations/names.ts";

/** Short: a dead Elasticsearch must not hold a swap for the client's two-minute default. */
const READ_TIMEOUT_MS = 10_000;

export type AliasPlacement = "there" | "elsewhere" | "unknown";

export async function aliasesPointAt(es: SearchClient, targets: IndexTarget[]): Promise<AliasPlacement> {
  let there = 0;
  let touching = 0;
  for (const target of targets) {
    const indices = await currentAliasTargets(es, target.alias).catch(() => null);
    if (indices === null) return "unknown";
    if (indices.length === 1 && indices[0] === target.index) there++;
    if (indices.includes(target.index)) touching++;
  }
  if (there === targets.length) return "there";
  // `_aliases` applies all its actions or none, so anything between is not a state it leaves.
  return touching === 0 ? "elsewhere" : "unknown";
}

/** The indices an alias points at ([] when it does not exist); throws when Elasticsearch does not answer. */
export async function currentAliasTargets(es: SearchClient, alias: string): Promise<string[]> {
  const res = await es.indices.getAlias({ name: alias }, { requestTimeout: READ_TIMEOUT_MS, ignore: [404], meta: true });
  if (res.statusCode === 404) return [];
  return Object.keys(res.body);
}
