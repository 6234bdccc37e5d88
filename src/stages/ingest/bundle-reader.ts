/**
 * Reads a bundle as a stream of its plain files, refusing what a hostile archive could hold. The
 * archive is never loaded whole: bytes flow file → (gunzip) → tar decoder → the caller, one entry
 * at a time, and the caller must consume or cancel each body before asking for the next.
 *
 *   file ─ count + sha256 ─▶ [gunzip] ─▶ tar decoder ─▶ checks ─▶ ArchiveFile…
 *
 * Refused: entries that are not a tar at all, absolute or `..` paths, links, devices and fifos,
 * a path twice, files over the size cap (metadata.txt has its own), more entries than the entry cap.
 */
import { createTarDecoder, type TarHeader } from "modern-tar";
import { METADATA_FILE } from "./metadata.ts";
import { type IngestOptions, formatBytes } from "./options.ts";
import { normalizeBundlePath, UNSAFE_PATH_TEXT } from "./paths.ts";
import { BundleRejectedError } from "./rejection.ts";

export interface ArchiveFile {
  /** Normalized path (see paths.ts). */
  path: string;
  size: number;
  /** The file's bytes; iterate them or call `skip()`, before the next entry. */
  chunks(): AsyncIterable<Uint8Array>;
  skip(): Promise<void>;
}

export interface ArchiveSummary {
  /** sha256 of the bundle file as given (compressed, if it was). */
  sha256: string;
  bytes: number;
}

const MAKE_IT_SAFE = "build the bundle from plain files and directories only, with paths relative to its root";

export class BundleReader {
  readonly #file: string;
  readonly #options: IngestOptions;
  readonly #onBytes: (bytes: number) => void;
  readonly #hasher = new Bun.CryptoHasher("sha256");
  #bytes = 0;

  /** `onBytes` is told of every chunk read from the file, for progress. */
  constructor(file: string, options: IngestOptions, onBytes: (bytes: number) => void = () => {}) {
    this.#file = file;
    this.#options = options;
    this.#onBytes = onBytes;
  }

  /** Complete once `files()` has been read to the end. */
  summary(): ArchiveSummary {
    return { sha256: this.#hasher.digest("hex"), bytes: this.#bytes };
  }

  async *files(): AsyncGenerator<ArchiveFile> {
    const seen = new Set<string>();
    let entries = 0;
    const iterator = (await this.#entries())[Symbol.asyncIterator]();
    try {
      yield* this.#checked(iterator, seen, () => ++entries);
    } finally {
      // Stops reading the file when the caller gives up early (a refused entry, an interrupt).
      await iterator.return?.().catch(() => {});
    }
    if (entries === 0) throw this.#notATar(new Error("no entries"));
  }

  async *#checked(
    iterator: AsyncIterator<{ header: TarHeader; body: ReadableStream<Uint8Array> }>,
    seen: Set<string>,
    countEntry: () => number,
  ): AsyncGenerator<ArchiveFile> {
    while (true) {
      let next: IteratorResult<{ header: TarHeader; body: ReadableStream<Uint8Array> }>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw this.#notATar(error);
      }
      if (next.done) break;
      const { header, body } = next.value;
      if (countEntry() > this.#options.maxEntries) {
        await body.cancel();
        throw new BundleRejectedError("too_many_entries", `${this.#file} holds more than ${this.#options.maxEntries.toLocaleString("en-US")} entries`, "split it into smaller bundles, or raise --max-entries");
      }
      const path = this.#checkEntry(header);
      if (header.type === "directory") {
        await body.cancel();
        continue;
      }
      if (seen.has(path)) {
        throw new BundleRejectedError("duplicate_entry", `${path} appears twice in the tar`, "keep one copy of each file in the bundle");
      }
      seen.add(path);
      yield {
        path,
        size: header.size,
        chunks: () => this.#guard(body),
        skip: () => body.cancel(),
      };
    }
  }

  /** Checks one header; returns its normalized path. */
  #checkEntry(header: TarHeader): string {
    const name = header.name;
    const type = header.type ?? "file";
    if (type === "symlink" || type === "link") {
      throw new BundleRejectedError("link_entry", `${name} is a ${type === "link" ? "hard link" : "symlink"} to ${header.linkname || "?"}`, MAKE_IT_SAFE);
    }
    if (type !== "file" && type !== "directory") {
      throw new BundleRejectedError("special_entry", `${name} is a ${type} entry, not a file`, MAKE_IT_SAFE);
    }
    const normalized = normalizeBundlePath(name);
    if ("unsafe" in normalized) {
      throw new BundleRejectedError("unsafe_path", `entry ${JSON.stringify(name)} ${UNSAFE_PATH_TEXT[normalized.unsafe]}`, MAKE_IT_SAFE);
    }
    if (!Number.isSafeInteger(header.size) || header.size < 0) {
      throw new BundleRejectedError("not_a_tar", `${name} has an unreadable size in its tar header`, "rebuild the bundle with tar");
    }
    if (normalized.path === METADATA_FILE && header.size > this.#options.maxMetadataBytes) {
      throw new BundleRejectedError("too_large", `${METADATA_FILE} is ${formatBytes(header.size)}, over its ${formatBytes(this.#options.maxMetadataBytes)} limit`, "a metadata.txt that big is almost surely not one; check how the bundle was built");
    }
    if (normalized.path !== METADATA_FILE && header.size > this.#options.maxFileBytes) {
      throw new BundleRejectedError("too_large", `${normalized.path} is ${formatBytes(header.size)}, over the ${formatBytes(this.#options.maxFileBytes)} limit`, "raise --max-file-size if the file is meant to be that big");
    }
    return normalized.path;
  }

  async #entries(): Promise<AsyncIterable<{ header: TarHeader; body: ReadableStream<Uint8Array> }>> {
    const file = Bun.file(this.#file);
    const head = await file.slice(0, 2).bytes();
    const counted = file.stream().pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          this.#hasher.update(chunk);
          this.#bytes += chunk.length;
          this.#onBytes(chunk.length);
          controller.enqueue(chunk);
        },
      }),
    );
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const tar = gzip ? counted.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>) : counted;
    return tar.pipeThrough(createTarDecoder({ strict: true }));
  }

  /** The body's chunks, a decoder failure inside them reported as a broken archive. */
  async *#guard(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
    const reader = body.getReader();
    try {
      while (true) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (error) {
          throw this.#notATar(error);
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  #notATar(error: unknown): BundleRejectedError {
    if (error instanceof BundleRejectedError) return error;
    const why = (error as Error)?.message ?? String(error);
    return new BundleRejectedError("not_a_tar", `${this.#file} is not a readable tar archive (${why})`, "pass a .tar (or .tar.gz) file built with tar, and check that it was copied whole");
  }
}
