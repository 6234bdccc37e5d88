/**
 * Builds generation N's Elasticsearch indices from its staging table:
 *
 *   staging __gN --COPY row_to_json--> toDocument (+ children) --> BulkSink --> <alias>-gN
 *   staging __gN --COPY text → JSON text (a projection: no toDocument)--> BulkSink --> <alias>-gN
 *   <alias>-gN --_clone, delete the ids holding a sensitive term--> <alias>-<suffix>-gN (the filtered twin)
 *
 * Loading runs with refresh off and no replicas; afterwards the dataset's settings come back, the
 * index is refreshed, and its document count must equal what was sent minus what failed.
 */
import { databaseFailure, isDatabaseFailure } from "../../adapters/postgres.ts";
import { countDocuments, isIndexExists, type SearchClient, searchError, whileReachable } from "../../adapters/elasticsearch.ts";
import type { Dataset, Document, IndexBody, IndexContext } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { RETRY_DEFAULTS, withRetries } from "../../retry.ts";
import { countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import { generationIndices, type IndexTarget } from "../../generations/names.ts";
import { type Generation, mergeGenerationStats } from "../../generations/store.ts";
import { assertOwned, indexOwner } from "../../generations/owned-indices.ts";
import { type IndexOwner, markedMappings, markFor } from "../../generations/ownership.ts";
import type { JobHandle } from "../job-runner.ts";
import { throwIfAborted, type Session } from "../session.ts";
import { countRows } from "../refresh/staging-sql.ts";
import { periodicCollector, rowStreamCollector } from "../memory.ts";
import { sensitiveMatcher } from "../../transforms/sensitive-terms.ts";
import { BulkSink } from "./bulk-sink.ts";
import { cloneFilteredTwin, KeptOutList } from "./filtered-twin.ts";
import { loadingSettings, servingSettings } from "./load-settings.ts";
import { checkStagingColumns, type MatureJoin, stagingDocuments, stagingRows } from "./staging-rows.ts";
import { isProjection } from "../../config/projection.ts";
import { tableInApiDatabase } from "../refresh/staging-sql.ts";

/**
 * Fields a caller adds to each document of the full (parent) index as it is written: sync's first
 * generation carries its version fields from the start, so no second pass rewrites it.
 */
export interface DocumentStamp {
  /** Mapping properties of the added fields. */
  properties: Record<string, unknown>;
  /** The fields for the document of `row` indexed as `id`; null adds none; "leave out" indexes nothing for the row. */
  fields(row: Record<string, unknown>, id: string): Record<string, unknown> | null | "leave out";
}

export async function buildIndexGeneration(session: Session, job: JobHandle, es: SearchClient, generation: Generation, context: IndexContext, stamp?: DocumentStamp): Promise<void> {
  try {
    await fillIndices(session, job, es, generation, context, stamp);
  } catch (error) {
    if (error instanceof SluiceError || session.signal.aborted) throw error;
    // Driver errors become one line naming the service they came from: the API database (read
    // from staging, job bookkeeping) or Elasticsearch (connection refused after every retry).
    if (isDatabaseFailure(error)) throw databaseFailure(error, session.env.databaseUrl ?? "", "DATABASE_URL", `index ${session.dataset.name}`);
    throw searchError(error, session.env.elasticsearchUrl ?? "", `index ${session.dataset.name} into`);
  }
}

async function fillIndices(session: Session, job: JobHandle, es: SearchClient, generation: Generation, context: IndexContext, stamp?: DocumentStamp): Promise<void> {
  const { dataset, sql } = session;
  const config = requireIndexConfig(dataset);
  const targets = generationIndices(dataset, generation.number);
  const bodies = [config.body, ...config.children.map((c) => c.body)];
  // The filtered twin (last of the targets) is cloned from the full index afterwards (filtered-twin.ts).
  const twin = config.filtered ? targets.pop()! : null;

  await checkStagingColumns(sql, generation.tableName, config.columns, config.jsonKeys);
  job.setTask(`creating ${targets.map((t) => t.index).join(", ")}`, 0);
  const owner = await indexOwner(sql, dataset.name);
  const mark = markFor(owner, generation.number);
  // Created while the first batches are read and built (the sink sends nothing before): the
  // create's round trip, a tenth of a second, no longer delays the first request.
  const created = (async () => {
    for (const [i, target] of targets.entries()) {
      const body = bodies[i]!;
      let mappings = body.mappings as { properties?: Record<string, unknown> } | undefined;
      if (i === 0 && stamp) mappings = { ...(mappings ?? {}), properties: { ...(mappings?.properties ?? {}), ...stamp.properties } };
      await createFreshIndex(es, target.index, owner, generation.number, {
        settings: loadingSettings(body.settings),
        mappings: markedMappings(mappings as Record<string, unknown> | undefined, mark),
      });
    }
  })();
  // Handled from the start (a refusal before the sink awaits it is not unhandled), and awaited
  // whatever ends the stage: no create lands after a failed job's clean-up.
  const settled = created.catch(() => {});
  try {
    await loadIndices(session, job, es, generation, context, { config, targets, bodies, twin, owner, created }, stamp);
  } finally {
    await settled;
  }
}

/** What fillIndices prepared: the dataset's index config, the indices to load (their bodies in order), the twin to clone, and their creation under way. */
interface LoadPlan {
  config: NonNullable<Dataset["index"]>;
  targets: IndexTarget[];
  bodies: IndexBody[];
  twin: IndexTarget | null;
  owner: IndexOwner;
  created: Promise<void>;
}

async function loadIndices(session: Session, job: JobHandle, es: SearchClient, generation: Generation, context: IndexContext, plan: LoadPlan, stamp?: DocumentStamp): Promise<void> {
  const { dataset, sql, signal, log } = session;
  const { config, targets, bodies, twin, owner, created } = plan;
  const counters = job.counters;
  const failures = new RowFailureLog(sql, job.job.id);
  const total = await countRows(sql, generation.tableName);
  const progress = startProgress({ label: `index ${dataset.name}`, unit: "docs", total });
  let acknowledged = 0;
  const sink = new BulkSink(es, {
    batchDocuments: config.batchDocuments,
    batchBytes: config.batchBytes,
    concurrency: config.concurrency,
    signal,
    ready: created,
    // Counted on the job (`sluice job show`): a storm of 429s is visible, not just slow.
    onRetry: (reason, documents) => {
      countReason(counters, "retries", reason);
      log.warn(`bulk request of ${documents} documents resent: ${reason}`);
    },
    onItemFailed: (item) => failures.add({ key: item.id, reason: item.error?.type ?? `http_${item.status}`, detail: item.error?.reason }),
    onBatchDone: (n) => {
      acknowledged += n;
      job.setPercent(5 + (acknowledged / Math.max(1, total)) * 85);
    },
  });

  job.setTask(`indexing ${total.toLocaleString("en-US")} rows from ${generation.tableName}`, 5);
  const [parent, ...children] = targets;
  const sensitive = config.filtered ? sensitiveMatcher(config.filtered.terms, config.filtered.fields) : null;
  const keptOut = new KeptOutList();
  /**
   * Each document goes to the full index; one holding a sensitive term is kept out of the twin
   * (counted per term). Returns what to await before the next (sink.push), if anything.
   */
  const addParent = (id: string, document: Document, row: Record<string, unknown>): Promise<void> | undefined => {
    const stamped = stamp?.fields(row, id) ?? null;
    if (stamped === "leave out") return undefined;
    if (stamped) document = { ...document, ...stamped };
    const room = sink.push(parent!.index, id, document);
    if (sensitive) {
      const terms = sensitive.match(document);
      if (terms.length) keptOut.add(id);
      for (const term of terms) countReason(counters, "filtered", term);
    }
    return room;
  };
  const collect = rowStreamCollector();
  // Documents built one at a time from a large payload make garbage fast (its parse, its flattening).
  const collectOften = periodicCollector(50);
  const mature = await matureJoin(session);
  // A projection (no toDocument, no child, twin or stamp to see the document) is built as JSON text.
  const projection = isProjection(config.toDocument) && children.length === 0 && !sensitive && !stamp;
  if (projection) {
    log.info("documents are the rows as they are (no toDocument): built straight from COPY text");
    for await (const documents of stagingDocuments(sql, session.env.databaseUrl!, generation.tableName, signal, { key: dataset.table.key, columns: config.columns, mature })) {
      for (const { id, json } of documents) {
        const room = sink.pushSource(parent!.index, id, json);
        if (room) await room;
      }
      counters.read += documents.length;
      progress.tick(documents.length);
      collect(documents.length);
      throwIfAborted(signal);
    }
  } else {
    for await (const rows of stagingRows(sql, session.env.databaseUrl!, generation.tableName, signal, { key: dataset.table.key, columns: config.columns, mature, jsonKeys: config.jsonKeys })) {
      for (const row of rows) {
        counters.read++;
        let produced = config.toDocument(row, context);
        if (isPromiseLike(produced)) produced = await produced;
        if (produced !== null && Symbol.asyncIterator in produced) {
          // One at a time (a large payload's documents), each followed by its own child documents.
          let count = 0;
          for await (const document of produced as AsyncIterable<Document>) {
            count++;
            await addParent(String(document.id ?? row[dataset.table.key]), document, row);
            for (const [i, child] of config.children.entries()) {
              for (const childDoc of await child.toDocuments(row, context, document)) {
                await sink.add(children[i]!.index, String(childDoc.id), childDoc);
              }
            }
            collectOften();
          }
          if (count === 0) countReason(counters, "skipped", "not_indexable");
          continue;
        }
        const documents = produced === null ? [] : Array.isArray(produced) ? produced : [produced as Document];
        if (documents.length === 0) {
          countReason(counters, "skipped", "not_indexable");
          continue;
        }
        for (const document of documents) {
          const room = addParent(String(document.id ?? row[dataset.table.key]), document, row);
          if (room) await room;
        }
        for (const [i, child] of config.children.entries()) {
          for (const childDoc of await child.toDocuments(row, context)) {
            await sink.add(children[i]!.index, String(childDoc.id), childDoc);
          }
        }
      }
      progress.tick(rows.length);
      collect(rows.length);
      throwIfAborted(signal);
    }
  }
  await sink.close();
  // A stage that sent nothing (no rows) has not waited for its indices yet.
  await created;
  progress.stop();
  const { lowest, highest } = sink.concurrencyRange;
  log.info(`bulk requests in flight adapted between ${lowest} and ${highest} (index.concurrency ${config.concurrency}), ${sink.concurrency} at the end`);
  await failures.flush();
  for (const [type, n] of Object.entries(sink.failuresByType)) countReason(counters, "failed", type, n);
  const parentTally = sink.tallies.get(parent!.index) ?? { sent: 0, indexed: 0, failed: 0 };
  counters.written = parentTally.indexed;

  job.setTask("restoring settings and refreshing", 92);
  for (const [i, target] of targets.entries()) {
    // null puts Elasticsearch's default back; the typings do not allow it.
    await whileReachable(() => es.indices.putSettings({ index: target.index, settings: servingSettings(bodies[i]!.settings) as Record<string, unknown> }), signal);
    await whileReachable(() => es.indices.refresh({ index: target.index }), signal);
  }

  job.setTask("checking document counts", 96);
  const documents: Record<string, number> = {};
  for (const target of targets) {
    const tally = sink.tallies.get(target.index) ?? { sent: 0, indexed: 0, failed: 0 };
    const expected = tally.sent - tally.failed;
    const actual = await whileReachable(() => countDocuments(es, target.index), signal);
    documents[target.index] = actual;
    if (actual !== expected) {
      throw new SluiceError(
        `index ${target.index} holds ${actual} documents but ${tally.sent} were sent and ${tally.failed} reported failed (expected ${expected})`,
        { hint: "documents were lost in Elasticsearch; check its logs, then run the index stage again" },
      );
    }
  }
  if (twin) {
    job.setTask(`cloning ${parent!.index} into ${twin.index} without ${keptOut.count.toLocaleString("en-US")} documents`, 97);
    const made = await cloneFilteredTwin(es, parent!.index, twin.index, keptOut, owner, generation.number, servingSettings(config.body.settings), {
      signal,
      onRetry: (reason, ids) => {
        countReason(counters, "retries", `twin_delete_${reason}`);
        log.warn(`bulk delete of ${ids} kept-out documents resent: ${reason}`);
      },
    }).finally(() => keptOut.discard());
    // The twin holds the full index minus the documents a term kept out.
    const expected = documents[parent!.index]! - made.deleted;
    documents[twin.index] = made.documents;
    if (made.documents !== expected) {
      throw new SluiceError(`filtered index ${twin.index} holds ${made.documents} documents, not ${parent!.index}'s ${documents[parent!.index]} minus the ${made.deleted} kept out (${expected})`, {
        hint: "documents were lost in Elasticsearch; check its logs, then run the index stage again",
      });
    }
    counters.keptOut = keptOut.count;
  }
  counters.documents = documents;
  const failed = sink.failed;
  await mergeGenerationStats(sql, dataset.name, generation.number, {
    documents,
    indexFailures: failed,
    indexedByJob: job.job.id,
  });
  if (failed > config.maxFailures) {
    throw new SluiceError(
      `${failed} documents failed to index, more than the ${config.maxFailures} tolerated (${Object.entries(sink.failuresByType).map(([k, v]) => `${k} ${v}`).join(", ")})`,
      { hint: `see \`sluice job show ${job.job.id}\` and sluice.row_failures; raise index.maxFailures only if that loss is acceptable` },
    );
  }
}

/**
 * Creates an index, replacing one of the same name only if it is ours (a crashed earlier attempt
 * may have left a half-filled one, or its create request may still land after our delete; so
 * retry on "exists"). Anything else at that name is refused, never deleted.
 */
export async function createFreshIndex(
  es: SearchClient,
  index: string,
  owner: IndexOwner,
  generation: number,
  body: { settings: Record<string, unknown>; mappings: Record<string, unknown>; aliases?: Record<string, Record<string, never>> },
): Promise<void> {
  const created = await withRetries(async () => {
    // Each call is tried again while the node restarts; a create whose answer was lost comes back
    // as "exists" (ours, so replaced below), a delete whose answer was lost as absent.
    if (await whileReachable(() => assertOwned(es, index, owner, "replace", { generation }))) await whileReachable(() => es.indices.delete({ index }, { ignore: [404] }));
    try {
      await whileReachable(() => es.indices.create({ index, ...body }));
      return { done: true };
    } catch (error) {
      // A create from a crashed earlier attempt may still land after our delete: delete and try again.
      if (!isIndexExists(error)) throw error;
      return { retry: "resource_already_exists_exception" };
    }
  }, { policy: RETRY_DEFAULTS.indexCreate });
  if ("exhausted" in created) {
    throw new SluiceError(`index ${index} was created again by someone else ${created.attempts} times while sluice replaced it`, {
      hint: "find the other process writing to this index name, or give this database its own SLUICE_INDEX_PREFIX",
    });
  }
}

/**
 * Whether a value (a toDocument's result) is a promise: a loop over every row awaits it only then,
 * since most toDocuments are synchronous and an await per row costs.
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === "function";
}

/** The dataset's mature table when the API database has it (Openverse's api_mature<media> joined on the key). */
export async function matureJoin(session: Session): Promise<MatureJoin | null> {
  const { matureTable, key } = session.dataset.table;
  if (!matureTable) return null;
  if (await tableInApiDatabase(session.sql, matureTable)) return { table: matureTable, key };
  session.log.info(`table.matureTable ${matureTable} does not exist in DATABASE_URL: maturity comes from the rows alone`);
  return null;
}

export function requireIndexConfig(dataset: Dataset): NonNullable<Dataset["index"]> {
  if (!dataset.index) {
    throw new SluiceError(`dataset ${dataset.name} has no index`, { hint: "declare `index` in its config to use the index stage" });
  }
  return dataset.index;
}
