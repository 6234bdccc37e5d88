/**
 * The built-in `iati` dataset: the IATI registry's activity files, downloaded, validated against
 * the IATI 2.03 schema, and indexed one document per valid activity, with budgets and
 * transactions in child indices (`iati-budget`, `iati-transaction`) that swap with the parent.
 *
 *   registry → iati_documents (one row per file) → blob → report → iati, iati-budget, iati-transaction
 */
import type { DatasetConfig, Document, IndexBody, IndexContext } from "../../config/types.ts";
import { explodeActivity, type ExplodedActivity, iterateFlatActivities } from "./index.ts";

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

/**
 * One document's activities, exploded. `toDocument` and the children's `toDocuments` get the same
 * row object from the index stage, so the payload is read and flattened once per row.
 */
const explodedByRow = new WeakMap<object, ExplodedActivity[]>();

async function explodedActivities(row: Record<string, unknown>, context: IndexContext): Promise<ExplodedActivity[]> {
  const cached = explodedByRow.get(row);
  if (cached) return cached;
  const r = row as unknown as RegistryRow;
  const sha = r.cleaned_sha256 ?? r.blob_sha256;
  if (r.valid !== true || !sha) {
    explodedByRow.set(row, []);
    return [];
  }
  const text = new TextDecoder().decode(await context.readBlob(sha));
  const exploded: ExplodedActivity[] = [];
  let position = 0;
  for (const flat of iterateFlatActivities(text)) {
    position++;
    // Ids are unique per registry document and position: publishers do repeat iati-identifiers.
    const prefix = `${r.id}:${position}`;
    const { activity, budgets, transactions } = explodeActivity(flat, { idPrefix: prefix });
    const about = { dataset_id: r.id, dataset_name: r.name ?? "", dataset_publisher: r.publisher ?? "" };
    exploded.push({
      activity: { ...activity, ...about, id: prefix },
      budgets: budgets.map((b) => ({ ...b, ...about })),
      transactions: transactions.map((t) => ({ ...t, ...about })),
    });
  }
  explodedByRow.set(row, exploded);
  return exploded;
}

export async function iatiActivityDocuments(row: Record<string, unknown>, context: IndexContext): Promise<Document[]> {
  return (await explodedActivities(row, context)).map((e) => e.activity as Document);
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
        { suffix: "budget", body: iatiIndexBody(), toDocuments: async (row, ctx) => (await explodedActivities(row, ctx)).flatMap((e) => e.budgets) },
        { suffix: "transaction", body: iatiIndexBody(), toDocuments: async (row, ctx) => (await explodedActivities(row, ctx)).flatMap((e) => e.transactions) },
      ],
    },
  };
}
