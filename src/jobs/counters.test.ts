import { expect, test } from "bun:test";
import { countReason, emptyCounters, summarizeCounters, total } from "./counters.ts";

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
