/**
 * A stored payload read in parts for validation, and a place to write a cleaned document without
 * holding it: a temp file in the blob store's staging directory, hashed while written, moved into
 * the store only once it validates.
 */
import { mkdir, open, rm } from "node:fs/promises";
import { type BlobStore, stagingPath } from "../../adapters/blob-store.ts";
import { utf8Parts } from "../../datasets/iati/xml-stream.ts";
import type { PayloadParts } from "./check-payload.ts";

/**
 * `first` is the stream already opened (to learn that the blob exists); later reads open their own.
 * `collect` runs after each part: the garbage of parsing one batch is collected before it piles up.
 */
export function storedPayloadParts(store: BlobStore, sha256: string, first: ReadableStream<Uint8Array>, collect: () => void): PayloadParts {
  let opened: ReadableStream<Uint8Array> | null = first;
  return {
    async read() {
      const stream = opened ?? (await store.readStream(sha256));
      opened = null;
      return collectingAfterEach(utf8Parts(stream), collect);
    },
    async keepCleaned(parts, accept) {
      await mkdir(store.stagingDir, { recursive: true });
      const temp = stagingPath(store);
      try {
        const hasher = new Bun.CryptoHasher("sha256");
        // node:fs, not Bun's FileSink: a FileSink reports a full disk only as an unhandled error.
        const file = await open(temp, "w");
        const encoder = new TextEncoder();
        try {
          for await (const part of parts) {
            const bytes = encoder.encode(part);
            hasher.update(bytes);
            await file.write(bytes);
          }
        } finally {
          await file.close();
        }
        const sha = hasher.digest("hex");
        if (!(await accept(async () => collectingAfterEach(utf8Parts(Bun.file(temp).stream()), collect)))) return null;
        await store.putFile(temp, sha);
        return sha;
      } finally {
        await rm(temp, { force: true });
      }
    },
  };
}

async function* collectingAfterEach(parts: AsyncIterable<string>, collect: () => void): AsyncGenerator<string> {
  for await (const part of parts) {
    yield part;
    collect();
  }
}
