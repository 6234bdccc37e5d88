/**
 * The built-in `iati` dataset: the IATI registry's activity files, downloaded, validated against
 * the IATI 2.03 schema, and indexed one document per valid activity, with budgets and
 * transactions in child indices (`iati-budget`, `iati-transaction`) that swap with the parent.
 *
 *   registry → iati_documents (one row per file) → blob → report → iati, iati-budget, iati-transaction
 */
import type { DatasetConfig, Document, IndexBody, IndexContext } from "../../config/types.ts";
import { countingCollector } from "../../stages/memory.ts";
import type { ExplodedActivity } from "./index.ts";

/** The IATI registry's CKAN API; IATI_REGISTRY_URL overrides it (e.g. a mirror, or a test server). */
export const DEFAULT_IATI_REGISTRY_URL = "https://iatiregistry.org/api/3/action";

/**
 * Flattened IATI documents carry hundreds of keys, all strings or lists of strings: no guessing of
 * dates or numbers from the first document seen, and room for many fields.
 */
export function iatiIndexBody(): IndexBody {
  return {
    settings: { "mapping.total_fields.limit": 10_000 },
    mappings: { date_detection: false, numeric_detection: false },
  };
}

interface RegistryRow {
  id: string;
  name: string | null;
  publisher: string | null;
  valid: boolean | null;
  blob_sha256: string | null;
  cleaned_sha256: string | null;
}

/** The budgets and transactions of each activity document while it is being indexed. */
const childrenOfDocument = new WeakMap<Document, Pick<ExplodedActivity, "budgets" | "transactions">>();

/**
 * A registry row's activity documents, one at a time: the payload is read from the blob store as a
 * stream and flattened a batch of activities at a time, so a document near the 50 MiB cap is never
 * held whole, nor its tree, nor all its documents. Each yielded document carries its budgets and
 * transactions for the child indices (see {@link iatiChildDocuments}).
 */
export async function* iatiActivityDocuments(row: Record<string, unknown>, context: IndexContext): AsyncGenerator<Document> {
  const r = row as unknown as RegistryRow;
  const sha = r.cleaned_sha256 ?? r.blob_sha256;
  if (r.valid !== true || !sha) return;
  const stream = context.readBlobStream ? await context.readBlobStream(sha) : new Blob([await context.readBlob(sha)]).stream();
  const about = { dataset_id: r.id, dataset_name: r.name ?? "", dataset_publisher: r.publisher ?? "" };
  // Loaded on first use: they bring libxml2-wasm, ~35 MB of heap, which every command that reads
  // the config (this module is a built-in dataset) would otherwise carry without parsing any XML.
  const [{ explodeActivity }, { iterateFlatActivityParts, utf8Parts }] = await Promise.all([import("./index.ts"), import("./xml-stream.ts")]);
  let position = 0;
  // Collected during a large activity's flattening too, not only between documents.
  for await (const flat of iterateFlatActivityParts(utf8Parts(stream), { afterElement: countingCollector() })) {
    position++;
    // Ids are unique per registry document and position: publishers do repeat iati-identifiers.
    const prefix = `${r.id}:${position}`;
    const { activity, budgets, transactions } = explodeActivity(flat, { idPrefix: prefix });
    const document: Document = { ...activity, ...about, id: prefix };
    // In place: a copy of thousands of child documents (one activity can have that many) would
    // double what one activity costs.
    for (const child of [...budgets, ...transactions]) Object.assign(child, about);
    childrenOfDocument.set(document, { budgets, transactions });
    yield document;
  }
}

/**
 * The budgets or transactions of one activity document yielded by {@link iatiActivityDocuments};
 * without it, those of the whole row (read again, and held together).
 */
export async function iatiChildDocuments(
  kind: "budgets" | "transactions",
  row: Record<string, unknown>,
  context: IndexContext,
  parent?: Document,
): Promise<Document[]> {
  if (parent) return childrenOfDocument.get(parent)?.[kind] ?? [];
  const all: Document[] = [];
  for await (const document of iatiActivityDocuments(row, context)) all.push(...(childrenOfDocument.get(document)?.[kind] ?? []));
  return all;
}

export function iatiDataset(env: Record<string, string | undefined> = process.env): DatasetConfig {
  return {
    source: { kind: "registry", url: env.IATI_REGISTRY_URL?.trim() || DEFAULT_IATI_REGISTRY_URL },
    table: {
      name: "iati_documents",
      key: "id",
      indexes: ["CREATE INDEX ON {table} (publisher)", "CREATE INDEX ON {table} (blob_sha256)"],
    },
    payload: { column: "url", format: "xml" },
    validate: {},
    index: {
      alias: "iati",
      body: iatiIndexBody(),
      toDocument: iatiActivityDocuments,
      children: [
        { suffix: "budget", body: iatiIndexBody(), toDocuments: (row, ctx, parent) => iatiChildDocuments("budgets", row, ctx, parent) },
        { suffix: "transaction", body: iatiIndexBody(), toDocuments: (row, ctx, parent) => iatiChildDocuments("transactions", row, ctx, parent) },
      ],
    },
  };
}
