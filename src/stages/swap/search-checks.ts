/**
 * The dataset's search checks (`swap.checks`), run against the new index and live's before the
 * alias moves. A query that cannot run counts as a failed check, so the generation stays ready.
 *
 *   check → _search on the new index and on live's (size K when an id is expected) → evaluateCheck
 *   rankEval check → its judgment file → _rank_eval on both (ratings' _index set to each) → evaluateRankEval
 */
import { readFileSync } from "node:fs";
import type { estypes } from "@elastic/elasticsearch";
import { clusterModules, engineName, type SearchClient, whileReachable } from "../../adapters/elasticsearch.ts";
import type { SearchCheckConfig } from "../../config/types.ts";
import { ConfigError } from "../../errors.ts";
import { checkName, evaluateCheck, evaluateRankEval, type SearchAnswer, type SearchCheckResult } from "./search-check-eval.ts";

export async function runSearchChecks(es: SearchClient, checks: SearchCheckConfig[], index: string, liveIndex: string | null): Promise<SearchCheckResult[]> {
  const results: SearchCheckResult[] = [];
  let modules: Set<string> | undefined;
  for (const check of checks) {
    let run: (target: string) => Promise<SearchAnswer | Error>;
    let evaluate: (fresh: SearchAnswer, live: SearchAnswer | null) => SearchCheckResult;
    if (check.rankEval !== undefined) {
      const judgments = readJudgments(check.rankEval);
      modules ??= await clusterModules(es);
      if (!modules.has("rank-eval")) {
        const failure = `the cluster (${engineName(es.engine)}) lacks the rank-eval module, which rankEval checks need: point sluice at a cluster with rank-eval, or remove the check`;
        results.push({ name: checkName(check), expects: [], new: { hits: 0, top: [] }, live: null, passed: false, failures: [failure] });
        continue;
      }
      run = (target) => rankEvalAnswer(es, target, judgments);
      evaluate = (fresh, live) => evaluateRankEval(check, judgments.metricName, fresh, live);
    } else {
      run = (target) => searchAnswer(es, target, check);
      evaluate = (fresh, live) => evaluateCheck(check, fresh, live);
    }
    const [fresh, live] = await Promise.all([run(index), liveIndex ? run(liveIndex) : null]);
    if (fresh instanceof Error || live instanceof Error) {
      const which = fresh instanceof Error ? `the new index ${index}` : `live's index ${liveIndex}`;
      const error = (fresh instanceof Error ? fresh : live) as Error;
      results.push({ name: checkName(check), expects: [], new: fresh instanceof Error ? { hits: 0, top: [] } : fresh, live: live instanceof Error ? null : live, passed: false, failures: [`the query failed on ${which}: ${error.message.split("\n")[0]}`] });
      continue;
    }
    results.push(evaluate(fresh, live));
  }
  return results;
}

async function searchAnswer(es: SearchClient, index: string, check: SearchCheckConfig): Promise<SearchAnswer | Error> {
  const query = typeof check.query === "string" ? { query_string: { query: check.query } } : check.query;
  const size = check.expectId === undefined ? 0 : (check.withinTop ?? 10);
  try {
    // Reads: tried again while the node restarts, so that a cut keep-alive connection does not fail the swap.
    const res = await whileReachable(() => es.search({ index, query, size, track_total_hits: true, _source: false }));
    const total = res.hits.total;
    return { hits: typeof total === "number" ? total : (total?.value ?? 0), top: res.hits.hits.map((h) => String(h._id)) };
  } catch (error) {
    return error as Error;
  }
}

interface Judgments {
  requests: estypes.RankEvalRankEvalRequestItem[];
  metric: estypes.RankEvalRankEvalMetric;
  metricName: string;
}

/** The judgment file, in `_rank_eval`'s request format; a file that is not is the config's fault. */
function readJudgments(path: string): Judgments {
  const fix = "give a JSON file in _rank_eval's request format: { requests: [{ id, request: { query }, ratings: [{ _index, _id, rating }] }], metric: { precision: { k: 10 } } }";
  let parsed: { requests?: unknown; metric?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(`swap.checks rankEval ${path} cannot be read: ${(error as Error).message.split("\n")[0]}`, fix);
  }
  const requests = parsed?.requests;
  const metric = parsed?.metric;
  if (!Array.isArray(requests) || requests.length === 0 || !requests.every((r) => r && typeof r === "object" && Array.isArray(r.ratings))) {
    throw new ConfigError(`swap.checks rankEval ${path} has no requests with ratings`, fix);
  }
  if (!metric || typeof metric !== "object" || Object.keys(metric).length !== 1) {
    throw new ConfigError(`swap.checks rankEval ${path} must name one metric`, fix);
  }
  return { requests, metric, metricName: Object.keys(metric)[0]! };
}

async function rankEvalAnswer(es: SearchClient, index: string, judgments: Judgments): Promise<SearchAnswer | Error> {
  // The file's `_index` is a placeholder: the same judgments rate the new index and live's.
  const requests = judgments.requests.map((r) => ({ ...r, ratings: r.ratings.map((rating) => ({ ...rating, _index: index })) }));
  try {
    const res = await whileReachable(() => es.rankEval({ index, requests, metric: judgments.metric }));
    const failed = Object.entries(res.failures ?? {});
    if (failed.length) return new Error(`request ${failed[0]![0]}: ${JSON.stringify(failed[0]![1]).slice(0, 300)}`);
    return { hits: 0, top: [], score: res.metric_score };
  } catch (error) {
    return error as Error;
  }
}
