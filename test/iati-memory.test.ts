/**
 * Issue 9, point 8: one valid 42.6 MB IATI document (an activity repeated 3,000 times, under the
 * 50 MiB payload cap) took `sluice validate iati` to 757 MB and `sluice index iati` to 2.86 GB of
 * RSS. Both now stream the payload a batch of activities at a time: each runs here as a child
 * process, and its peak RSS (VmHWM at exit, see support/peak-rss-hook.ts) must stay under 300 MB
 * while the counts stay exact.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";
import { largeIatiDocument, type LocalRegistry, serveLargeDocument } from "./support/iati-large.ts";

const LIMIT = 300 * 1024 * 1024;
const ACTIVITIES = 3_000;
const LONG = 240_000;

let t: TestEnvironment;
let blobDir: string;
let registry: LocalRegistry;
let expected: { budgets: number; transactions: number };
let bytes = 0;

beforeAll(async () => {
  t = await createTestEnvironment("iatimem");
  blobDir = mkdtempSync(join(tmpdir(), "sluice-iati-mem-blobs-"));
  process.env.SLUICE_BLOB_DIR = blobDir;
  const doc = await largeIatiDocument(ACTIVITIES);
  bytes = Buffer.byteLength(doc.xml);
  expected = doc;
  registry = await serveLargeDocument(doc.xml, new URL("../src/datasets/iati/dataset.ts", import.meta.url).pathname);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, LONG);

afterAll(async () => {
  registry?.stop();
  await t?.drop();
  rmSync(blobDir, { recursive: true, force: true });
  delete process.env.SLUICE_BLOB_DIR;
}, LONG);

/** Runs `sluice <args>` as a child process; its exit code and peak RSS (VmHWM at exit) in bytes. */
async function measured(...args: string[]): Promise<{ code: number; peak: number; stderr: string }> {
  const peakFile = join(blobDir, "peak-rss");
  const child = Bun.spawn(["bun", "--preload", "./test/support/peak-rss-hook.ts", "src/cli.ts", ...args, "--config", registry.configFile], {
    cwd: new URL("../", import.meta.url).pathname,
    env: { ...t.childEnv(), SLUICE_BLOB_DIR: blobDir, SLUICE_PEAK_RSS_FILE: peakFile },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited, new Response(child.stdout).text()]);
  return { code, peak: Number(readFileSync(peakFile, "utf8")), stderr };
}

test(
  "a 42.6 MB document: validate and index each stay under 300 MB of RSS, with exact counts",
  async () => {
    expect(bytes).toBeGreaterThan(42_000_000);
    expect(bytes).toBeLessThan(50 * 1024 * 1024);
    const sluice = (...args: string[]) => t.sluice(...args, "--config", registry.configFile);
    expect((await sluice("refresh", "iati")).code).toBe(0);
    expect((await sluice("reload", "iati")).code).toBe(0);

    const validate = await measured("validate", "iati");
    expect(validate.stderr).not.toMatch(/error/i);
    expect(validate.code).toBe(0);
    const [report] = await t.api`select valid, activities_total, activities_valid, error_count from sluice.validation_reports where item_key = 'large'`;
    expect(report).toEqual({ valid: true, activities_total: ACTIVITIES, activities_valid: ACTIVITIES, error_count: 0 });

    const index = await measured("index", "iati");
    expect(index.code).toBe(0);
    const [job] = await t.api`select counters from sluice.jobs where stage = 'index' order by id desc limit 1`;
    expect(job!.counters.written).toBe(ACTIVITIES);
    expect(Object.values(job!.counters.documents as Record<string, number>).sort((a, b) => a - b)).toEqual(
      [ACTIVITIES, expected.budgets, expected.transactions].sort((a, b) => a - b),
    );

    console.log(`42.6 MB document: validate peak RSS ${Math.round(validate.peak / 1048576)} MB, index ${Math.round(index.peak / 1048576)} MB (limit 300 MB)`);
    expect(validate.peak).toBeLessThan(LIMIT);
    expect(index.peak).toBeLessThan(LIMIT);
  },
  LONG,
);
