import { expect, test } from "bun:test";
import { compileRules, fieldValue } from "./rules.ts";

test("the first matching rule wins; no match includes", () => {
  const verdict = compileRules([
    { policy: "include", field: "license", equals: "cc0" },
    { policy: "exclude", field: "title", prefix: "draft" },
    { policy: "exclude", field: "size", gt: 100 },
  ]);
  expect(verdict({ license: "cc0", title: "draft x", size: 500 })).toEqual({ included: true, rule: 0 });
  expect(verdict({ license: "by", title: "draft x" })).toEqual({ included: false, rule: 1 });
  expect(verdict({ license: "by", title: "final", size: "500" })).toEqual({ included: false, rule: 2 });
  expect(verdict({ license: "by", title: "final", size: "99" })).toEqual({ included: true, rule: null });
  expect(verdict({})).toEqual({ included: true, rule: null });
});

test("each operator", () => {
  const one = (rule: Parameters<typeof compileRules>[0][0], doc: Record<string, unknown>) => compileRules([rule])(doc).included;
  expect(one({ policy: "exclude", field: "a", equals: 5 }, { a: "5" })).toBe(false);
  expect(one({ policy: "exclude", field: "a", equals: true }, { a: true })).toBe(false);
  expect(one({ policy: "exclude", field: "a", equals: "x" }, { a: "xy" })).toBe(true);
  expect(one({ policy: "exclude", field: "a", suffix: ".pdf" }, { a: "f.pdf" })).toBe(false);
  expect(one({ policy: "exclude", field: "a", contains: "secret" }, { a: "top secret file" })).toBe(false);
  expect(one({ policy: "exclude", field: "a", regex: "^\\d{4}-" }, { a: "2024-01" })).toBe(false);
  expect(one({ policy: "exclude", field: "a", regex: "^\\d{4}-" }, { a: "x2024-01" })).toBe(true);
  expect(one({ policy: "exclude", field: "a", lt: 10 }, { a: "9" })).toBe(false);
  expect(one({ policy: "exclude", field: "a", lt: 10 }, { a: "10" })).toBe(true);
  // Numbers compare as numbers, text as text (ISO dates order correctly as text).
  expect(one({ policy: "exclude", field: "a", gt: 9 }, { a: 10 })).toBe(false);
  expect(one({ policy: "exclude", field: "a", lt: "2024-06-01" }, { a: "2023-12-31T00:00:00Z" })).toBe(false);
  expect(one({ policy: "exclude", field: "a", lt: "2024-06-01" }, { a: "2024-07-01" })).toBe(true);
  // A missing field matches nothing.
  expect(one({ policy: "exclude", field: "a", lt: 10 }, {})).toBe(true);
});

test("dotted fields reach into objects", () => {
  expect(fieldValue({ meta: { license: "by" } }, "meta.license")).toBe("by");
  expect(fieldValue({ "meta.license": "flat" }, "meta.license")).toBe("flat");
  expect(fieldValue({ meta: null }, "meta.license")).toBeUndefined();
});
