/**
 * The dataset's search checks (`swap.checks`), run against the new index and live's before the
 * alias moves. A query that cannot run counts as a failed check, so the generation stays ready.
 *
 *   check → _search on the new index and on live's (size K when an id is expected) → evaluateCheck
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import type { SearchCheckConfig } from "../../config/types.ts";
import { checkName, evaluateCheck, type SearchAnswer, type SearchCheckResult } from "./search-check-eval.ts";

export async function runSearchChecks(es: SearchClient, checks: SearchCheckConfig[], index: string, liveIndex: string | null): Promise<SearchCheckResult[]> {
  const results: SearchCheckResult[] = [];
  for (const check of checks) {
    const [fresh, live] = await Promise.all([answer(es, index, check), liveIndex ? answer(es, liveIndex, check) : null]);
    if (fresh instanceof Error || live instanceof Error) {
      const which = fresh instanceof Error ? `the new index ${index}` : `live's index ${liveIndex}`;
      const error = (fresh instanceof Error ? fresh : live) as Error;
      results.push({ name: checkName(check), expects: [], new: fresh instanceof Error ? { hits: 0, top: [] } : fresh, live: live instanceof Error ? null : live, passed: false, failures: [`the query failed on ${which}: ${error.message.split("\n")[0]}`] });
      continue;
    }
    results.push(evaluateCheck(check, fresh, live));
  }
  return results;
}

async function answer(es: SearchClient, index: string, check: SearchCheckConfig): Promise<SearchAnswer | Error> {
  const query = typeof check.query === "string" ? { query_string: { query: check.query } } : check.query;
  const size = check.expectId === undefined ? 0 : (check.withinTop ?? 10);
  try {
    const res = await es.search({ index, query, size, track_total_hits: true, _source: false });
    const total = res.hits.total;
    return { hits: typeof total === "number" ? total : (total?.value ?? 0), top: res.hits.hits.map((h) => String(h._id)) };
  } catch (error) {
    return error as Error;
  }
}
