/**
 * Where generation N of a dataset lives until it is promoted, and after:
 *   table image, generation 3 → staging table image__g3; after swap it is renamed to image,
 *   and the old live table takes its own generation's name back (image__g2), kept for rollback.
 *   alias image, generation 3 → index image-g3; children: image-budget-g3 behind image-budget.
 */
import type { Dataset } from "../config/types.ts";

export function generationTable(dataset: Dataset, generation: number): string {
  return `${dataset.table.name}__g${generation}`;
}

export interface IndexTarget {
  alias: string;
  index: string;
}

/** The parent index and each child index of a generation, with the alias each is promoted under. */
export function generationIndices(dataset: Dataset, generation: number): IndexTarget[] {
  if (!dataset.index) return [];
  const alias = dataset.index.alias;
  return [
    { alias, index: `${alias}-g${generation}` },
    ...dataset.index.children.map((child) => ({
      alias: `${alias}-${child.suffix}`,
      index: `${alias}-${child.suffix}-g${generation}`,
    })),
    // The filtered twin last: swapped, rolled back, pruned and discarded with the rest.
    ...(dataset.index.filtered ? [filteredTarget(alias, dataset.index.filtered.suffix, generation)] : []),
  ];
}

/**
 * image-g3 → image-g3.workers: the alias scale-out workers write through, with `require_alias`, so
 * that a write after the index was deleted fails instead of creating an unmarked index. It lives
 * and dies with its index (made in the same create call, removed before the index is checked).
 */
export function workersAlias(index: string): string {
  return `${index}.workers`;
}

/** image, "filtered", 3 → image-filtered-g3 behind image-filtered (Openverse's name for it). */
export function filteredTarget(alias: string, suffix: string, generation: number): IndexTarget {
  return { alias: `${alias}-${suffix}`, index: `${alias}-${suffix}-g${generation}` };
}

/** Renders a configured index definition for one table: "{table}" → the table name. */
export function indexStatement(definition: string, table: string, position: number): string {
  const named = definition.replace(/CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?ON\s/i, (_m, unique = "") =>
    `CREATE ${unique}INDEX ${quote(`${table}_idx${position}`)} ON `,
  );
  return named.replaceAll("{table}", quote(table));
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
