/**
 * Deleting, replacing and promoting indices only when they are this database's and this dataset's
 * (the rule is in ownership.ts): every such call reads the index's mark and aliases first.
 */
import { describeIndex, type SearchClient } from "../adapters/elasticsearch.ts";
import type { Sql } from "../adapters/postgres.ts";
import { SluiceError } from "../errors.ts";
import { databaseIdentity } from "./identity.ts";
import { type IndexFacts, type IndexOwner, type OwnershipAction, type OwnershipOptions, type OwnershipRefusal, ownershipRefusal } from "./ownership.ts";

/** An index sluice will not touch; exit 1, and nothing was deleted. */
export class IndexOwnershipError extends SluiceError {
  constructor(refusal: OwnershipRefusal) {
    super(refusal.message, { hint: refusal.hint });
  }
}

export async function indexOwner(sql: Sql, dataset: string): Promise<IndexOwner> {
  return { database: (await databaseIdentity(sql)).id, dataset };
}

export async function indexFacts(es: SearchClient, name: string): Promise<IndexFacts | null> {
  const described = await describeIndex(es, name);
  return described ? { name, ...described } : null;
}

/** Throws unless the index is absent or may take the action; returns what was found. */
export async function assertOwned(es: SearchClient, name: string, owner: IndexOwner, action: OwnershipAction, options: OwnershipOptions = {}): Promise<IndexFacts | null> {
  const facts = await indexFacts(es, name);
  const refusal = facts && ownershipRefusal(facts, owner, action, options);
  if (refusal) throw new IndexOwnershipError(refusal);
  return facts;
}

/**
 * Deletes the index if it is ours. Returns what happened; a refusal is returned, not thrown, so
 * that clean-up of a generation can go on with the indices that are its own.
 */
export async function deleteOwnedIndex(es: SearchClient, name: string, owner: IndexOwner, generation: number): Promise<"deleted" | "absent" | OwnershipRefusal> {
  const facts = await indexFacts(es, name);
  if (!facts) return "absent";
  const refusal = ownershipRefusal(facts, owner, "delete", { generation });
  if (refusal) return refusal;
  await es.indices.delete({ index: facts.concrete });
  return "deleted";
}
