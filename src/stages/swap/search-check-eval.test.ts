import { describe, expect, test } from "bun:test";
import { evaluateCheck, evaluateRankEval, searchCheckLines } from "./search-check-eval.ts";

describe("evaluateCheck", () => {
  test("minHits counts the new index's hits", () => {
    expect(evaluateCheck({ query: "cat", minHits: 5 }, { hits: 5, top: [] }, null).passed).toBe(true);
    expect(evaluateCheck({ query: "cat", minHits: 5 }, { hits: 4, top: [] }, null).failures).toEqual(["4 hits, fewer than 5"]);
  });
  test("expectId looks only within the top K, and says when live has it", () => {
    const check = { query: "cat", expectId: "b", withinTop: 2 };
    expect(evaluateCheck(check, { hits: 3, top: ["a", "b", "c"] }, null).passed).toBe(true);
    expect(evaluateCheck(check, { hits: 3, top: ["a", "c", "b"] }, { hits: 3, top: ["b"] }).failures).toEqual(["b not in the top 2 (live has it)"]);
  });
  test("minShareOfLive compares with live's hits; nothing live or nothing found live passes", () => {
    const check = { query: "cat", minShareOfLive: 0.9 };
    expect(evaluateCheck(check, { hits: 89, top: [] }, { hits: 100, top: [] }).failures).toEqual(["89 hits, 89% of live's 100 (needs 90%)"]);
    expect(evaluateCheck(check, { hits: 90, top: [] }, { hits: 100, top: [] }).passed).toBe(true);
    expect(evaluateCheck(check, { hits: 0, top: [] }, null).passed).toBe(true);
    expect(evaluateCheck(check, { hits: 0, top: [] }, { hits: 0, top: [] }).passed).toBe(true);
  });
  test("the name defaults to the query", () => {
    expect(evaluateCheck({ query: { match: { title: "cat" } }, minHits: 0 }, { hits: 0, top: [] }, null).name).toBe('{"match":{"title":"cat"}}');
  });
});

test("the table puts live beside new, with the expected id's rank", () => {
  const results = [
    evaluateCheck({ name: "cats", query: "cat", minHits: 5 }, { hits: 3, top: [] }, { hits: 40, top: [] }),
    evaluateCheck({ query: "dog", expectId: "d1", withinTop: 3 }, { hits: 9, top: ["x", "d1"] }, { hits: 9, top: ["d1"] }),
  ];
  expect(searchCheckLines(results)).toEqual([
    "CHECK  EXPECTS      LIVE    NEW     RESULT",
    "cats   ≥ 5 hits     40      3       FAILED: 3 hits, fewer than 5",
    "dog    d1 in top 3  9 (#1)  9 (#2)  ok",
  ]);
});

describe("evaluateRankEval", () => {
  test("minScore is a floor on the new index's score", () => {
    const check = { rankEval: "j.json", minScore: 0.8 };
    expect(evaluateRankEval(check, "precision", { hits: 0, top: [], score: 0.8 }, null).passed).toBe(true);
    expect(evaluateRankEval(check, "precision", { hits: 0, top: [], score: 0.6 }, null).failures).toEqual(["precision 0.6, below 0.8"]);
  });
  test("maxDropFromLive compares with live's score; nothing live passes", () => {
    const check = { rankEval: "j.json", maxDropFromLive: 0.05 };
    expect(evaluateRankEval(check, "dcg", { hits: 0, top: [], score: 0.7 }, { hits: 0, top: [], score: 0.75 }).passed).toBe(true);
    expect(evaluateRankEval(check, "dcg", { hits: 0, top: [], score: 0.6 }, { hits: 0, top: [], score: 0.75 }).failures).toEqual(["dcg 0.6, 0.15 below live's 0.75 (allows 0.05)"]);
    expect(evaluateRankEval(check, "dcg", { hits: 0, top: [], score: 0 }, null).passed).toBe(true);
  });
  test("the table shows the scores, live beside new", () => {
    const result = evaluateRankEval({ name: "judged", rankEval: "j.json", minScore: 0.8 }, "precision", { hits: 0, top: [], score: 0.5 }, { hits: 0, top: [], score: 0.9 });
    expect(searchCheckLines([result])[1]).toMatch(/^judged\s+precision ≥ 0.8\s+0.9\s+0.5\s+FAILED: precision 0.5, below 0.8$/);
  });
});
