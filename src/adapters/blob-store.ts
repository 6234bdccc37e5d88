/**
 * Content-addressed payload storage: a blob's name is the sha256 of its bytes, so the same payload
 * is stored once however many rows point at it, and a write is idempotent.
 *
 *   directory (default ./.sluice/blobs, under the working directory): $SLUICE_BLOB_DIR/<namespace>/ab/cd/abcd…,
 *     written to $SLUICE_BLOB_DIR/.tmp/<host>-<pid>-<n> first, then renamed: never half-written. A
 *     failed write removes its temp file; `prepare` sweeps those of processes that died mid-write.
 *   S3: s3://$SLUICE_BLOB_S3_BUCKET/$SLUICE_BLOB_S3_PREFIX/<namespace>/ab/cd/abcd… through Bun.S3Client, which
 *       reads the standard S3_* / AWS_* credentials, region and endpoint from the environment
 *
 * The namespace is the owner's (generations/dataset-blobs.ts: the API database's identity and the
 * dataset): a store shared by datasets, databases and ingest is written and deleted in one owner's
 * part only, so one dataset's clean-up never deletes a payload another still reads. Blobs of sluice
 * before namespaces (ab/cd/abcd… at the root) are still read, and never deleted.
 */
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ConfigError, SluiceError } from "../errors.ts";
import { processAlive } from "../process-alive.ts";

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
  /**
   * Makes sure the store can be written before a stage relies on it (a directory that is a file,
   * read-only or full fails here with one line naming it), and removes temp files that processes
   * which died mid-write left behind. Returns how many it removed.
   */
  prepare(): Promise<{ swept: number }>;
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
  /** Temp files on their way into the store: one flat directory, so a sweep is one readdir. */
  readonly tempDir: string;
  #counter = 0;
  readonly #tempPrefix = `${safeHost()}-${process.pid}-`;
  readonly #namespace: string;
  /** `namespace`: the owner's part of the store (a relative path), "" for the root. */
  constructor(dir: string, namespace = "") {
    this.location = resolve(dir);
    this.stagingDir = join(this.location, ".staging");
    this.tempDir = join(this.location, ".tmp");
    this.#namespace = checkedNamespace(namespace);
  }

  /** Where the blob is written, and where it is read first. */
  #path(sha256: string): string {
    return join(this.location, this.#namespace, shardedPath(sha256));
  }

  /** The blob's path in this namespace, else at the root (written before namespaces), else null. */
  async #existing(sha256: string): Promise<string | null> {
    const own = this.#path(sha256);
    if (await exists(own)) return own;
    const legacy = join(this.location, shardedPath(sha256));
    return this.#namespace && (await exists(legacy)) ? legacy : null;
  }

  async prepare(): Promise<{ swept: number }> {
    const probe = join(this.tempDir, `${this.#tempPrefix}probe`);
    try {
      await mkdir(this.tempDir, { recursive: true });
      await writeFile(probe, "sluice");
    } catch (error) {
      throw blobDirError(error, this.location, "prepare");
    } finally {
      await rm(probe, { force: true }).catch(() => {});
    }
    // Files on their way in (downloads, cleaned documents) are named like temp files and swept too.
    return { swept: (await sweepTemps(this.tempDir)) + (await sweepTemps(this.stagingDir)) };
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    const path = this.#path(sha);
    // No existence check first: rewriting an identical blob is harmless (same name, same bytes, an
    // atomic rename), and skipping the stat is a third of the cost of a put.
    const temp = this.#tempPath();
    try {
      await Bun.write(temp, bytes);
      await renameCreatingDir(temp, path);
    } catch (error) {
      // A full disk leaves a partly written temp file: never keep it.
      await rm(temp, { force: true }).catch(() => {});
      throw blobDirError(error, this.location, "write");
    }
    return sha;
  }

  async putFile(path: string, sha256: string): Promise<boolean> {
    const target = this.#path(sha256);
    // Only this namespace counts: a copy elsewhere may be deleted by its owner.
    if (await exists(target)) {
      await rm(path, { force: true });
      return false;
    }
    try {
      await mkdir(dirname(target), { recursive: true });
    } catch (error) {
      throw blobDirError(error, this.location, "write");
    }
    // One rename when the file is on the store's filesystem (stagingDir is); otherwise a copy to a
    // temp name first, so the blob is never seen half-written.
    await rename(path, target).catch(async () => {
      const temp = this.#tempPath();
      try {
        await mkdir(this.tempDir, { recursive: true });
        await copyFile(path, temp);
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true }).catch(() => {});
        throw blobDirError(error, this.location, "write");
      }
      await rm(path, { force: true });
    });
    return true;
  }

  async read(sha256: string): Promise<Uint8Array> {
    const path = await this.#existing(sha256);
    if (!path) throw missingBlob(sha256, this.location);
    return Bun.file(path).bytes();
  }

  async readStream(sha256: string): Promise<ReadableStream<Uint8Array>> {
    const path = await this.#existing(sha256);
    if (!path) throw missingBlob(sha256, this.location);
    return Bun.file(path).stream();
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.#existing(sha256)) !== null;
  }

  /** Removes the blob from this namespace only. */
  async delete(sha256: string): Promise<void> {
    await rm(this.#path(sha256), { force: true });
  }

  #tempPath(): string {
    return join(this.tempDir, `${this.#tempPrefix}${++this.#counter}`);
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A namespace is a relative path of plain segments: nothing in it can reach outside the store. */
function checkedNamespace(namespace: string): string {
  if (namespace && !/^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/.test(namespace)) throw new SluiceError(`"${namespace.slice(0, 80)}" is not a blob store namespace`);
  return namespace;
}

/** Renames, creating the target's shard directory the first time one is needed. */
async function renameCreatingDir(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
    await mkdir(dirname(to), { recursive: true });
    await rename(from, to);
  }
}

let stagingCounter = 0;

/**
 * A new path in `store.stagingDir` for a file on its way into the store, named as temp files are
 * (host, pid, number), so that {@link BlobStore.prepare} sweeps it if this process dies first.
 */
export function stagingPath(store: Pick<BlobStore, "stagingDir">): string {
  return join(store.stagingDir, `${safeHost()}-${process.pid}-${++stagingCounter}`);
}

function safeHost(): string {
  return hostname().replace(/[^A-Za-z0-9.]/g, "_") || "host";
}

/** Temp files older than this whose host is another machine (a shared mount) are swept too. */
const FOREIGN_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Removes temp files left by processes that are gone: this host's whose pid is not running, and
 * other hosts' older than a day. A running process's files are never touched.
 */
export async function sweepTemps(tempDir: string, isAlive: (pid: number) => boolean = processAlive): Promise<number> {
  const names = await readdir(tempDir).catch(() => [] as string[]);
  const host = safeHost();
  let swept = 0;
  for (const name of names) {
    const match = /^(.+)-(\d+)-(?:\d+|probe)$/.exec(name);
    if (!match) continue;
    const [, owner, pid] = match;
    const path = join(tempDir, name);
    let stale: boolean;
    if (owner === host) stale = !isAlive(Number(pid));
    else stale = await stat(path).then((s) => Date.now() - s.mtimeMs > FOREIGN_TEMP_MAX_AGE_MS, () => false);
    if (!stale) continue;
    await rm(path, { force: true });
    swept++;
  }
  return swept;
}


/**
 * One line for a file-system error in the blob directory, naming the path and the fix: a path that
 * is a file or cannot be written is configuration (exit 2); a full disk is a failure (exit 1).
 */
export function blobDirError(error: unknown, dir: string, doing: "prepare" | "write"): SluiceError {
  const code = (error as { code?: string })?.code ?? "";
  const setting = `SLUICE_BLOB_DIR (${dir})`;
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return new SluiceError(`the blob store ${dir} is out of space (${code}: no space left on device)`, {
        hint: "free space on that filesystem or point SLUICE_BLOB_DIR at a larger one, then run the command again; what was stored so far is kept",
        cause: error,
      });
    case "ENOTDIR":
    case "EEXIST":
      return new ConfigError(`${setting} is not a directory: a file is in the way (${code})`, "point SLUICE_BLOB_DIR at a directory, or move that file", error);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new ConfigError(
        `${setting} is not writable (${code}${code === "EROFS" ? ": read-only file system" : ": permission denied"})`,
        "make it writable for this user, or point SLUICE_BLOB_DIR at a writable directory",
        error,
      );
    default:
      return new SluiceError(`cannot ${doing === "prepare" ? "create or write" : "write to"} the blob store ${dir}: ${(error as Error)?.message ?? String(error)}`, {
        hint: "check SLUICE_BLOB_DIR and the filesystem it is on",
        cause: error,
      });
  }
}

export class S3BlobStore implements BlobStore {
  readonly location: string;
  readonly stagingDir = join(tmpdir(), "sluice-staging");
  readonly #client: Bun.S3Client;
  readonly #prefix: string;
  readonly #namespace: string;
  /** `namespace`: as for DirectoryBlobStore, under the prefix. */
  constructor(bucket: string, prefix = "", namespace = "") {
    this.#client = new Bun.S3Client({ bucket });
    this.#prefix = prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix;
    this.location = `s3://${bucket}/${this.#prefix}`;
    const checked = checkedNamespace(namespace);
    this.#namespace = checked ? `${checked}/` : "";
  }

  #key(sha256: string): string {
    return `${this.#prefix}${this.#namespace}${shardedPath(sha256)}`;
  }

  /** The blob's key in this namespace, else at the prefix's root (written before namespaces), else null. */
  async #existing(sha256: string): Promise<string | null> {
    const own = this.#key(sha256);
    if (await this.#client.exists(own)) return own;
    const legacy = `${this.#prefix}${shardedPath(sha256)}`;
    return this.#namespace && (await this.#client.exists(legacy)) ? legacy : null;
  }

  /** S3 writes an object whole or not at all: nothing to check or sweep here. */
  async prepare(): Promise<{ swept: number }> {
    return { swept: 0 };
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256Hex(bytes);
    if (!(await this.#client.exists(this.#key(sha)))) await this.#client.write(this.#key(sha), bytes);
    return sha;
  }

  async putFile(path: string, sha256: string): Promise<boolean> {
    try {
      // Only this namespace counts: a copy elsewhere may be deleted by its owner.
      if (await this.#client.exists(this.#key(sha256))) return false;
      await this.#client.write(this.#key(sha256), Bun.file(path));
      return true;
    } finally {
      await rm(path, { force: true });
    }
  }

  async read(sha256: string): Promise<Uint8Array> {
    const key = await this.#existing(sha256);
    if (!key) throw missingBlob(sha256, this.location);
    try {
      return await this.#client.file(key).bytes();
    } catch (error) {
      throw missingBlob(sha256, this.location, error);
    }
  }

  async readStream(sha256: string): Promise<ReadableStream<Uint8Array>> {
    const key = await this.#existing(sha256);
    if (!key) throw missingBlob(sha256, this.location);
    return this.#client.file(key).stream();
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.#existing(sha256)) !== null;
  }

  /** Removes the blob from this namespace only. */
  async delete(sha256: string): Promise<void> {
    await this.#client.delete(this.#key(sha256));
  }
}

function missingBlob(sha256: string, location: string, cause?: unknown): SluiceError {
  return new SluiceError(`payload ${sha256} is not in the blob store at ${location}`, {
    // Not "run reload": reload downloads rows without a payload, and this row has one, elsewhere.
    hint: "the store was emptied, moved, or this command points elsewhere: set SLUICE_BLOB_DIR (or SLUICE_BLOB_S3_BUCKET and SLUICE_BLOB_S3_PREFIX) to the store the payloads were written to",
    cause,
  });
}

/**
 * The store the environment asks for (S3 when SLUICE_BLOB_S3_BUCKET is set, else a directory), in
 * the owner's namespace (generations/dataset-blobs.ts gives it).
 */
export function blobStoreFromEnv(namespace: string, env: Record<string, string | undefined> = process.env): BlobStore {
  const bucket = env.SLUICE_BLOB_S3_BUCKET?.trim();
  if (bucket) return new S3BlobStore(bucket, env.SLUICE_BLOB_S3_PREFIX?.trim() ?? "", namespace);
  return new DirectoryBlobStore(env.SLUICE_BLOB_DIR?.trim() || DEFAULT_BLOB_DIR, namespace);
}
