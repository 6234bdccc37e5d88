/**
 * The validate stage: checks every downloaded, not yet validated payload of staging and stores one
 * report per row in sluice.validation_reports.
 *
 *   staging __gN (keyset pages) → blob → checkPayload → report row + row state (+ cleaned blob)
 *                                              └─ invalid → FloodWatch → flag publisher, skip the rest
 *
 * A partly valid IATI document is cleaned: its valid activities are stored as a blob of their own
 * and indexed; the report still lists every error of the original. XML payloads are read from the
 * blob store as streams and checked a batch of activities at a time, so a document near the 50 MiB
 * cap needs no more memory than a small one.
 */
import type { BlobStore } from "../../adapters/blob-store.ts";
import { ident, type Sql } from "../../adapters/postgres.ts";
import { countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import type { Generation } from "../../generations/store.ts";
import type { JobHandle } from "../job-runner.ts";
import { throwIfAborted, type Session } from "../session.ts";
import { periodicCollector } from "../memory.ts";
import { checkPayload, type CheckOptions, checkXmlParts, compileJsonSchema, type PayloadCheck } from "./check-payload.ts";
import { storedPayloadParts } from "./payload-parts.ts";
import { FloodWatch, flaggedPublishers, flagPublisher, recentInvalidCounts } from "./publishers.ts";

const PAGE = 200;

interface Checked {
  id: string;
  publisher: string | null;
  sha: string;
  check: PayloadCheck;
  cleanedSha: string | null;
}

export async function validatePayloads(session: Session, job: JobHandle, generation: Generation, store: BlobStore): Promise<void> {
  const { dataset, sql, signal, log, slack } = session;
  const rules = dataset.validate!;
  const table = ident(generation.tableName);
  const counters = job.counters;
  const failures = new RowFailureLog(sql, job.job.id);
  const options: CheckOptions = {
    format: dataset.payload!.format,
    maxBytes: rules.maxBytes,
    maxDepth: rules.maxDepth,
    jsonValidator: compileJsonSchema(rules.jsonSchema),
  };

  job.setTask(`counting rows of ${generation.tableName} to validate`, 0);
  const [c] = await sql.unsafe(`
    SELECT count(*)::int AS total,
      count(*) FILTER (WHERE blob_sha256 IS NULL)::int AS not_downloaded,
      count(*) FILTER (WHERE blob_sha256 IS NOT NULL AND validated_at IS NOT NULL)::int AS validated
    FROM ${table}`);
  counters.read = c!.total;
  if (c!.not_downloaded) countReason(counters, "skipped", "not_downloaded", c!.not_downloaded);
  if (c!.validated) countReason(counters, "skipped", "already_validated", c!.validated);
  const todo = c!.total - c!.not_downloaded - c!.validated;

  const flagged = await flaggedPublishers(sql, dataset.name);
  const watch = new FloodWatch(await recentInvalidCounts(sql, dataset.name, rules.flagWindowHours), rules.flagThreshold);
  const flag = async (publisher: string, count: number) => {
    const reason = `${count} schema-invalid documents within ${rules.flagWindowHours} h (threshold ${rules.flagThreshold})`;
    await flagPublisher(sql, dataset.name, publisher, count, reason);
    flagged.add(publisher);
    log.warn(`publisher ${publisher} flagged: ${reason}; its documents are skipped until \`sluice publisher unflag ${dataset.name} ${publisher}\``);
    slack.notify(`validate ${dataset.name}: publisher ${publisher} flagged (${reason}); its documents are skipped until unflagged`);
  };
  for (const [publisher, count] of watch.over()) if (!flagged.has(publisher)) await flag(publisher, count);

  job.setTask(`validating ${todo.toLocaleString("en-US")} payloads`, 1);
  const progress = startProgress({ label: `validate ${dataset.name}`, unit: "docs", total: todo });
  const tally = { valid: 0, cleaned: 0, invalid: 0 };
  let last = "";
  // Often: a large document's parts make garbage fast (libxml2 wrappers, strings), and Bun's
  // collector would let it grow past the document's own size.
  const collect = periodicCollector(50);
  try {
    for (;;) {
      throwIfAborted(signal);
      const rows = await sql.unsafe(
        `SELECT id, publisher, blob_sha256 FROM ${table}
         WHERE blob_sha256 IS NOT NULL AND validated_at IS NULL AND id > $1 ORDER BY id LIMIT ${PAGE}`,
        [last],
      );
      if (rows.length === 0) break;
      last = rows.at(-1)!.id as string;
      const checked: Checked[] = [];
      for (const row of rows) {
        const id = row.id as string;
        const publisher = (row.publisher as string | null) || null;
        progress.tick();
        if (publisher && flagged.has(publisher)) {
          countReason(counters, "skipped", "publisher_flagged");
          continue;
        }
        const sha = row.blob_sha256 as string;
        let stream: ReadableStream<Uint8Array>;
        try {
          stream = await store.readStream(sha);
        } catch (error) {
          countReason(counters, "failed", "blob_missing");
          failures.add({ key: id, reason: "blob_missing", detail: (error as Error).message });
          continue;
        }
        const { check, cleanedSha } = await checkStored(store, sha, stream, options, collect);
        checked.push({ id, publisher, sha, check, cleanedSha });
        if (check.reason) {
          tally.invalid++;
          countReason(counters, "failed", check.reason);
          const first = check.issues.find((i) => i.severity !== "warning");
          failures.add({ key: id, reason: check.reason, detail: first ? `${first.line}:${first.column} ${first.message}` : undefined });
        } else {
          counters.written++;
          if (cleanedSha) tally.cleaned++;
          else tally.valid++;
        }
        if (!check.valid && publisher) {
          const crossed = watch.invalid(publisher);
          if (crossed !== null && !flagged.has(publisher)) await flag(publisher, crossed);
        }
      }
      await storeReports(sql, dataset.name, generation.tableName, job.job.id, checked);
      collect();
      await failures.flush();
      counters.validation = { ...tally };
      job.setPercent(1 + (progress.done / Math.max(1, todo)) * 98);
    }
  } finally {
    progress.stop();
    await failures.flush().catch(() => {});
  }
  counters.validation = { ...tally };
}

/**
 * XML is checked while read in parts (a large IATI document is never held whole); JSON, which has
 * no such structure, is read whole.
 */
async function checkStored(
  store: BlobStore,
  sha: string,
  stream: ReadableStream<Uint8Array>,
  options: CheckOptions,
  collect: () => void,
): Promise<{ check: PayloadCheck; cleanedSha: string | null }> {
  if (options.format === "xml") return checkXmlParts(storedPayloadParts(store, sha, stream, collect), options);
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const check = checkPayload(new TextDecoder().decode(bytes), options);
  return { check, cleanedSha: null };
}

/** One INSERT for the reports of a page, one UPDATE for the rows' state. */
async function storeReports(sql: Sql, dataset: string, table: string, jobId: number, checked: Checked[]): Promise<void> {
  if (checked.length === 0) return;
  const reports = checked.map((c) => ({
    dataset,
    item_key: c.id,
    publisher: c.publisher,
    job_id: jobId,
    blob_sha256: c.sha,
    valid: c.check.valid,
    activities_total: c.check.activitiesTotal,
    activities_valid: c.check.activitiesValid,
    errors: c.check.issues,
    error_count: c.check.errorCount,
  }));
  const ids = await sql.unsafe(
    `INSERT INTO sluice.validation_reports (dataset, item_key, publisher, job_id, blob_sha256, valid, activities_total, activities_valid, errors, error_count)
     SELECT dataset, item_key, publisher, job_id, blob_sha256, valid, activities_total, activities_valid, errors, error_count
     FROM json_to_recordset($1::text::json) AS x(dataset text, item_key text, publisher text, job_id bigint, blob_sha256 text, valid boolean,
       activities_total integer, activities_valid integer, errors jsonb, error_count integer)
     RETURNING id, item_key`,
    [JSON.stringify(reports)],
  );
  const reportOf = new Map(ids.map((r) => [r.item_key as string, r.id as string]));
  const states = checked.map((c) => ({
    id: c.id,
    valid: c.check.reason === null,
    report_id: reportOf.get(c.id) ?? null,
    activities: c.check.activitiesValid,
    activities_invalid: c.check.activitiesTotal === null ? null : c.check.activitiesTotal - (c.check.activitiesValid ?? 0),
    cleaned_sha256: c.cleanedSha,
  }));
  await sql.unsafe(
    `UPDATE ${ident(table)} t SET validated_at = now(), valid = x.valid, report_id = x.report_id, activities = x.activities,
       activities_invalid = x.activities_invalid, cleaned_sha256 = x.cleaned_sha256
     FROM json_to_recordset($1::text::json) AS x(id text, valid boolean, report_id bigint, activities integer, activities_invalid integer, cleaned_sha256 text)
     WHERE t.id = x.id`,
    [JSON.stringify(states)],
  );
}

export interface StoredReport {
  id: number;
  dataset: string;
  itemKey: string;
  publisher: string | null;
  jobId: number | null;
  blobSha256: string | null;
  valid: boolean;
  activitiesTotal: number | null;
  activitiesValid: number | null;
  errorCount: number;
  errors: { line: number; column: number; severity: string; message: string; activity?: string }[];
  createdAt: Date;
}

export async function findReport(sql: Sql, id: number): Promise<StoredReport | null> {
  const [r] = await sql`select * from sluice.validation_reports where id = ${id}`;
  if (!r) return null;
  return {
    id: Number(r.id),
    dataset: r.dataset,
    itemKey: r.item_key,
    publisher: r.publisher,
    jobId: r.job_id === null ? null : Number(r.job_id),
    blobSha256: r.blob_sha256,
    valid: r.valid,
    activitiesTotal: r.activities_total,
    activitiesValid: r.activities_valid,
    errorCount: r.error_count,
    errors: r.errors,
    createdAt: r.created_at,
  };
}
