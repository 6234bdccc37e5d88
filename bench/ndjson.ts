/**
 * The raw-bulk limit's input: the documents sluice sends, as NDJSON files of one `_bulk` request
 * each, cut by the same rule as BulkSink (batchDocuments documents or batchBytes bytes, whichever
 * comes first). Rows are read from the staging table the same way the index stage reads them
 * (COPY of row_to_json) and turned into documents with imageDocument, or, with `documents:
 * "projection"`, taken as the JSON text the index stage makes of a dataset without toDocument.
 */
import { mkdirSync, rmSync } from "node:fs";
import postgres from "postgres";
import { IMAGE_DOCUMENT_COLUMNS, imageDocument, type OpenverseImageRow } from "../src/datasets/openverse/documents.ts";
import { stagingDocuments, stagingRows } from "../src/stages/index/staging-rows.ts";

export interface NdjsonBuild {
  files: number;
  documents: number;
  bytes: number;
  ms: number;
}

export async function buildNdjson(opts: {
  databaseUrl: string;
  table: string;
  index: string;
  dir: string;
  batchDocuments: number;
  batchBytes: number;
  /** "projection": the rows as they are, the very JSON text sluice sends for a dataset without toDocument. */
  documents?: "image" | "projection";
}): Promise<NdjsonBuild> {
  const start = performance.now();
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true });
  const indexJson = JSON.stringify(opts.index);
  let lines: string[] = [];
  let bytes = 0;
  let docs = 0;
  let files = 0;
  let documents = 0;
  let total = 0;
  const pending: Promise<number>[] = [];
  const flush = async () => {
    if (docs === 0) return;
    const body = `${lines.join("\n")}\n`;
    files++;
    pending.push(Bun.write(`${opts.dir}/batch-${String(files).padStart(6, "0")}.ndjson`, body));
    if (pending.length >= 4) await pending.shift();
    total += Buffer.byteLength(body);
    lines = [];
    bytes = 0;
    docs = 0;
  };
  // The index stage's own reader, so the limit is built from exactly the rows sluice reads.
  const api = postgres(opts.databaseUrl, { max: 1, onnotice: () => {} });
  const add = async (id: string, source: string) => {
    const action = `{"index":{"_index":${indexJson},"_id":${JSON.stringify(id)}}}`;
    lines.push(action, source);
    bytes += action.length + source.length + 2;
    docs++;
    documents++;
    if (docs >= opts.batchDocuments || bytes >= opts.batchBytes) await flush();
  };
  const signal = new AbortController().signal;
  const utf8 = new TextDecoder();
  if (opts.documents === "projection") {
    for await (const batch of stagingDocuments(api, opts.databaseUrl, opts.table, signal, { key: "identifier" })) {
      for (const { id, json } of batch) await add(id, utf8.decode(json));
    }
  } else {
    for await (const rows of stagingRows(api, opts.databaseUrl, opts.table, signal, { key: "identifier", columns: IMAGE_DOCUMENT_COLUMNS })) {
      for (const row of rows) {
        const document = imageDocument(row as unknown as OpenverseImageRow);
        await add(String(document.id ?? row.identifier), JSON.stringify(document));
      }
    }
  }
  await api.end();
  await flush();
  await Promise.all(pending);
  return { files, documents, bytes: total, ms: performance.now() - start };
}
