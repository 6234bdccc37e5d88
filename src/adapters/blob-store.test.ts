import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode } from "../errors.ts";
import { blobDirError, DirectoryBlobStore, sha256Hex, sweepTemps } from "./blob-store.ts";

const root = mkdtempSync(join(tmpdir(), "sluice-blob-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const host = hostname().replace(/[^A-Za-z0-9.]/g, "_");

describe("DirectoryBlobStore", () => {
  test("put stores by sha256 and leaves no temp file behind", async () => {
    const store = new DirectoryBlobStore(join(root, "a"));
    expect(await store.prepare()).toEqual({ swept: 0 });
    const bytes = new TextEncoder().encode("<iati-activities/>");
    const sha = await store.put(bytes);
    expect(sha).toBe(sha256Hex(bytes));
    expect(await store.read(sha)).toEqual(bytes);
    expect(await store.put(bytes)).toBe(sha);
    expect(readdirSync(store.tempDir)).toEqual([]);
  });

  test("a directory that is a file is a configuration error naming the path", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "x");
    const store = new DirectoryBlobStore(join(file, "blobs"));
    const error = await store.prepare().catch((e) => e);
    expect(error.exitCode).toBe(ExitCode.usage);
    expect(error.toLine()).toBe(`SLUICE_BLOB_DIR (${join(file, "blobs")}) is not a directory: a file is in the way (ENOTDIR) (point SLUICE_BLOB_DIR at a directory, or move that file)`);
  });

  test("prepare sweeps temp files of dead processes on this host and old ones of other hosts, nothing else", async () => {
    const store = new DirectoryBlobStore(join(root, "b"));
    await store.prepare();
    const names = [`${host}-111-1`, `${host}-111-2`, `${host}-222-1`, "other.host-333-1", "other.host-444-1", "unrelated.txt"];
    for (const n of names) writeFileSync(join(store.tempDir, n), "partial");
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    utimesSync(join(store.tempDir, "other.host-333-1"), old, old);
    expect(await sweepTemps(store.tempDir, (pid) => pid === 222)).toBe(3);
    expect(readdirSync(store.tempDir).sort()).toEqual([`${host}-222-1`, "other.host-444-1", "unrelated.txt"].sort());
  });

  test("a real dead process's temp file is swept by prepare", async () => {
    const store = new DirectoryBlobStore(join(root, "c"));
    await store.prepare();
    const child = Bun.spawn(["true"]);
    await child.exited;
    writeFileSync(join(store.tempDir, `${host}-${child.pid}-7`), "half a payload");
    writeFileSync(join(store.tempDir, `${host}-${process.pid}-99`), "mine, in flight");
    expect(await store.prepare()).toEqual({ swept: 1 });
    expect(readdirSync(store.tempDir)).toEqual([`${host}-${process.pid}-99`]);
  });

  test("a namespace is written and deleted alone; the root's blobs (before namespaces) are still read", async () => {
    const dir = join(root, "ns");
    const mine = new DirectoryBlobStore(dir, "db1/datasets/a");
    const theirs = new DirectoryBlobStore(dir, "db1/datasets/b");
    const older = new DirectoryBlobStore(dir);
    const bytes = new TextEncoder().encode("<same/>");
    const sha = await mine.put(bytes);
    expect(await theirs.has(sha)).toBe(false);
    const staged = join(root, "ns-staged");
    writeFileSync(staged, bytes);
    expect(await theirs.putFile(staged, sha)).toBe(true);
    await mine.delete(sha);
    expect(await mine.has(sha)).toBe(false);
    expect(await theirs.read(sha)).toEqual(bytes);
    expect(existsSync(join(dir, "db1/datasets/b", sha.slice(0, 2), sha.slice(2, 4), sha))).toBe(true);

    const legacy = await older.put(new TextEncoder().encode("<stored before namespaces/>"));
    expect(await mine.has(legacy)).toBe(true);
    expect(new TextDecoder().decode(await mine.read(legacy))).toBe("<stored before namespaces/>");
    await mine.delete(legacy);
    expect(await older.has(legacy)).toBe(true);
  });

  test("a namespace that could reach outside the store is refused", () => {
    for (const bad of ["../x", "/abs", "a//b", "a/./b", "a b"]) expect(() => new DirectoryBlobStore(join(root, "x"), bad)).toThrow("is not a blob store namespace");
  });
});

describe("blobDirError", () => {
  const cases: [string, number, string][] = [
    ["ENOSPC", ExitCode.failure, "the blob store /b is out of space (ENOSPC: no space left on device)"],
    ["EROFS", ExitCode.usage, "SLUICE_BLOB_DIR (/b) is not writable (EROFS: read-only file system)"],
    ["EACCES", ExitCode.usage, "SLUICE_BLOB_DIR (/b) is not writable (EACCES: permission denied)"],
    ["ENOTDIR", ExitCode.usage, "SLUICE_BLOB_DIR (/b) is not a directory: a file is in the way (ENOTDIR)"],
  ];
  for (const [code, exit, message] of cases) {
    test(code, () => {
      const error = blobDirError(Object.assign(new Error(code), { code }), "/b", "write");
      expect(error.exitCode).toBe(exit as never);
      expect(error.message).toBe(message);
      expect(error.hint).toContain("SLUICE_BLOB_DIR");
    });
  }
});
