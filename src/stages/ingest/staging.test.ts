import { afterAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshStagingDir, stageFile } from "./staging.ts";

const root = await mkdtemp(join(tmpdir(), "sluice-staging-test-"));
afterAll(() => rm(root, { recursive: true, force: true }));

test("removes staging left by a dead process, keeps a live one's", async () => {
  const dead = Bun.spawnSync(["true"]).pid;
  await mkdir(join(root, `ingest-${dead}-1`));
  await mkdir(join(root, `ingest-${process.pid}-2`));
  await mkdir(join(root, "unrelated"));
  const dir = await freshStagingDir(root, 3);
  expect(dir).toBe(join(root, `ingest-${process.pid}-3`));
  expect((await readdir(root)).sort()).toEqual([`ingest-${process.pid}-2`, `ingest-${process.pid}-3`, "unrelated"]);
});

test("stages a stream with its sha256 and the asked-for digests", async () => {
  async function* chunks() {
    yield new TextEncoder().encode("fo");
    yield new TextEncoder().encode("o\n");
  }
  const staged = await stageFile(chunks(), join(root, "f"), ["sha1", "md5"], new AbortController().signal);
  expect(staged).toMatchObject({ size: 4, sha256: "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c" });
  expect(staged.digests).toEqual({ sha1: "f1d2d2f924e986ac86fdf7b36c94bcdf32beec15", md5: "d3b07384d113edec49eaa6238ad5ff00", sha256: staged.sha256 });
  expect(await Bun.file(join(root, "f")).text()).toBe("foo\n");
});
