/**
 * `bun run bench --only iati-memory [--rows N]`: the large registry document of issue 9 (point 8).
 * One valid IATI document of N activities (default 3,000: 42.6 MB, under the 50 MiB payload cap),
 * served by a local registry, is refreshed, then `sluice reload iati`, `sluice validate iati` and
 * `sluice index iati` run as child processes; the bench prints each one's peak RSS (VmHWM, polled
 * every 50 ms) beside the 300 MB limit, and its time. Before streaming they took 259 MB, 757 MB
 * and 2.86 GB.
 *
 * `--large-activity-mb M` adds, after the first activity, one activity of M MiB (many
 * transactions): above the 2 MiB piece limit it is left out as `activity_too_large` and the others
 * are still validated and indexed; at or under it, it is indexed, and index's peak shows what one
 * large activity costs.
 *
 * Isolation: an API database and an index prefix of its own (random suffix), both removed at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { iatiDocumentWithLargeActivity, largeIatiDocument, serveLargeDocument } from "../test/support/iati-large.ts";
import { log, mb, printTable, ROOT, runSluice, secs } from "./lib.ts";

const LIMIT = 300 * 1024 * 1024;

/**
 * `--only iati-memory [--rows N] [--large-activity-mb M]` asks for this bench (N activities, default
 * 3,000; one more of M MiB); null otherwise.
 */
export function iatiMemoryOptions(argv: string[]): { activities: number; largeActivityBytes: number | null } | null {
  const value = (flag: string) => {
    const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i === -1) return undefined;
    return argv[i]!.includes("=") ? argv[i]!.slice(argv[i]!.indexOf("=") + 1) : argv[i + 1];
  };
  if (value("--only") !== "iati-memory") return null;
  const rows = value("--rows");
  const activities = rows === undefined ? 3_000 : Number(rows.replace(/[_,]/g, ""));
  if (!Number.isInteger(activities) || activities < 1) throw new Error(`--rows: expected a whole number of activities, got ${rows}`);
  const large = value("--large-activity-mb");
  const largeMb = large === undefined ? null : Number(large);
  if (largeMb !== null && !(largeMb > 0)) throw new Error(`--large-activity-mb: expected a size in MiB, got ${large}`);
  return { activities, largeActivityBytes: largeMb === null ? null : Math.round(largeMb * 1024 * 1024) };
}

export async function benchIatiMemory(
  services: { database: string; elasticsearch: string },
  activities: number,
  largeActivityBytes: number | null = null,
): Promise<void> {
  const suffix = Math.random().toString(36).slice(2, 8);
  const name = `sluice_bench_iati_${suffix}`;
  const prefix = `bench-iati-${suffix}-`;
  const admin = new URL(services.database);
  admin.pathname = "/postgres";
  const api = new URL(services.database);
  api.pathname = `/${name}`;
  const blobDir = mkdtempSync(join(tmpdir(), "sluice-bench-iati-"));
  const doc = largeActivityBytes === null ? await largeIatiDocument(activities) : await iatiDocumentWithLargeActivity(activities, largeActivityBytes);
  const registry = await serveLargeDocument(doc.xml, join(ROOT, "src/datasets/iati/dataset.ts"));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    DATABASE_URL: api.toString(),
    ELASTICSEARCH_URL: services.elasticsearch,
    SLUICE_INDEX_PREFIX: prefix,
    SLUICE_BLOB_DIR: blobDir,
    DATA_REFRESH_LIMIT: "0",
    SLUICE_LOG_LEVEL: "info",
  };
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  await sql.unsafe(`CREATE DATABASE ${name}`);
  try {
    const large = largeActivityBytes === null ? "" : ` (one of them ${(largeActivityBytes / 1048576).toFixed(2)} MiB)`;
    log(`iati-memory: one document of ${(activities + (large ? 1 : 0)).toLocaleString("en-US")} activities${large}, ${(Buffer.byteLength(doc.xml) / 1e6).toFixed(1)} MB`);
    const step = async (...args: string[]) => {
      // `migrate up` reads no dataset configuration (and refuses --config).
      const config = args[0] === "migrate" ? [] : ["--config", registry.configFile];
      const run = await runSluice([...args, ...config], env);
      if (run.code !== 0) throw new Error(`sluice ${args.join(" ")} exited ${run.code}`);
      return run;
    };
    await step("migrate", "up");
    await step("refresh", "iati");
    const reload = await step("reload", "iati");
    const validate = await step("validate", "iati");
    const index = await step("index", "iati");
    const row = (stage: string, run: typeof validate, goal: boolean) => ({
      stage,
      "peak RSS": mb(run.peakRss),
      limit: goal ? mb(LIMIT) : "—",
      ok: goal ? (run.peakRss < LIMIT ? "yes" : "NO") : "info",
      time: secs(run.ms),
    });
    console.log(
      printTable(
        [row("reload", reload, true), row("validate", validate, true), row("index", index, true)],
        ["stage", "peak RSS", "limit", "ok", "time"],
      ),
    );
  } finally {
    registry.stop();
    const listed = await fetch(`${services.elasticsearch}/_cat/indices/${prefix}*?h=index&expand_wildcards=all`).then((r) => r.text()).catch(() => "");
    for (const index of listed.split("\n").map((l) => l.trim()).filter(Boolean)) {
      await fetch(`${services.elasticsearch}/${index}`, { method: "DELETE" }).catch(() => {});
    }
    await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await sql.end({ timeout: 5 });
    rmSync(blobDir, { recursive: true, force: true });
  }
}
