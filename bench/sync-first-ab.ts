/**
 * A/B of the first sync's own overhead (issue 11, point 7): `sluice run` (refresh → index → swap)
 * beside `sluice sync` with no live index (the same stages, each document stamped and its id and
 * version listed in sluice.sync_versions), on one upstream table, alternating, each on a fresh
 * dataset. Prints wall time, the sluice process's CPU seconds, the whole machine's busy seconds,
 * the index stage's own time and peak RSS: medians and each round.
 *
 *   bun bench/sync-first-ab.ts [--rows 100000] [--rounds 3]      (DATABASE_URL, ELASTICSEARCH_URL set)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { between, type ChildRun, runSluice } from "./lib.ts";

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const rows = arg("--rows", 100_000);
const rounds = arg("--rounds", 3);
const id = `ab${process.pid}`;
const base = process.env.DATABASE_URL ?? "postgres://postgres:sluice@127.0.0.1:5432/sluice";
const es = (process.env.ELASTICSEARCH_URL ?? "http://127.0.0.1:9200").replace(/\/$/, "");
const withDatabase = (name: string) => Object.assign(new URL(base), { pathname: `/${name}` }).toString();
const api = `sluice_bench_${id}`;
const upstream = `${api}_up`;
const prefix = `bench-${id}-`;
const admin = postgres(withDatabase("postgres"), { max: 1, onnotice: () => {} });
const dir = mkdtempSync(join(tmpdir(), "sluice-sync-ab-"));
const env: Record<string, string> = { ...(process.env as Record<string, string>), DATABASE_URL: withDatabase(api), UPSTREAM_DATABASE_URL: withDatabase(upstream), ELASTICSEARCH_URL: es, SLUICE_INDEX_PREFIX: prefix, DATA_REFRESH_LIMIT: "0" };

const arms = ["run", "sync"] as const;
const results: Record<(typeof arms)[number], ChildRun[]> = { run: [], sync: [] };
try {
  for (const db of [api, upstream]) {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${db}`);
  }
  const up = postgres(withDatabase(upstream), { max: 1, onnotice: () => {} });
  await up.unsafe(`CREATE TABLE bench_sync (id integer PRIMARY KEY, title text NOT NULL, body text NOT NULL, kind text NOT NULL, updated_at timestamptz NOT NULL)`);
  await up.unsafe(`INSERT INTO bench_sync SELECT n, 'title ' || n, repeat('lorem ipsum dolor sit amet ', 12) || n, (ARRAY['a','b','c'])[1 + n % 3], now() - interval '1 day' FROM generate_series(1, ${rows}) n`);
  await up.end();
  const datasets: string[] = [];
  for (let r = 0; r < rounds; r++) for (const arm of arms) datasets.push(`${arm}_${r}`);
  const config = join(dir, "ab.config.ts");
  await Bun.write(config, `const dataset = (alias) => ({
  source: { kind: "postgres", table: "bench_sync" },
  table: { key: "id", name: alias },
  index: { alias, body: { mappings: { properties: { id: { type: "keyword" }, title: { type: "text" }, body: { type: "text" }, kind: { type: "keyword" }, updated_at: { type: "date" } } } } },
  sync: { cursorColumn: "updated_at", versionColumn: "updated_at" },
});
export default { datasets: { ${datasets.map((d) => `${d}: dataset(${JSON.stringify(d)})`).join(", ")} } };\n`);
  const migrated = await runSluice(["migrate", "up"], env, false);
  if (migrated.code !== 0) throw new Error(`migrate up failed: ${migrated.lines.map((l) => l.text).join("\n")}`);
  for (let r = 0; r < rounds; r++) {
    for (const arm of r % 2 ? [...arms].reverse() : arms) {
      const run = await runSluice([arm, `${arm}_${r}`, "--config", config], env, false);
      if (run.code !== 0) throw new Error(`${arm} exited ${run.code}: ${run.lines.slice(-5).map((l) => l.text).join("\n")}`);
      results[arm].push(run);
      const indexing = between(run, /indexing [\d,]+ rows/, /restoring settings/);
      console.error(`round ${r} ${arm}: ${(run.ms / 1000).toFixed(1)} s, sluice CPU ${run.cpuSeconds.toFixed(1)} s, machine ${run.machineBusySeconds.toFixed(1)} s, index stage ${((indexing ?? 0) / 1000).toFixed(1)} s, peak ${(run.peakRss / 2 ** 20).toFixed(0)} MB`);
    }
  }
  const med = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  for (const arm of arms) {
    const runs = results[arm];
    const show = (what: string, f: (r: ChildRun) => number, unit: string) => `${what} ${med(runs.map(f)).toFixed(1)}${unit} (${runs.map((r) => f(r).toFixed(1)).join(", ")})`;
    console.log(`${arm}: ${[show("wall", (r) => r.ms / 1000, " s"), show("sluice CPU", (r) => r.cpuSeconds, " s"), show("machine busy", (r) => r.machineBusySeconds, " s"), show("index stage", (r) => (between(r, /indexing [\d,]+ rows/, /restoring settings/) ?? 0) / 1000, " s"), show("peak RSS", (r) => r.peakRss / 2 ** 20, " MB")].join("; ")}`);
  }
} finally {
  const listed = await fetch(`${es}/_cat/indices/${prefix}*?h=index`).then((r) => r.text()).catch(() => "");
  for (const index of listed.split("\n").map((l) => l.trim()).filter(Boolean)) await fetch(`${es}/${index}`, { method: "DELETE" }).catch(() => {});
  for (const db of [api, upstream]) await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
