/**
 * One payload from the web into the blob store without holding it: downloaded to a file, then read
 * back a part at a time, converted to UTF-8 and written to a second file while hashed, which moves
 * into the store. A payload near the 50 MiB cap costs a few parts of memory, not several copies.
 */
import { mkdir, open, rm } from "node:fs/promises";
import { type BlobStore, blobDirError, stagingPath } from "../../adapters/blob-store.ts";
import { SluiceError } from "../../errors.ts";
import { periodicCollector } from "../memory.ts";
import { BodyWriteError, DownloadError, type DownloadOptions, downloadToFile } from "../../adapters/http.ts";
import { CHARSET_HEAD_BYTES, decodePayloadParts } from "../../datasets/iati/charset.ts";

export type PayloadOutcome =
  | { ok: true; sha: string; charset: string; bytes: number }
  | { ok: false; code: number; detail: string; bytes: number | null };

export async function downloadPayload(store: BlobStore, url: string | null, options: DownloadOptions): Promise<PayloadOutcome> {
  const raw = stagingPath(store);
  const utf8 = stagingPath(store);
  try {
    try {
      await mkdir(store.stagingDir, { recursive: true });
    } catch (error) {
      throw blobDirError(error, store.location, "write");
    }
    // Received chunks are garbage once written; collected before they pile up (see stages/memory.ts).
    const got = await downloadToFileNamed(url, raw, { ...options, afterChunk: periodicCollector(50) }, store);
    if (!got.ok) return { ...got, bytes: null };
    return await decodeIntoStore(store, raw, utf8, got);
  } finally {
    await rm(raw, { force: true }).catch(() => {});
    await rm(utf8, { force: true }).catch(() => {});
  }
}

/** The downloaded file at `raw`, converted to UTF-8 through `utf8`, into the store. */
async function decodeIntoStore(store: BlobStore, raw: string, utf8: string, got: { bytes: number; contentType: string | null }): Promise<PayloadOutcome> {
  try {
    const file = Bun.file(raw);
    const head = new Uint8Array(await file.slice(0, CHARSET_HEAD_BYTES).arrayBuffer());
    // The parts' decoded text is garbage at once; collected before it piles up (see stages/memory.ts).
    const collect = periodicCollector(50);
    let hasher = new Bun.CryptoHasher("sha256");
    // node:fs, not Bun's FileSink: a FileSink reports a full disk only as an unhandled error.
    let out = await open(utf8, "w");
    const decoded = await decodePayloadParts(head, file.stream(), got.contentType ?? undefined, {
      async write(bytes) {
        hasher.update(bytes);
        await out.write(bytes);
        collect();
      },
      async restart() {
        await out.close();
        hasher = new Bun.CryptoHasher("sha256");
        out = await open(utf8, "w");
      },
      whole: () => file.bytes(),
    }).finally(() => out.close());
    if ("error" in decoded) return { ok: false, code: DownloadError.charset, detail: decoded.reason, bytes: got.bytes };
    const sha = hasher.digest("hex");
    await store.putFile(utf8, sha);
    return { ok: true, sha, charset: decoded.charset, bytes: got.bytes };
  } catch (error) {
    // Reading and writing local files only: whatever fails here is the blob store's filesystem.
    throw error instanceof SluiceError ? error : blobDirError(error, store.location, "write");
  }
}

/** {@link downloadToFile}; a staging directory that cannot be written is named like any blob store error. */
async function downloadToFileNamed(url: string | null, path: string, options: DownloadOptions & { afterChunk?: () => void }, store: BlobStore) {
  try {
    return await downloadToFile(url, path, options);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw blobDirError(error instanceof BodyWriteError ? error.cause : error, store.location, "write");
  }
}
