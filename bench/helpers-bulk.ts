/**
 * A reference for the index bench: what a user gets from thirty lines around the official client,
 * `client.helpers.bulk` at its defaults (5 MB flushes, concurrency 5), fed the documents sluice's
 * own builder makes from the staging table (the index stage's reader and `imageDocument`). Run as
 * a child process so that its CPU is measured apart:
 *
 *   bun bench/helpers-bulk.ts <databaseUrl> <stagingTable> <esUrl> <index> [image|projection] [copy|cursor]   → prints {"docs":N,"failed":M}
 *
 * `projection`: the rows as they are (`{...row, id}`), what a user's own code would index for a
 * dataset without a builder.
 * `copy` (the goal's reference): rows from sluice's own COPY-text reader. `cursor`: rows as a user's
 * thirty lines would read them, a postgres.js cursor over `SELECT` of the same columns (its
 * timestamps become Date objects, so those fields' text differs slightly from row_to_json's).
 */
import { Client, HttpConnection } from "@elastic/elasticsearch";
import postgres from "postgres";
import { IMAGE_DOCUMENT_COLUMNS, imageDocument, type OpenverseImageRow } from "../src/datasets/openverse/documents.ts";
import { stagingRows } from "../src/stages/index/staging-rows.ts";

const [databaseUrl, table, esUrl, index, kind = "image", reader = "copy"] = process.argv.slice(2);
if (!databaseUrl || !table || !esUrl || !index) throw new Error("usage: helpers-bulk.ts <databaseUrl> <table> <esUrl> <index>");
// Bun needs the node:http connection (the default undici one fails under it), as sluice uses.
const client = new Client({ node: esUrl, Connection: HttpConnection, requestTimeout: 120_000 });
const api = postgres(databaseUrl, { max: 1, onnotice: () => {} });

async function* rowBatches(columns: readonly string[] | null): AsyncGenerator<Record<string, unknown>[]> {
  if (reader === "cursor") {
    const list = columns ? columns.map((c) => `"${c}"`).join(", ") : "*";
    yield* api.unsafe(`SELECT ${list} FROM "${table}"`).cursor(500) as AsyncIterable<Record<string, unknown>[]>;
  } else {
    yield* stagingRows(api, databaseUrl!, table!, new AbortController().signal, { key: "identifier", columns });
  }
}

async function* documents() {
  // The columns the image dataset's documents are made of (index.columns), as sluice reads them; a projection reads every column.
  const columns = kind === "projection" ? null : IMAGE_DOCUMENT_COLUMNS;
  for await (const rows of rowBatches(columns)) {
    for (const row of rows) yield kind === "projection" ? { ...row, id: String(row.identifier) } : imageDocument(row as unknown as OpenverseImageRow);
  }
}

let failed = 0;
const result = await client.helpers.bulk({
  datasource: documents(),
  onDocument: (doc) => ({ index: { _index: index, _id: doc.id } }),
  onDrop: () => {
    failed++;
  },
});
await api.end();
await client.close();
console.log(JSON.stringify({ docs: result.successful, failed: failed + result.failed }));
