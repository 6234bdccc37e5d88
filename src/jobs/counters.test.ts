import { expect, test } from "bun:test";
import { countReason, emptyCounters, runCounters, summarizeCounters, total } from "./counters.ts";

test("counts reasons per section and summarizes them", () => {
  const c = emptyCounters();
  c.read = 1899;
  c.written = 1850;
  countReason(c, "skipped", "removed_from_source", 49);
  countReason(c, "cleaned", "tags_denylisted", 3);
  countReason(c, "cleaned", "tags_denylisted");
  expect(total(c.skipped)).toBe(49);
  expect(summarizeCounters(c)).toBe(
    "read 1,899 · written 1,850 · skipped 49 (removed_from_source 49) · failed 0 · cleaned (tags_denylisted 4)",
  );
});

test("a run's counts carry every stage's skipped and failed rows, by stage and reason", () => {
  const refresh = { ...emptyCounters(), read: 1899, written: 1370, skipped: { removed_from_source: 525 }, failed: { invalid_json: 4 }, cleaned: { tags_denylisted: 3 } };
  const index = { ...emptyCounters(), read: 1370, written: 1369, failed: { mapper_parsing_exception: 1 } };
  const swap = { ...emptyCounters(), read: 1369, written: 1369 };
  const steps = [{ stage: "refresh", counters: refresh }, { stage: "index", counters: index }, { stage: "swap", counters: swap }];
  expect(summarizeCounters(runCounters(steps))).toBe(
    "read 1,899 · written 1,369 · skipped 525 (refresh.removed_from_source 525) · failed 5 (refresh.invalid_json 4, index.mapper_parsing_exception 1)",
  );
  // A resumed run has no refresh step; what it read comes from the refresh job.
  expect(runCounters(steps.slice(1), 1899)).toMatchObject({ read: 1899, written: 1369, failed: { "index.mapper_parsing_exception": 1 } });
});
