/**
 * Which Elasticsearch indices sluice may touch: only those it created for this API database and
 * this dataset. Every index it creates carries a mark in its mapping's `_meta.sluice`; before an
 * index is deleted, replaced or taken off an alias, what Elasticsearch says about it (mark,
 * aliases) is judged here. Pure: the reads and the deleting live in owned-indices.ts.
 *
 *   facts (mark, aliases, created) + owner (database id, dataset) + action  →  null | refusal
 */
import { workersAlias } from "./names.ts";

/** What sluice writes into `mappings._meta.sluice` of every index it creates. */
export interface IndexMark {
  /** The API database's identity (sluice.database_identity). */
  database: string;
  dataset: string;
  generation: number;
}

/** What Elasticsearch says about an index name. */
export interface IndexFacts {
  /** The name asked about. */
  name: string;
  /** The concrete index the name resolves to: another name when `name` is an alias. */
  concrete: string;
  /** Every alias pointing at the concrete index. */
  aliases: string[];
  /** `mappings._meta` of the concrete index, as stored. */
  meta: unknown;
  /** `settings.index.creation_date`, when known. */
  createdAt: Date | null;
}

/** Who is asking: this API database and this dataset. */
export interface IndexOwner {
  database: string;
  dataset: string;
}

/**
 * delete: drop the index (discard, prune). replace: delete it to create one of the same name
 * (index). promote: make it live (swap, rollback). unalias: take our alias off it (swap).
 */
export type OwnershipAction = "delete" | "replace" | "promote" | "unalias";

export interface OwnershipOptions {
  /** Aliases this operation moves itself; others pointing at the index refuse a delete or replace. */
  movingAliases?: readonly string[];
  /** For unalias only: an index without a mark may be taken off our alias (see mayAdoptUnmarked). */
  adoptUnmarked?: boolean;
  /** The generation the index must have been built for, when the action is about one generation. */
  generation?: number;
}

export interface OwnershipRefusal {
  message: string;
  hint: string;
}

export function markFor(owner: IndexOwner, generation: number): IndexMark {
  return { database: owner.database, dataset: owner.dataset, generation };
}

/** The mapping an index is created with: the dataset's own, its `_meta` kept, sluice's mark added. */
export function markedMappings(mappings: Record<string, unknown> | undefined, mark: IndexMark): Record<string, unknown> {
  const meta = (mappings?._meta ?? {}) as Record<string, unknown>;
  return { ...(mappings ?? {}), _meta: { ...meta, sluice: mark } };
}

/** The mark in an index's `_meta`, or null when there is none (or it is not one sluice wrote). */
export function readMark(meta: unknown): IndexMark | null {
  const mark = (meta as { sluice?: Partial<IndexMark> } | null | undefined)?.sluice;
  if (!mark || typeof mark !== "object") return null;
  if (typeof mark.database !== "string" || typeof mark.dataset !== "string" || typeof mark.generation !== "number") return null;
  return { database: mark.database, dataset: mark.dataset, generation: mark.generation };
}

/** Null when the action may go ahead; otherwise the one line that says why not, and the fix. */
export function ownershipRefusal(facts: IndexFacts, owner: IndexOwner, action: OwnershipAction, options: OwnershipOptions = {}): OwnershipRefusal | null {
  const refusing = action === "unalias" ? "refusing to move the alias off it" : `refusing to ${action} it`;
  if (facts.concrete !== facts.name) {
    return {
      message: `"${facts.name}" is an alias of index ${facts.concrete}, not an index sluice built; ${refusing}`,
      hint: `remove the alias "${facts.name}", or give this database its own SLUICE_INDEX_PREFIX`,
    };
  }
  const index = `index ${facts.name}`;
  const mark = readMark(facts.meta);
  if (!mark) {
    if (action === "unalias" && options.adoptUnmarked) return null;
    return {
      message: `${index} carries no sluice mark (made by hand, by another tool or by a sluice before marks); ${refusing}`,
      hint: `if it is not needed, delete it yourself; otherwise give this database its own SLUICE_INDEX_PREFIX`,
    };
  }
  if (mark.database !== owner.database) {
    return {
      message: `${index} belongs to another API database (${mark.database.slice(0, 8)}…); ${refusing}`,
      hint: "give each database its own SLUICE_INDEX_PREFIX",
    };
  }
  if (mark.dataset !== owner.dataset) {
    return {
      message: `${index} belongs to dataset ${mark.dataset} of this database, not ${owner.dataset}; ${refusing}`,
      hint: "give each dataset its own index.alias",
    };
  }
  if (options.generation !== undefined && mark.generation !== options.generation) {
    return {
      message: `${index} was built for generation ${mark.generation} of ${owner.dataset}, not ${options.generation}; ${refusing}`,
      hint: "sluice.generations no longer matches the cluster; delete the index yourself if it is not needed",
    };
  }
  if (action === "delete" || action === "replace" || action === "promote") {
    // The workers' own write alias goes with its index (names.ts, workersAlias).
    const moving = new Set([...(options.movingAliases ?? []), workersAlias(facts.name)]);
    const other = facts.aliases.find((alias) => !moving.has(alias));
    if (other) {
      return {
        message: `${index} is behind alias ${other}, which this ${action === "promote" ? "swap" : "run"} does not move; ${refusing}`,
        hint: `remove alias ${other} from ${facts.name} first if nothing reads through it`,
      };
    }
  }
  return null;
}

/**
 * Whether an unmarked index behind our alias may be taken off it (it is never deleted): on the first
 * swap of a dataset in this database (sluice adopts an alias someone else fed, as it sets aside a
 * live table it never made), or when it is this database's live generation built before sluice
 * marked indices (created before the database's identity, under the live generation's name).
 */
export function mayAdoptUnmarked(facts: IndexFacts, identityCreatedAt: Date, liveIndex: string | null): boolean {
  if (liveIndex === null) return true;
  return facts.concrete === liveIndex && facts.createdAt !== null && facts.createdAt < identityCreatedAt;
}
