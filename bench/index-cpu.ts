/**
 * `bun bench/index-cpu.ts [--database URL] [--table T] [--runs 5]`
 *
 * sluice's own CPU per indexed document, without Elasticsearch: reads a staging table the way the
 * index stage does and builds each `image` document's `_bulk` lines, sending nothing, so the figure
 * is this process's work alone (on a 2-core host shared with Elasticsearch, the lever that matters).
 * Three phases, in rotated order each run, each a median over runs with its spread:
 *
 *   read      stagingRows (COPY text → row objects)
 *   document  read + the dataset's toDocument
 *   encode    read + toDocument + the `_bulk` lines appended to a batch buffer, as BulkSink does
 *   row-object   the row as its document (`{...row, id}`) through the object path, encoded
 *   projection   the same documents as JSON text straight from COPY text (stagingDocuments), encoded
 *
 * Rows are read with the image dataset's index.columns and index.jsonKeys, as the index stage reads
 * them (`--all-columns`: every column, whole; `--all-keys`: every key of meta_data); row-object and
 * projection read every column.
 *
 * By default it reads the newest generation's staging table of the API database DATABASE_URL
 * names; a bench run kept with `--keep --id X` leaves one in sluice_bench_X.
 */
import { openDatabase } from "../src/adapters/postgres.ts";
import { openverseDatasets } from "../src/datasets/openverse/datasets.ts";
import { IMAGE_DOCUMENT_COLUMNS } from "../src/datasets/openverse/documents.ts";
import type { Document } from "../src/config/types.ts";
import { appendBulkLines, appendBulkSource } from "../src/stages/index/bulk-sink.ts";
import { stagingDocuments, stagingRows } from "../src/stages/index/staging-rows.ts";
import { ByteBuilder } from "../src/transforms/byte-builder.ts";
import { periodicCollector } from "../src/stages/memory.ts";
import { median } from "./index-rounds.ts";

type Phase = "read" | "document" | "encode" | "row-object" | "projection";
const PHASES: Phase[] = ["read", "document", "encode", "row-object", "projection"];

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const databaseUrl = flag("--database") ?? process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("--database URL or DATABASE_URL is needed");
const runs = Number(flag("--runs") ?? 5);
const only = flag("--only")?.split(",") as Phase[] | undefined;

const api = await openDatabase(databaseUrl, { variable: "DATABASE_URL", maxConnections: 1 });
const table =
  flag("--table") ??
  ((await api`select table_name from sluice.generations where dataset = 'image' order by number desc limit 1`)[0]?.table_name as string | undefined);
if (!table) throw new Error("no staging table: pass --table, or run `bun run bench --only index --keep --id X` and --database …/sluice_bench_X");
const toDocument = (openverseDatasets.image.index as { toDocument: unknown }).toDocument as (row: Record<string, unknown>) => Document;

async function once(phase: Phase): Promise<{ docs: number; cpu: number; ms: number }> {
  Bun.gc(true);
  const body = new ByteBuilder(6 * 1024 * 1024, 1);
  let docs = 0;
  const started = performance.now();
  const before = process.cpuUsage();
  // The stage's own forced collections (build-index.ts), unless --no-gc.
  const collect = args.includes("--no-gc") ? () => {} : periodicCollector(1000, 20_000);
  const handOver = () => {
    // A batch's worth: hand it over as the sink does (5 MiB batches).
    if (body.length >= 5 * 1024 * 1024) body.recycle(body.take());
  };
  if (phase === "projection") {
    for await (const documents of stagingDocuments(api, databaseUrl!, table!, new AbortController().signal, { key: "identifier" })) {
      for (const { id, json } of documents) {
        docs++;
        appendBulkSource(body, "bench-cpu", id, json);
        handOver();
      }
      collect(documents.length);
    }
  } else {
    const whole = phase === "row-object" || args.includes("--all-columns");
    const jsonKeys = whole || args.includes("--all-keys") ? {} : (openverseDatasets.image.index as { jsonKeys: Record<string, string[]> }).jsonKeys;
    for await (const rows of stagingRows(api, databaseUrl!, table!, new AbortController().signal, { key: "identifier", columns: whole ? null : IMAGE_DOCUMENT_COLUMNS, jsonKeys })) {
      for (const row of rows) {
        docs++;
        if (phase === "read") continue;
        if (phase === "row-object") {
          appendBulkLines(body, "bench-cpu", String(row.identifier), { ...row, id: String(row.identifier) });
          handOver();
          continue;
        }
        const document = toDocument(row);
        if (phase === "document") continue;
        appendBulkLines(body, "bench-cpu", String(document.id), document);
        handOver();
      }
      collect(rows.length);
    }
  }
  const used = process.cpuUsage(before);
  return { docs, cpu: (used.user + used.system) / 1e6, ms: performance.now() - started };
}

const phases = only ?? PHASES;
const results = new Map<Phase, { cpu: number; ms: number; docs: number }[]>(phases.map((p) => [p, []]));
for (let run = 0; run < runs; run++) {
  for (let i = 0; i < phases.length; i++) {
    const phase = phases[(i + run) % phases.length]!;
    const r = await once(phase);
    results.get(phase)!.push(r);
    console.error(`run ${run + 1}/${runs} ${phase}: ${((r.cpu / r.docs) * 1000).toFixed(4)} CPU-s/1k docs (${r.docs} docs, ${r.cpu.toFixed(2)} CPU-s, ${(r.ms / 1000).toFixed(1)} s)`);
  }
}
await api.end({ timeout: 1 });
const fmt = (v: number) => v.toFixed(4);
console.log(`table ${table}, ${runs} runs, CPU-s per 1k docs, median [min–max]:`);
for (const [phase, rs] of results) {
  const per1k = rs.map((r) => (r.cpu / r.docs) * 1000);
  console.log(`  ${phase.padEnd(9)} ${fmt(median(per1k))} [${fmt(Math.min(...per1k))}–${fmt(Math.max(...per1k))}]  (${rs[0]!.docs} docs)`);
}
