/**
 * Reads a bundle end to end: parses metadata.txt, stages each file (hashed while it streams) and
 * checks the lot against the metadata. Nothing leaves the staging directory here.
 *
 *   BundleReader ─▶ metadata.txt → parseMetadata
 *                └▶ data file → skip (unlisted or wrong size, when metadata came first) | stageFile
 *   end ─▶ checkFiles(metadata, archived) → problems
 *
 * Files before metadata.txt are hashed with every supported hash type, since their declared one is
 * not known yet; putting metadata.txt first in the tar saves that work.
 */
import { join } from "node:path";
import { throwIfAborted } from "../session.ts";
import { type ArchiveSummary, BundleReader } from "./bundle-reader.ts";
import { type BundleFile, type BundleMetadata, HASH_TYPES, type HashType, METADATA_FILE, parseMetadata } from "./metadata.ts";
import type { IngestOptions } from "./options.ts";
import { BundleRejectedError, type FileProblem } from "./rejection.ts";
import { type StagedFile, stageFile } from "./staging.ts";
import { type ArchivedFile, checkFiles } from "./verify.ts";

export interface ReceivedBundle {
  metadata: BundleMetadata;
  /** Staged files by path; only files that metadata.txt lists and that checked out are published. */
  staged: Map<string, StagedFile>;
  problems: FileProblem[];
  archive: ArchiveSummary;
  /** Data files found in the archive (metadata.txt not counted). */
  filesRead: number;
}

export interface ReceiveContext {
  stagingDir: string;
  options: IngestOptions;
  signal: AbortSignal;
  onBytes(bytes: number): void;
}

const ALL_HASH_TYPES = Object.keys(HASH_TYPES) as HashType[];

export async function receiveBundle(file: string, ctx: ReceiveContext): Promise<ReceivedBundle> {
  const reader = new BundleReader(file, ctx.options, ctx.onBytes);
  let metadata: BundleMetadata | null = null;
  let listed = new Map<string, BundleFile>();
  const archived = new Map<string, ArchivedFile>();
  const staged = new Map<string, StagedFile>();
  for await (const entry of reader.files()) {
    throwIfAborted(ctx.signal);
    if (entry.path === METADATA_FILE) {
      metadata = parseMetadata(await readText(entry.chunks()));
      listed = new Map(metadata.files.map((f) => [f.path, f]));
      continue;
    }
    const declared = listed.get(entry.path);
    if (metadata && (!declared || declared.size !== entry.size)) {
      // Unlisted, or the size alone already fails it: no need to read the bytes.
      archived.set(entry.path, { size: entry.size });
      await entry.skip();
      continue;
    }
    const algorithms = declared ? [declared.hashtype] : ALL_HASH_TYPES;
    const result = await stageFile(entry.chunks(), join(ctx.stagingDir, String(staged.size + 1)), algorithms, ctx.signal);
    staged.set(entry.path, result);
    archived.set(entry.path, { size: result.size, digests: result.digests });
  }
  if (!metadata) {
    throw new BundleRejectedError("missing_metadata", `${file} has no ${METADATA_FILE} at its root`, `add the ${METADATA_FILE} that lists the bundle's files (Pacifica's upload metadata)`);
  }
  return { metadata, staged, problems: checkFiles(metadata.files, archived), archive: reader.summary(), filesRead: archived.size };
}

/** metadata.txt's text (its size was checked first); bytes that are not UTF-8 refuse the bundle. */
async function readText(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(parts));
  } catch {
    throw new BundleRejectedError("bad_metadata", `${METADATA_FILE} is not UTF-8 text`, "save metadata.txt as UTF-8 JSON");
  }
}
