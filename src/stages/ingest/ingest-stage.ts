/**
 * `sluice ingest <bundle.tar>`: one job under the `bundles` lock that accepts a whole bundle or
 * nothing of it.
 *
 *   lock bundles → job → receive (stream, stage, hash, check) → refuse on any problem
 *     → same fingerprint already stored? report it → blobs into the store → rows in one transaction
 *
 * A refused or failed ingest publishes nothing: no rows are committed, staged files are removed,
 * and blobs it moved into the store are deleted unless an accepted bundle points at them.
 */
import { rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { BlobStore } from "../../adapters/blob-store.ts";
import { bundleBlobStore } from "../../generations/dataset-blobs.ts";
import { whileDatabaseReachable } from "../../adapters/postgres.ts";
import { UsageError } from "../../errors.ts";
import { type Counters, countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import { type JobHandle, runAsJob } from "../job-runner.ts";
import { periodicCollector } from "../memory.ts";
import { assertLockHeld, type LockedSession, openLockedSession, throwIfAborted } from "../session.ts";
import { findBundle, insertBundle, unreferencedBlobs } from "./bundle-store.ts";
import { bundleFingerprint } from "./metadata.ts";
import { INGEST_DEFAULTS, type IngestOptions } from "./options.ts";
import { type ReceivedBundle, receiveBundle } from "./receive.ts";
import { BundleRejectedError, fileProblemsError } from "./rejection.ts";
import { freshStagingDir } from "./staging.ts";

/** The lock and job name of every ingest: bundles are one flow, ingested one at a time. */
export const BUNDLES = "bundles";

export interface IngestReport {
  dataset: typeof BUNDLES;
  job: number;
  /** accepted: stored now; already_ingested: the same bundle was stored before, nothing changed. */
  outcome: "accepted" | "already_ingested";
  bundle: number;
  fingerprint: string;
  archive: { name: string; sha256: string; bytes: number };
  files: number;
  bytes: number;
  /** The job that stored the bundle (this one, unless it was already ingested). */
  storedByJob: number | null;
  counters: Counters;
}

export async function ingestBundle(file: string, options: Partial<IngestOptions> = {}): Promise<IngestReport> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new UsageError(`bundle ${file} ${info ? "is not a file" : "does not exist"}`, "pass the path of a .tar bundle");
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const limits: IngestOptions = { ...INGEST_DEFAULTS, ...Object.fromEntries(given) };
  const session = await openLockedSession("ingest", { name: BUNDLES });
  try {
    return await runAsJob(session, { stage: "ingest", publishes: true }, (job) => ingestInJob(session, job, file, info.size, limits));
  } finally {
    await session.close();
  }
}

async function ingestInJob(session: LockedSession, job: JobHandle, file: string, size: number, limits: IngestOptions): Promise<IngestReport> {
  const { sql, signal } = session;
  const store = await bundleBlobStore(sql);
  const failures = new RowFailureLog(sql, job.job.id);
  const stagingDir = await freshStagingDir(store.stagingDir, job.job.id);
  const progress = startProgress({ label: `ingest ${basename(file)}`, unit: "bytes", total: size });
  let counted = false;
  try {
    job.setTask(`reading ${basename(file)}`, 0);
    let read = 0;
    const collect = periodicCollector();
    const received = await receiveBundle(file, {
      stagingDir,
      options: limits,
      signal,
      onBytes: (n) => {
        read += n;
        progress.tick(n);
        collect();
        job.setPercent(size ? (read / size) * 90 : 90);
      },
    }).finally(() => progress.stop());
    job.counters.read = received.filesRead;
    job.counters.archive_bytes = received.archive.bytes;
    if (received.problems.length) {
      for (const p of received.problems) {
        countReason(job.counters, "failed", p.reason);
        failures.add({ key: p.path, reason: p.reason, detail: p.detail });
      }
      counted = true;
      await failures.flush();
      throw fileProblemsError(received.problems);
    }
    return await publish(session, job, store, file, received);
  } catch (error) {
    if (error instanceof BundleRejectedError && !counted) {
      countReason(job.counters, "failed", error.reason);
      failures.add({ key: null, reason: error.reason, detail: error.message });
      await failures.flush().catch(() => {});
    }
    throw error;
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
}

async function publish(session: LockedSession, job: JobHandle, store: BlobStore, file: string, received: ReceivedBundle): Promise<IngestReport> {
  const { sql, signal, log } = session;
  const { metadata, archive } = received;
  const fingerprint = bundleFingerprint(metadata);
  await assertLockHeld(session);
  const report = (outcome: IngestReport["outcome"], bundle: number, storedByJob: number | null): IngestReport => ({
    dataset: BUNDLES,
    job: job.job.id,
    outcome,
    bundle,
    fingerprint,
    archive: { name: basename(file), ...archive },
    files: metadata.files.length,
    bytes: metadata.files.reduce((sum, f) => sum + f.size, 0),
    storedByJob,
    counters: job.counters,
  });
  const existing = await findBundle(sql, fingerprint);
  if (existing) {
    countReason(job.counters, "skipped", "already_ingested", metadata.files.length);
    job.setTask(`already ingested as bundle ${existing.id}; nothing changed`, 100);
    return report("already_ingested", existing.id, existing.jobId);
  }
  job.setTask(`storing ${metadata.files.length} files in ${store.location}`, 90);
  const created: string[] = [];
  const blobs = new Map<string, string>();
  try {
    for (const f of metadata.files) {
      throwIfAborted(signal);
      const staged = received.staged.get(f.path)!;
      if (await store.putFile(staged.tempPath, staged.sha256)) created.push(staged.sha256);
      blobs.set(f.path, staged.sha256);
    }
    throwIfAborted(signal);
    job.setTask("recording the bundle", 95);
    const id = await insertBundle(sql, { fingerprint, jobId: job.job.id, archive: { name: basename(file), ...archive }, metadata, blobs });
    job.counters.written = metadata.files.length;
    log.info(`bundle ${id}: ${metadata.files.length} files accepted`);
    return report("accepted", id, job.job.id);
  } catch (error) {
    // Take back what this ingest added to the store, unless an accepted bundle uses it too; asked
    // again while the database restarts (that may be why the publish failed), else they stay.
    for (const sha of await whileDatabaseReachable(() => unreferencedBlobs(sql, created)).catch(() => [])) await store.delete(sha).catch(() => {});
    throw error;
  }
}
