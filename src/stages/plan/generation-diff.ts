/**
 * `sluice diff`: a ready (or building) generation beside live, before it is swapped in. `run` logs
 * the same summary just before its swap.
 *
 *   table rows and documents per index, live → new, with the change
 *   counts by a field (terms aggregation on both indices), live → new, with the change
 *   new, changed and removed keys (table against table), counted, with a sample
 */
import { aliasTargets, countDocuments, type SearchClient } from "../../adapters/elasticsearch.ts";
import type { Sql } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { SluiceError, UsageError } from "../../errors.ts";
import { findGeneration, type Generation, generationIndices, generationsIn, generationTable, liveGeneration, tableExists } from "../../generations/store.ts";
import { countRows } from "../refresh/staging-sql.ts";
import { allNew, type KeyDiff, keyDiff } from "./key-diff.ts";

export interface CountChange {
  /** What is counted: "table", an alias, or a value of the `by` field. */
  name: string;
  live: number | null;
  new: number | null;
  change: number | null;
}

export interface GenerationDiff {
  dataset: string;
  generation: number;
  live: number | null;
  /** The table's rows, then each index's documents (parent first, then children), by alias. */
  counts: CountChange[];
  /** Documents of the parent index by a field's values (top 20 on either side), when asked for. */
  by: { field: string; values: CountChange[] } | null;
  keys: KeyDiff;
}

export interface DiffOptions {
  /** The generation to compare; default the ready one. */
  generation?: number | undefined;
  /** A field to count documents by (a keyword field: provider, source). */
  by?: string | undefined;
  sample?: number;
}

const TOP_VALUES = 20;

export async function diffGeneration(sql: Sql, es: SearchClient | null, dataset: Dataset, options: DiffOptions = {}): Promise<GenerationDiff> {
  const generation = await generationToCompare(sql, dataset, options.generation);
  const live = await liveGeneration(sql, dataset.name);
  const table = generationTable(dataset, generation.number);
  const liveTable = (await tableExists(sql, dataset.table.name)) ? dataset.table.name : null;
  const counts: CountChange[] = [row("table", liveTable ? await countRows(sql, liveTable) : null, await countRows(sql, table))];
  const targets = es ? generationIndices(dataset, generation.number) : [];
  let liveParent: string | undefined;
  for (const [i, target] of targets.entries()) {
    const [liveIndex] = await aliasTargets(es!, target.alias);
    if (i === 0) liveParent = liveIndex;
    const fresh = (await es!.indices.exists({ index: target.index })) ? await countDocuments(es!, target.index) : null;
    counts.push(row(target.alias, liveIndex ? await countDocuments(es!, liveIndex) : null, fresh));
  }
  let by: GenerationDiff["by"] = null;
  if (options.by) {
    if (!es || !targets[0]) throw new SluiceError(`--by counts documents, and dataset ${dataset.name} has no index`);
    const [liveValues, newValues] = await Promise.all([liveParent ? valueCounts(es, liveParent, options.by) : new Map<string, number>(), valueCounts(es, targets[0].index, options.by)]);
    const names = [...new Set([...liveValues.keys(), ...newValues.keys()])];
    const values = names.map((name) => row(name, liveParent ? (liveValues.get(name) ?? 0) : null, newValues.get(name) ?? 0));
    values.sort((a, b) => Math.abs(b.change ?? b.new ?? 0) - Math.abs(a.change ?? a.new ?? 0) || (b.new ?? 0) - (a.new ?? 0) || a.name.localeCompare(b.name));
    by = { field: options.by, values };
  }
  const sample = options.sample ?? 10;
  const keys = liveTable ? await keyDiff(sql, { key: dataset.table.key, from: liveTable, to: table }, sample) : await allNew(sql, table, dataset.table.key, false, sample);
  return { dataset: dataset.name, generation: generation.number, live: live?.number ?? null, counts, by, keys };
}

function row(name: string, live: number | null, fresh: number | null): CountChange {
  return { name, live, new: fresh, change: live === null || fresh === null ? null : fresh - live };
}

async function generationToCompare(sql: Sql, dataset: Dataset, number: number | undefined): Promise<Generation> {
  let generation: Generation | null | undefined;
  if (number === undefined) [generation] = await generationsIn(sql, dataset.name, ["ready"]);
  else generation = await findGeneration(sql, dataset.name, number);
  const which = number === undefined ? "no generation ready" : `no generation ${number}`;
  if (!generation) throw new SluiceError(`dataset ${dataset.name} has ${which} to compare with live`, { hint: `run \`sluice refresh ${dataset.name}\` and \`sluice index ${dataset.name}\` first, or name one with --generation N` });
  if (!["building", "ready"].includes(generation.state)) {
    throw new SluiceError(`generation ${generation.number} of ${dataset.name} is ${generation.state}, not waiting to be swapped`, { hint: "diff compares a generation that is not live yet with live; `sluice job list` shows which" });
  }
  if (!(await tableExists(sql, generationTable(dataset, generation.number)))) {
    throw new SluiceError(`the table of generation ${generation.number} of ${dataset.name} is gone`, { hint: `run \`sluice refresh ${dataset.name}\` again` });
  }
  return generation;
}

/** Documents per value of `field`: the top values by count. */
async function valueCounts(es: SearchClient, index: string, field: string): Promise<Map<string, number>> {
  // An unmapped field would aggregate every document as missing, which reads like a real answer.
  const caps = (await es.fieldCaps({ index, fields: field })).fields[field];
  if (!caps) throw new UsageError(`index ${index} has no field ${field} to count by`, "--by names a keyword field of the index mapping, such as provider or source");
  if (!Object.values(caps).some((c) => c.aggregatable)) throw new UsageError(`field ${field} of index ${index} cannot be counted by (not aggregatable)`, `use a keyword field, such as ${field}.keyword if the mapping has one`);
  try {
    const res = await es.search({ index, size: 0, aggs: { values: { terms: { field, size: TOP_VALUES, missing: "(none)" } } } });
    const buckets = (res.aggregations?.values as { buckets?: { key: string | number; doc_count: number }[] } | undefined)?.buckets ?? [];
    return new Map(buckets.map((b) => [String(b.key), b.doc_count]));
  } catch (error) {
    throw new SluiceError(`cannot count ${index} by ${field}: ${(error as Error).message.split("\n")[0]}`, { hint: "--by needs a keyword (or other aggregatable) field of the index mapping, such as provider or source" });
  }
}
