/**
 * Content-addressed payload storage: a blob's name is the sha256 of its bytes, so the same payload
 * is stored once however many rows point at it, and a write is idempotent.
 *
 *   directory (default): $SLUICE_BLOB_DIR/ab/cd/abcd… (temp file, then rename: never half-written)
 *   S3: s3://$SLUICE_BLOB_S3_BUCKET/$SLUICE_BLOB_S3_PREFIX/ab/cd/abcd… through Bun.S3Client, which
 *       reads the standard S3_* / AWS_* credentials, region and endpoint from the environment
 */
import { copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { SluiceError } from "../errors.ts";

export interface BlobStore {
  /** Stores the bytes; returns their sha256 (hex). */
  put(bytes: Uint8Array): Promise<string>;
  read(sha256: string): Promise<Uint8Array>;
  /** The blob's bytes as a stream, for payloads too large to hold (a 40 MB document and its parse). */
  readStream(sha256: string): Promise<ReadableStream<Uint8Array>>;
  has(sha256: string): Promise<boolean>;
  /** Removes the blob; a missing blob is not an error. */
  delete(sha256: string): Promise<void>;
  /**
   * Moves a local file whose sha256 the caller computed while writing it into the store, without
   * reading it into memory. Returns false when the blob was already there. The file is gone after.
   */
  putFile(path: string, sha256: string): Promise<boolean>;
  /** Where blobs live, for logs. */
  readonly location: string;
  /** A local directory for files on their way in: on the store's filesystem when it is a directory, so putFile renames. */
  readonly stagingDir: string;
}

export const DEFAULT_BLOB_DIR = "./.sluice/blobs";

export function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

const SHA = /^[0-9a-f]{64}$/;

function shardedPath(sha256: string): string {
  if (!SHA.test(sha256)) throw new SluiceError(`"${sha256.slice(0, 80)}" is not a sha256 blob name`);
  return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

export class DirectoryBlobStore implements BlobStore {
  readonly location: string;
  readonly stagingDir: string;
  #counter = 0;
  constructor(dir: string) {
    this.location = resolve(dir);
    this.stagingDir = join(this.location, ".staging");
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    const path = join(this.location, shardedPath(sha));
    // No existence check first: rewriting an identical blob is harmless (same name, same bytes, an
    // atomic rename), and skipping the stat is a third of the cost of a put. Bun.write creates the
    // shard directories when they are missing.
    const temp = `${path}.tmp-${process.pid}-${++this.#counter}`;
    await Bun.write(temp, bytes);
    await rename(temp, path);
    return sha;
  }

  async putFile(path: string, sha256: string): Promise<boolean> {
    const target = join(this.location, shardedPath(sha256));
    if (await this.has(sha256)) {
      await rm(path, { force: true });
      return false;
    }
    await mkdir(dirname(target), { recursive: true });
    // One rename when the file is on the store's filesystem (stagingDir is); otherwise a copy to a
    // temp name first, so the blob is never seen half-written.
    await rename(path, target).catch(async () => {
      const temp = `${target}.tmp-${process.pid}-${++this.#counter}`;
      await copyFile(path, temp);
      await rename(temp, target);
      await rm(path, { force: true });
    });
    return true;
  }

  async read(sha256: string): Promise<Uint8Array> {
    const file = Bun.file(join(this.location, shardedPath(sha256)));
    if (!(await file.exists())) throw missingBlob(sha256, this.location);
    return file.bytes();
  }

  async readStream(sha256: string): Promise<ReadableStream<Uint8Array>> {
    const file = Bun.file(join(this.location, shardedPath(sha256)));
    if (!(await file.exists())) throw missingBlob(sha256, this.location);
    return file.stream();
  }

  async has(sha256: string): Promise<boolean> {
    return stat(join(this.location, shardedPath(sha256))).then(
      () => true,
      () => false,
    );
  }

  async delete(sha256: string): Promise<void> {
    await rm(join(this.location, shardedPath(sha256)), { force: true });
  }
}

export class S3BlobStore implements BlobStore {
  readonly location: string;
  readonly stagingDir = join(tmpdir(), "sluice-staging");
  readonly #client: Bun.S3Client;
  readonly #prefix: string;
  constructor(bucket: string, prefix = "") {
    this.#client = new Bun.S3Client({ bucket });
    this.#prefix = prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix;
    this.location = `s3://${bucket}/${this.#prefix}`;
  }

  #key(sha256: string): string {
    return `${this.#prefix}${shardedPath(sha256)}`;
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    if (!(await this.has(sha))) await this.#client.write(this.#key(sha), bytes);
    return sha;
  }

  async putFile(path: string, sha256: string): Promise<boolean> {
    try {
      if (await this.has(sha256)) return false;
      await this.#client.write(this.#key(sha256), Bun.file(path));
      return true;
    } finally {
      await rm(path, { force: true });
    }
  }

  async read(sha256: string): Promise<Uint8Array> {
    try {
      return await this.#client.file(this.#key(sha256)).bytes();
    } catch (error) {
      throw missingBlob(sha256, this.location, error);
    }
  }

  async readStream(sha256: string): Promise<ReadableStream<Uint8Array>> {
    if (!(await this.has(sha256))) throw missingBlob(sha256, this.location);
    return this.#client.file(this.#key(sha256)).stream();
  }

  has(sha256: string): Promise<boolean> {
    return this.#client.exists(this.#key(sha256));
  }

  async delete(sha256: string): Promise<void> {
    await this.#client.delete(this.#key(sha256));
  }
}

function missingBlob(sha256: string, location: string, cause?: unknown): SluiceError {
  return new SluiceError(`payload ${sha256} is not in the blob store at ${location}`, {
    hint: "the store was emptied or moved; run `sluice reload` for the dataset again",
    cause,
  });
}

/** The store the environment asks for: S3 when SLUICE_BLOB_S3_BUCKET is set, else a directory. */
export function blobStoreFromEnv(env: Record<string, string | undefined> = process.env): BlobStore {
  const bucket = env.SLUICE_BLOB_S3_BUCKET?.trim();
  if (bucket) return new S3BlobStore(bucket, env.SLUICE_BLOB_S3_PREFIX?.trim() ?? "");
  return new DirectoryBlobStore(env.SLUICE_BLOB_DIR?.trim() || DEFAULT_BLOB_DIR);
}
