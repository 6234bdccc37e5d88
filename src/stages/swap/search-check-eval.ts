/**
 * Pure: whether a search check passes, from the new index's answer and live's, and the
 * side-by-side table that `swap` prints and `job show` shows.
 *
 *   { minHits: 5 } · new 3 hits, live 40 → failed: "3 hits, fewer than 5"
 */
import type { SearchCheckConfig } from "../../config/types.ts";
import { tableLines } from "../plan/diff-summary.ts";

/** What one index answered: total hits, and the ids of the first hits in order. */
export interface SearchAnswer {
  hits: number;
  top: string[];
  /** A rankEval check's `_rank_eval` metric score (hits and top are then 0 and empty). */
  score?: number;
}

export interface SearchCheckResult {
  name: string;
  /** What was expected, in words: "≥ 5 hits", "id abc in top 10", "≥ 90% of live's hits". */
  expects: string[];
  new: SearchAnswer;
  /** Null when nothing is live yet. */
  live: SearchAnswer | null;
  passed: boolean;
  /** Why it failed, one phrase per expectation missed. */
  failures: string[];
}

export function checkName(check: SearchCheckConfig): string {
  return check.name ?? check.rankEval ?? (typeof check.query === "string" ? check.query : JSON.stringify(check.query));
}

/**
 * A rankEval check, from the metric's score on the new index and on live's (same judgments).
 *
 *   { minScore: 0.8 } · precision new 0.6 → failed: "precision 0.6, below 0.8"
 */
export function evaluateRankEval(check: SearchCheckConfig, metric: string, fresh: SearchAnswer, live: SearchAnswer | null): SearchCheckResult {
  const expects: string[] = [];
  const failures: string[] = [];
  const score = fresh.score ?? 0;
  if (check.minScore !== undefined) {
    expects.push(`${metric} ≥ ${check.minScore}`);
    if (score < check.minScore) failures.push(`${metric} ${decimal(score)}, below ${check.minScore}`);
  }
  if (check.maxDropFromLive !== undefined) {
    expects.push(`${metric} ≤ ${check.maxDropFromLive} below live's`);
    // With nothing live there is no score to fall below. The epsilon absorbs float noise.
    const drop = live?.score === undefined ? 0 : live.score - score;
    if (drop > check.maxDropFromLive + 1e-9) failures.push(`${metric} ${decimal(score)}, ${decimal(drop)} below live's ${decimal(live!.score!)} (allows ${check.maxDropFromLive})`);
  }
  return { name: checkName(check), expects, new: fresh, live, passed: failures.length === 0, failures };
}

export function evaluateCheck(check: SearchCheckConfig, fresh: SearchAnswer, live: SearchAnswer | null): SearchCheckResult {
  const expects: string[] = [];
  const failures: string[] = [];
  const top = check.withinTop ?? 10;
  if (check.minHits !== undefined) {
    expects.push(`≥ ${check.minHits} hits`);
    if (fresh.hits < check.minHits) failures.push(`${fresh.hits} hits, fewer than ${check.minHits}`);
  }
  if (check.expectId !== undefined) {
    expects.push(`${check.expectId} in top ${top}`);
    const rank = fresh.top.slice(0, top).indexOf(check.expectId);
    if (rank === -1) failures.push(`${check.expectId} not in the top ${top}${live && live.top.slice(0, top).includes(check.expectId) ? " (live has it)" : ""}`);
  }
  if (check.minShareOfLive !== undefined) {
    expects.push(`≥ ${percent(check.minShareOfLive)} of live's hits`);
    // With nothing live, or live finding nothing, there is no share to fall short of.
    if (live && live.hits > 0 && fresh.hits < check.minShareOfLive * live.hits) {
      failures.push(`${fresh.hits} hits, ${percent(fresh.hits / live.hits)} of live's ${live.hits} (needs ${percent(check.minShareOfLive)})`);
    }
  }
  return { name: checkName(check), expects, new: fresh, live, passed: failures.length === 0, failures };
}

/**
 *   CHECK   EXPECTS     LIVE  NEW  RESULT
 *   cat     ≥ 5 hits    40    3    FAILED: 3 hits, fewer than 5
 */
export function searchCheckLines(results: SearchCheckResult[]): string[] {
  return tableLines(
    results.map((r) => ({
      check: r.name,
      expects: r.expects.join("; "),
      live: r.live === null ? "-" : rankNote(r.live.hits, r),
      new: rankNote(r.new.hits, r, true),
      result: r.passed ? "ok" : `FAILED: ${r.failures.join("; ")}`,
    })),
    ["check", "expects", "live", "new", "result"],
  );
}

/** Hits, and where the expected id ranks when one is expected: "12 (#3)". */
function rankNote(hits: number, r: SearchCheckResult, fresh = false): string {
  const score = (fresh ? r.new : r.live!).score;
  if (score !== undefined) return decimal(score);
  const id = r.expects.find((e) => e.includes(" in top "))?.split(" in top ")[0];
  if (!id) return String(hits);
  const answer = fresh ? r.new : r.live!;
  const rank = answer.top.indexOf(id);
  return `${hits} (${rank === -1 ? "id not in top" : `#${rank + 1}`})`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toLocaleString("en-US", { maximumFractionDigits: 1 })}%`;
}

function decimal(n: number): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: 4 });
}
