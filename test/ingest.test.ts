/**
 * `sluice ingest`: Pacifica bundles against the real Postgres and a blob directory. A good bundle is
 * stored with exact rows and blobs, once; every bad or hostile one is refused with its reason, its
 * job failed, and nothing of it published.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blobFile } from "./support/blobs.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";
import { proxiedDatabase } from "./support/tcp-proxy.ts";
import { DATA_FILES, type Entry, fixtureBytes, goodEntries, goodMetadata, listTar, PACIFICA, tarCli, writeTar, XLS } from "./support/bundles.ts";

let t: TestEnvironment;
let dir: string;
let blobDir: string;

beforeAll(async () => {
  t = await createTestEnvironment("ingest");
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  dir = await mkdtemp(join(tmpdir(), "sluice-ingest-"));
  blobDir = join(dir, "blobs");
  process.env.SLUICE_BLOB_DIR = blobDir;
});

afterAll(async () => {
  delete process.env.SLUICE_BLOB_DIR;
  await rm(dir, { recursive: true, force: true });
  await t.drop();
});

const sha = (algorithm: "sha1" | "sha256", bytes: string | Uint8Array) => new Bun.CryptoHasher(algorithm).update(bytes).digest("hex");

async function lastJob() {
  const [job] = await t.api`select * from sluice.jobs order by id desc limit 1`;
  return job!;
}

/** Blob files in the store (staging excluded), sorted. */
async function blobs(): Promise<string[]> {
  const all = await readdir(blobDir, { recursive: true }).catch(() => [] as string[]);
  return all.filter((p) => /[0-9a-f]{64}$/.test(p) && !p.startsWith(".staging")).sort();
}

async function published() {
  const [row] = await t.api`
    select (select count(*)::int from sluice.bundles) as bundles,
           (select count(*)::int from sluice.bundle_key_values) as key_values,
           (select count(*)::int from sluice.bundle_files) as files`;
  return row!;
}

async function stagingLeft(): Promise<string[]> {
  return readdir(join(blobDir, ".staging")).catch(() => []);
}

/** The good bundle under another project, with one more file (data/a/b/`file`) holding `content`. */
async function goodTarWith(tarName: string, project: string, file: string, content: string): Promise<string> {
  const metadata = await goodMetadata((items) => {
    items[1].value = project;
    items.push({ ...items[6], name: file, size: content.length, hashsum: sha("sha1", content) });
  });
  return writeTar(join(dir, tarName), [...(await goodEntries(metadata)), { name: `data/a/b/${file}`, body: content }]);
}

/** The good fixture bundle as the tar CLI writes it (GNU format, directories included). */
async function goodTarByCli(name: string, format = "gnu"): Promise<string> {
  const root = join(dir, `src-${name}`);
  await cp(join(PACIFICA, "data"), join(root, "data"), { recursive: true });
  await writeFile(join(root, "metadata.txt"), await goodMetadata());
  const path = join(dir, name);
  await tarCli(root, `--format=${format}`, "-cf", path, "metadata.txt", "data");
  return path;
}

describe("a good bundle", () => {
  test("is accepted: exact rows, one blob per distinct content, a succeeded job", async () => {
    const tar = await goodTarByCli("good.tar");
    const { code, stdout } = await t.sluice("ingest", tar, "--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ dataset: "bundles", outcome: "accepted", files: 3, bytes: 12, archive: { name: "good.tar" } });

    const [bundle] = await t.api`select * from sluice.bundles`;
    expect(bundle).toMatchObject({ submitter: "10", project: "1234a", instrument: "54", file_count: 3, archive_name: "good.tar" });
    expect(Number(bundle!.total_bytes)).toBe(12);
    expect(bundle!.archive_sha256).toBe(sha("sha256", await Bun.file(tar).bytes()));
    expect(bundle!.transaction).toEqual({ submitter: "10", project: "1234a", instrument: "54" });
    expect(Number(bundle!.job_id)).toBe(report.job);

    const kvs = await t.api`select position, key, value from sluice.bundle_key_values order by position`;
    expect(kvs.map((r) => [r.position, r.key, r.value])).toEqual([[1, "Temp C", "27"], [2, "Temp F", "27"], [3, "Tag", "foo"]]);

    const files = await t.api`select path, subdir, name, size, hashtype, hashsum, mimetype, mtime, blob_sha256 from sluice.bundle_files order by path`;
    const expected = await Promise.all(
      [...DATA_FILES].sort().map(async (path) => {
        const bytes = await fixtureBytes(path);
        return { path, size: "4", hashsum: sha("sha1", bytes), blob: sha("sha256", bytes) };
      }),
    );
    expect(files.map((f) => ({ path: f.path, size: String(f.size), hashsum: f.hashsum, blob: f.blob_sha256 }))).toEqual(expected);
    // "data//a/b" in metadata.txt is the tar's data/a/b.
    expect(files.find((f) => f.name === "bar.txt")).toMatchObject({ subdir: "data/a/b", hashtype: "sha1", mimetype: "text/plain", mtime: "Tue Nov 29 14:09:05 PST 2016" });

    // foo.txt and the .xls file hold the same 4 bytes: one blob.
    const stored = await blobs();
    expect(stored.length).toBe(2);
    for (const f of expected) {
      expect(new TextDecoder().decode(await Bun.file(await blobFile(t.api, blobDir, "bundles", f.blob)).bytes())).toBe(
        new TextDecoder().decode(await fixtureBytes(f.path)),
      );
    }
    expect(await stagingLeft()).toEqual([]);

    const job = await lastJob();
    expect(job).toMatchObject({ dataset: "bundles", stage: "ingest", state: "succeeded", percent: 100, error: null });
    expect(job.counters).toMatchObject({ read: 3, written: 3, failed: {} });
    const shown = await t.sluice("job", "show", String(job.id));
    expect(shown.stdout).toMatch(/state\s+succeeded/);
    expect(shown.stdout).toContain("read 3 · written 3");
  });

  test("ingested again, it is reported as already there and nothing is added", async () => {
    const before = await published();
    const blobsBefore = await blobs();
    const { code, stdout } = await t.sluice("ingest", join(dir, "good.tar"));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^bundles ingest \(job \d+\): already ingested as bundle \d+ \(job \d+\); nothing changed: read 3 · written 0 · skipped 3 \(already_ingested 3\)/);
    expect(await published()).toEqual(before);
    expect(await blobs()).toEqual(blobsBefore);
    expect((await lastJob()).state).toBe("succeeded");
  });

  test("the same bundle packed differently (pax, metadata.txt last, gzip) is the same bundle", async () => {
    const entries = await goodEntries();
    const reordered = join(dir, "reordered.tar");
    await writeTar(reordered, [...entries.slice(1), entries[0]!]);
    await Bun.write(join(dir, "reordered.tar.gz"), Bun.gzipSync(await Bun.file(reordered).bytes()));
    const [{ id }] = (await t.api`select id from sluice.bundles`) as unknown as [{ id: string }];
    for (const path of [reordered, join(dir, "reordered.tar.gz"), await goodTarByCli("good-pax.tar", "pax")]) {
      const { code, stdout } = await t.sluice("ingest", path, "--json");
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ outcome: "already_ingested", bundle: Number(id) });
    }
    expect((await published()).bundles).toBe(1);
  });
});

interface RefusedCase {
  name: string;
  build(): Promise<string>;
  args?: string[];
  reason: string;
  error: string;
  /** What the tar must hold for the case to mean anything (checked with the decoder). */
  holds?: { name: string; type?: string };
}

const tarOf = (name: string, entries: Entry[] | Promise<Entry[]>) => async () => writeTar(join(dir, name), await entries);
const withMetadata = async (file: string, paths: readonly string[]) => {
  const entries: Entry[] = [{ name: "metadata.txt", body: await fixtureBytes(file) }];
  for (const path of paths) entries.push({ name: path, body: await fixtureBytes(path) });
  return entries;
};
const plus = async (extra: Entry[]) => [...(await goodEntries()), ...extra];

const refused: RefusedCase[] = [
  {
    name: "a file whose bytes do not match its hashsum",
    build: tarOf("bad-hash.tar", goodEntries(await goodMetadata((items) => (items[6].hashsum = "a".repeat(40))))),
    reason: "hash_mismatch",
    error: `data/a/b/foo.txt: sha1 is f1d2d2f924e986ac86fdf7b36c94bcdf32beec15, metadata.txt says ${"a".repeat(40)}`,
  },
  {
    name: "a hash mismatch in a file before metadata.txt (sha256)",
    build: async () => {
      const entries = await goodEntries(await goodMetadata((items) => Object.assign(items[7], { hashtype: "sha256", hashsum: "b".repeat(64) })));
      return writeTar(join(dir, "late-metadata.tar"), [...entries.slice(1), entries[0]!]);
    },
    reason: "hash_mismatch",
    error: `data/a/b/bar.txt: sha256 is ${sha("sha256", "bar\n")}, metadata.txt says ${"b".repeat(64)}`,
  },
  {
    name: "Pacifica's bad-hashsum-md.json",
    build: tarOf("pacifica-bad-hashsum.tar", withMetadata("metadata-files/bad-hashsum-md.json", DATA_FILES.slice(0, 2))),
    reason: "bad_metadata",
    error: 'hashsum "deadbeef" is not a sha1 digest (40 hex digits)',
  },
  {
    name: "Pacifica's bad-mimetype-md.json",
    build: tarOf("pacifica-bad-mimetype.tar", withMetadata("metadata-files/bad-mimetype-md.json", DATA_FILES.slice(0, 2))),
    reason: "bad_metadata",
    error: 'mimetype "lame-mime-type" is not a media type',
  },
  {
    name: "Pacifica's bad-project-md.json (sizes that do not match)",
    build: tarOf("pacifica-bad-project.tar", withMetadata("metadata-files/bad-project-md.json", DATA_FILES.slice(0, 2))),
    reason: "size_mismatch",
    error: "data/a/b/foo.txt: is 4 bytes in the tar, metadata.txt says 128 (2 problems: size_mismatch 2",
  },
  {
    name: "a listed file missing from the tar (a new file beside it is staged, then dropped)",
    build: async () => {
      const fresh = "fresh content only this bundle has\n";
      const metadata = await goodMetadata((items) => items.push({ ...items[6], name: "new.txt", size: fresh.length, hashsum: sha("sha1", fresh) }));
      const entries = (await goodEntries(metadata)).filter((e) => e.name !== XLS);
      return writeTar(join(dir, "missing.tar"), [...entries, { name: "data/a/b/new.txt", body: fresh }]);
    },
    reason: "missing_file",
    error: `${XLS}: metadata.txt lists it but the tar does not hold it`,
  },
  {
    name: "a file in the tar that metadata.txt does not list",
    build: tarOf("extra.tar", plus([{ name: "data/a/extra.txt", body: "surprise\n" }])),
    reason: "unlisted_file",
    error: "data/a/extra.txt: is in the tar but metadata.txt does not list it",
  },
  {
    name: "metadata.txt that is not JSON (Pacifica's bad-json-md.notjson)",
    build: tarOf("bad-json.tar", withMetadata("metadata-files/bad-json-md.notjson", DATA_FILES.slice(0, 2))),
    reason: "bad_metadata",
    error: "metadata.txt: is not valid JSON",
  },
  {
    name: "metadata.txt without a required field",
    build: tarOf("no-instrument.tar", goodEntries(await goodMetadata((items) => items.splice(2, 1)))),
    reason: "bad_metadata",
    error: "metadata.txt: Transactions.instrument is missing",
  },
  {
    name: "no metadata.txt",
    build: tarOf("no-metadata.tar", goodEntries().then((e) => e.slice(1))),
    reason: "missing_metadata",
    error: "has no metadata.txt at its root",
  },
  {
    name: "Pacifica's bad-tarfile.tar (not a tar)",
    build: async () => join(PACIFICA, "bad-tarfile.tar"),
    reason: "not_a_tar",
    error: "bad-tarfile.tar is not a readable tar archive",
  },
  {
    name: "a truncated tar",
    build: async () => {
      const whole = await Bun.file(await writeTar(join(dir, "whole.tar"), await goodEntries())).bytes();
      await Bun.write(join(dir, "truncated.tar"), whole.slice(0, 2200));
      return join(dir, "truncated.tar");
    },
    reason: "not_a_tar",
    error: "truncated.tar is not a readable tar archive",
  },
  {
    name: "an entry climbing out with ../",
    build: tarOf("traversal.tar", plus([{ name: "../evil.txt", body: "x" }])),
    holds: { name: "../evil.txt" },
    reason: "unsafe_path",
    error: 'entry "../evil.txt" climbs out of the bundle with ..',
  },
  {
    name: "an absolute entry",
    build: tarOf("absolute.tar", plus([{ name: "/etc/cron.d/evil", body: "x" }])),
    holds: { name: "/etc/cron.d/evil" },
    reason: "unsafe_path",
    error: 'entry "/etc/cron.d/evil" is an absolute path',
  },
  {
    name: "a symlink",
    build: tarOf("symlink.tar", plus([{ name: "data/a/passwd", type: "symlink", linkname: "/etc/passwd" }])),
    holds: { name: "data/a/passwd", type: "symlink" },
    reason: "link_entry",
    error: "data/a/passwd is a symlink to /etc/passwd",
  },
  {
    name: "a hard link",
    build: tarOf("hardlink.tar", plus([{ name: "data/a/again.txt", type: "link", linkname: "data/a/b/foo.txt" }])),
    holds: { name: "data/a/again.txt", type: "link" },
    reason: "link_entry",
    error: "data/a/again.txt is a hard link to data/a/b/foo.txt",
  },
  {
    name: "a device",
    build: tarOf("device.tar", plus([{ name: "data/a/null", type: "character-device" }])),
    holds: { name: "data/a/null", type: "character-device" },
    reason: "special_entry",
    error: "data/a/null is a character-device entry, not a file",
  },
  {
    name: "the same path twice",
    build: tarOf("duplicate.tar", plus([{ name: "data/a/b/foo.txt", body: "foo\n" }])),
    reason: "duplicate_entry",
    error: "data/a/b/foo.txt appears twice in the tar",
  },
  {
    name: "a file over --max-file-size",
    build: tarOf("oversize.tar", goodEntries()),
    args: ["--max-file-size", "3"],
    reason: "too_large",
    error: "data/a/b/foo.txt is 4 bytes, over the 3 bytes limit",
  },
  {
    name: "more entries than --max-entries",
    build: tarOf("many.tar", goodEntries()),
    args: ["--max-entries", "2"],
    reason: "too_many_entries",
    error: "holds more than 2 entries",
  },
];

describe("a refused bundle publishes nothing", () => {
  for (const c of refused) {
    test(c.name, async () => {
      const tar = await c.build();
      if (c.holds) expect(await listTar(tar)).toContainEqual(expect.objectContaining({ name: c.holds.name, type: c.holds.type ?? "file" }));
      const before = await published();
      const blobsBefore = await blobs();
      const { code } = await t.sluice("ingest", tar, ...(c.args ?? []));
      expect(code).toBe(1);
      const job = await lastJob();
      expect(job).toMatchObject({ dataset: "bundles", stage: "ingest", state: "failed" });
      expect(job.error).toStartWith("bundle rejected: ");
      expect(job.error).toContain(c.error);
      expect(job.counters.failed[c.reason]).toBeGreaterThanOrEqual(1);
      expect(job.counters.written).toBe(0);
      expect(await published()).toEqual(before);
      expect(await blobs()).toEqual(blobsBefore);
      expect(await stagingLeft()).toEqual([]);
    });
  }

  test("file problems are each listed for the job", async () => {
    const [job] = await t.api`select id from sluice.jobs where error like '%2 problems: size_mismatch 2%'`;
    const listed = await t.api`select item_key, reason from sluice.row_failures where job_id = ${job!.id} order by item_key`;
    expect(listed.map((r) => [r.item_key, r.reason])).toEqual([["data/a/b/bar.txt", "size_mismatch"], ["data/a/b/foo.txt", "size_mismatch"]]);
  });

  test("when recording fails after the blobs moved in, the new blobs are taken back and shared ones kept", async () => {
    const fresh = "content no accepted bundle has\n";
    const tar = await goodTarWith("db-fails.tar", "other-project", "fresh.txt", fresh);
    await t.api.unsafe(`
      create function sluice.refuse_files() returns trigger language plpgsql as $$ begin raise exception 'disk full (test)'; end $$;
      create trigger refuse_files before insert on sluice.bundle_files for each statement execute function sluice.refuse_files();`);
    try {
      const before = await published();
      const blobsBefore = await blobs();
      expect((await t.sluice("ingest", tar)).code).toBe(1);
      expect(await lastJob()).toMatchObject({ state: "failed" });
      expect((await lastJob()).error).toContain("disk full (test)");
      expect(await published()).toEqual(before);
      // foo/bar blobs belong to the accepted bundle and stay; fresh.txt's blob is gone again.
      expect(await blobs()).toEqual(blobsBefore);
      expect(blobsBefore.some((p) => p.endsWith(sha("sha256", fresh)))).toBe(false);
    } finally {
      await t.api.unsafe("drop trigger refuse_files on sluice.bundle_files; drop function sluice.refuse_files()");
    }
    // With the database healthy again, the same bundle goes in.
    expect((await t.sluice("ingest", tar)).code).toBe(0);
    expect((await blobs()).some((p) => p.endsWith(sha("sha256", fresh)))).toBe(true);
  });

  test("when the database restarts as the bundle is recorded, the new blobs are still taken back once it answers", async () => {
    const fresh = "content of a bundle cut while recorded\n";
    const tar = await goodTarWith("db-restarts.tar", "restart-project", "cut.txt", fresh);
    const before = await published();
    const blobsBefore = await blobs();
    const { proxy, url } = proxiedDatabase(t.apiUrl);
    // The server goes away at the bundle's insert and takes 1.5 s to come back.
    proxy.dropAllOn("insert into sluice.bundles", () => {
      proxy.pause();
      setTimeout(() => proxy.resume(), 1500);
    });
    const { code } = await t.sluiceWith({ DATABASE_URL: url }, "ingest", tar);
    proxy.stop();
    expect(code).toBe(1);
    expect(await lastJob()).toMatchObject({ state: "failed" });
    expect(await published()).toEqual(before);
    // Before, the blobs' check ran while the server was still away, failed, and left cut.txt's blob behind.
    expect(await blobs()).toEqual(blobsBefore);
    expect((await t.sluice("ingest", tar)).code).toBe(0);
    expect((await blobs()).some((p) => p.endsWith(sha("sha256", fresh)))).toBe(true);
  }, 60_000);
});

describe("operating ingest", () => {
  test("job set-state overrides an ingest job, as Pacifica's admins do", async () => {
    const job = await lastJob();
    const set = await t.sluice("job", "set-state", "--job-id", String(job.id), "--state", "failed", "--task", "audit", "--exception", "revoked by admin");
    expect(set.code).toBe(0);
    const shown = JSON.parse((await t.sluice("job", "show", String(job.id), "--json")).stdout);
    expect(shown).toMatchObject({ dataset: "bundles", stage: "ingest", state: "failed", task: "audit" });
    const listed = JSON.parse((await t.sluice("job", "list", "--dataset", "bundles", "--json")).stdout);
    expect(listed[0]).toMatchObject({ id: Number(job.id), state: "failed" });
  });

  test("a second ingest while one holds the bundles lock exits 4", async () => {
    const holder = await t.api.reserve();
    await holder`select pg_advisory_lock(${0x51ce}, hashtext('bundles'))`;
    try {
      expect((await t.sluice("ingest", join(dir, "good.tar"))).code).toBe(4);
    } finally {
      await holder`select pg_advisory_unlock(${0x51ce}, hashtext('bundles'))`;
      holder.release();
    }
  });

  test("a path that is not there is a usage error, before any job", async () => {
    const jobs = (await t.api`select count(*)::int as n from sluice.jobs`)[0]!.n;
    expect((await t.sluice("ingest", join(dir, "nope.tar"))).code).toBe(2);
    expect((await t.sluice("ingest", dir)).code).toBe(2);
    expect((await t.sluice("ingest", join(dir, "good.tar"), "--max-file-size", "lots")).code).toBe(2);
    expect((await t.api`select count(*)::int as n from sluice.jobs`)[0]!.n).toBe(jobs);
  });
});
