import { expect, test } from "bun:test";
import type { BundleFile } from "./metadata.ts";
import { checkFiles } from "./verify.ts";

const file = (path: string, hashsum: string, size = 4): BundleFile => ({
  path, subdir: "data", name: path.slice(5), size, hashtype: "sha1", hashsum, mimetype: "text/plain", ctime: null, mtime: null,
});
const foo = file("data/foo.txt", "f1d2d2f924e986ac86fdf7b36c94bcdf32beec15");
const bar = file("data/bar.txt", "e242ed3bffccdf271b7fbaf34ed72d089537b42f");

test("a complete, intact bundle has no problems", () => {
  const archived = new Map([
    ["data/foo.txt", { size: 4, digests: { sha1: foo.hashsum } }],
    ["data/bar.txt", { size: 4, digests: { sha1: bar.hashsum } }],
  ]);
  expect(checkFiles([foo, bar], archived)).toEqual([]);
});

test("names each missing, resized, corrupted and unlisted file", () => {
  const archived = new Map([
    ["data/foo.txt", { size: 4, digests: { sha1: bar.hashsum } }],
    ["data/extra.txt", { size: 1 }],
  ]);
  const resized = file("data/big.txt", foo.hashsum, 9);
  const problems = checkFiles([foo, bar, resized], new Map([...archived, ["data/big.txt", { size: 4 }]]));
  expect(problems.map((p) => [p.reason, p.path])).toEqual([
    ["hash_mismatch", "data/foo.txt"],
    ["missing_file", "data/bar.txt"],
    ["size_mismatch", "data/big.txt"],
    ["unlisted_file", "data/extra.txt"],
  ]);
  expect(problems[0]!.detail).toBe(`sha1 is ${bar.hashsum}, metadata.txt says ${foo.hashsum}`);
  expect(problems[2]!.detail).toBe("is 4 bytes in the tar, metadata.txt says 9");
});
