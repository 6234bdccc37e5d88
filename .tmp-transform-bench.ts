import { loadDataset } from "./src/config/load.ts";
import { planRows } from "./src/stages/refresh/row-transform.ts";
import { transformBinaryTuple } from "./src/stages/refresh/binary-row-transform.ts";
import { CopyBinaryTupleReader, writeBinaryTuple, type BinaryTuple } from "./src/transforms/copy-binary.ts";
import { ByteBuilder } from "./src/transforms/byte-builder.ts";
import { stagingColumns } from "./src/stages/refresh/upstream.ts";
import postgres from "postgres";
const up = postgres("postgres://postgres:sluice@127.0.0.1:5432/sluice_bench_upstream");
const rows = await up`select attname, format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = 'image'::regclass and attnum > 0 and not attisdropped order by attnum`;
await up.end();
const dataset = await loadDataset("image");
const plan = planRows(dataset, stagingColumns(dataset, new Map(rows.map((r) => [r.attname, r.type]))));
const mode = process.argv[2] ?? "full";
const file = Bun.file("/tmp/image.bin");
const reader = new CopyBinaryTupleReader();
const out = new ByteBuilder(512 * 1024);
let n = 0, changed = 0;
const handle = (t: BinaryTuple) => {
  n++;
  if (mode === "read") return;
  if (mode === "copy") { out.appendBytes(t.bytes); return; }
  const o = transformBinaryTuple(t, plan);
  if (o.kind === "failed") return;
  if (o.replaced === null) out.appendBytes(t.bytes);
  else { changed++; writeBinaryTuple(out, t, o.replaced); }
};
const t0 = performance.now(); const c0 = process.cpuUsage();
for await (const chunk of file.stream()) {
  // postgres.js hands one row per chunk; cut the file into ~1.2 KB pieces to mimic its call count.
  for (let at = 0; at < chunk.length; at += 65536) reader.push(chunk.subarray(at, at + 65536), handle);
  if (out.length >= 256 * 1024) out.take();
}
const c = process.cpuUsage(c0);
console.log(mode, n, changed, "wall", (performance.now() - t0).toFixed(0), "ms cpu", ((c.user + c.system) / 1000).toFixed(0), "ms");
