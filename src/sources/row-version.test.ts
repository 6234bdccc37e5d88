import { expect, test } from "bun:test";
import { rowVersion } from "./postgres.ts";

test("a version column's value as row_to_json gives it: a string unquoted, anything else as JSON", () => {
  const row = { id: 1, updated_at: "2026-01-01T00:00:00.123456+00:00", rev: 7, gone: null };
  expect(rowVersion(row, "updated_at")).toBe("2026-01-01T00:00:00.123456+00:00");
  expect(rowVersion(row, "rev")).toBe("7");
  expect(rowVersion(row, "gone")).toBe("null");
});

test("without a version column, an MD5 of the row's JSON, which follows every field", () => {
  const a = rowVersion({ id: 1, title: "a" }, null);
  expect(a).toBe(new Bun.CryptoHasher("md5").update('{"id":1,"title":"a"}').digest("hex"));
  expect(rowVersion({ id: 1, title: "b" }, null)).not.toBe(a);
});
