/**
 * Streams one file of a bundle to a staging file beside the blob store, hashing it on the way
 * (sha256 for its blob name, plus the hash types metadata.txt may ask for). Nothing is in the blob
 * store until the whole bundle checked out and `BlobStore.putFile` moves the staged files in.
 */
import { mkdir, open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { throwIfAborted } from "../session.ts";
import type { HashType } from "./metadata.ts";
import { processAlive } from "../../process-alive.ts";

export interface StagedFile {
  tempPath: string;
  size: number;
  sha256: string;
  digests: Partial<Record<HashType, string>>;
}

/** Writes `chunks` to `tempPath`; memory holds one chunk at a time. */
export async function stageFile(chunks: AsyncIterable<Uint8Array>, tempPath: string, algorithms: readonly HashType[], signal: AbortSignal): Promise<StagedFile> {
  const hashers = new Map<HashType, Bun.CryptoHasher>();
  for (const algorithm of new Set<HashType>([...algorithms, "sha256"])) hashers.set(algorithm, new Bun.CryptoHasher(algorithm));
  const handle = await open(tempPath, "w");
  let size = 0;
  try {
    for await (const chunk of chunks) {
      throwIfAborted(signal);
      for (const hasher of hashers.values()) hasher.update(chunk);
      for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
      size += chunk.length;
    }
  } finally {
    await handle.close();
  }
  const digests = Object.fromEntries([...hashers].map(([algorithm, hasher]) => [algorithm, hasher.digest("hex")]));
  return { tempPath, size, sha256: digests.sha256!, digests };
}

/**
 * A fresh staging directory for one ingest job, `ingest-<pid>-<job>`. Directories left by a process
 * that is gone (killed mid-ingest) are removed; a live process's are not, since another database's
 * ingest may share this blob store and its staging directory.
 */
export async function freshStagingDir(root: string, jobId: number): Promise<string> {
  await mkdir(root, { recursive: true });
  for (const name of await readdir(root)) {
    const pid = /^ingest-(\d+)-\d+$/.exec(name)?.[1];
    if (pid && !processAlive(Number(pid))) await rm(join(root, name), { recursive: true, force: true });
  }
  const dir = join(root, `ingest-${process.pid}-${jobId}`);
  await mkdir(dir);
  return dir;
}
