import { expect, test } from "bun:test";
import { normalizeBundlePath } from "./paths.ts";

test("normalizes the way Pacifica joins subdir and name", () => {
  expect(normalizeBundlePath("data//a/b/foo.txt")).toEqual({ path: "data/a/b/foo.txt" });
  expect(normalizeBundlePath("./data/a/./b/")).toEqual({ path: "data/a/b" });
  expect(normalizeBundlePath("data/a/c/パソコン.xls")).toEqual({ path: "data/a/c/パソコン.xls" });
  // NFD (as macOS writes names) compares equal to NFC.
  expect(normalizeBundlePath("data/cafe\u0301.txt")).toEqual({ path: "data/caf\u00e9.txt" });
});

test("refuses paths that leave the bundle", () => {
  expect(normalizeBundlePath("../etc/passwd")).toEqual({ unsafe: "parent" });
  expect(normalizeBundlePath("data/a/../../x")).toEqual({ unsafe: "parent" });
  expect(normalizeBundlePath("data\\..\\x")).toEqual({ unsafe: "parent" });
  expect(normalizeBundlePath("/etc/passwd")).toEqual({ unsafe: "absolute" });
  expect(normalizeBundlePath("C:\\x")).toEqual({ unsafe: "absolute" });
  expect(normalizeBundlePath("a\0b")).toEqual({ unsafe: "nul" });
  expect(normalizeBundlePath("./")).toEqual({ unsafe: "empty" });
});
