/**
 * An example sync source of your own: every `*.json` file in a directory is one record, its id the
 * file name without `.json`, its version the file's size and modification time. Name it in a
 * dataset's config as
 *
 *   sync: { source: { kind: "module", module: "./examples/sources/json-directory.ts:JsonDirectorySource", options: { dir: "notes" } } }
 *
 * It lists the directory in no particular order, so it says `ordered: false` and sluice sorts the
 * records through Postgres. `docsSince` follows modification times, so `sluice sync --incremental`
 * works too; deleted files leave the index at the next full sync.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Source, SourceCursor, SourceRecord, SourceState } from "sluice";

export interface JsonDirectoryOptions {
  /** The directory, relative to the working directory. */
  dir: string;
}

export class JsonDirectorySource implements Source {
  readonly ordered = false;
  readonly #dir: string;

  constructor(options: JsonDirectoryOptions) {
    if (typeof options?.dir !== "string") throw new Error("JsonDirectorySource needs options.dir, the directory to read");
    this.#dir = resolve(options.dir);
  }

  async ping(): Promise<void> {
    await readdir(this.#dir);
  }

  async changed(state: SourceState | null): Promise<boolean> {
    return JSON.stringify(await this.state()) !== JSON.stringify(state);
  }

  /** The newest modification time and the file count: a deletion changes the count. */
  async state(): Promise<SourceState> {
    let newest = 0;
    let files = 0;
    for (const name of await this.#names()) {
      files++;
      newest = Math.max(newest, (await stat(join(this.#dir, name))).mtimeMs);
    }
    return { newest, files };
  }

  async cursor(): Promise<SourceCursor | null> {
    return String((await this.state()).newest);
  }

  async *docs(signal: AbortSignal): AsyncIterable<SourceRecord> {
    for (const name of await this.#names()) {
      if (signal.aborted) return;
      yield await this.#record(name);
    }
  }

  async *docsSince(cursor: SourceCursor, signal: AbortSignal): AsyncGenerator<SourceRecord, SourceCursor, undefined> {
    let next = Number(cursor);
    for (const name of await this.#names()) {
      if (signal.aborted) break;
      const modified = (await stat(join(this.#dir, name))).mtimeMs;
      if (modified <= Number(cursor)) continue;
      next = Math.max(next, modified);
      yield await this.#record(name);
    }
    return String(next);
  }

  async #names(): Promise<string[]> {
    return (await readdir(this.#dir)).filter((name) => name.endsWith(".json"));
  }

  async #record(name: string): Promise<SourceRecord> {
    const path = join(this.#dir, name);
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const id = name.slice(0, -".json".length);
    return { id, version: `${info.size}:${info.mtimeMs}`, doc: { ...(JSON.parse(text) as Record<string, unknown>), id } };
  }
}
