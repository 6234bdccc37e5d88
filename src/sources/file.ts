/**
 * The built-in `file` sync source: CSV, TSV or JSONL, one file or a glob (Bun.Glob), each file
 * streamed (csv-parse for CSV and TSV, line by line for JSONL), so memory does not grow with the
 * file. A record's id is its `table.key` field; its version is `versionField`, or a sha256 of the
 * record. Files are not sorted by id, so the source says `ordered: false` and sync sorts through
 * Postgres. `changed` compares each file's size and modification time with the last sync's.
 */
import { parse } from "csv-parse";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { extname, isAbsolute, resolve } from "node:path";
import type { FileSourceConfig } from "../config/types.ts";
import { SluiceError } from "../errors.ts";
import type { Source, SourceContext, SourceRecord, SourceState } from "./types.ts";

const FORMATS: Record<string, "csv" | "tsv" | "jsonl"> = { ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl" };

export class FileSource implements Source {
  readonly ordered = false;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly context: SourceContext,
    private readonly cwd = process.cwd(),
  ) {}

  /** The files the path names, sorted; a plain path must exist. */
  async files(): Promise<string[]> {
    const { path } = this.config;
    if (!/[*?[{]/.test(path)) {
      const file = isAbsolute(path) ? path : resolve(this.cwd, path);
      if (!(await Bun.file(file).exists())) throw this.#missing(`file ${path} does not exist`);
      return [file];
    }
    const glob = new Bun.Glob(isAbsolute(path) ? path.slice(1) : path);
    const root = isAbsolute(path) ? "/" : this.cwd;
    const found: string[] = [];
    for await (const file of glob.scan({ cwd: root, absolute: true, onlyFiles: true })) found.push(file);
    return found.sort();
  }

  async ping(): Promise<void> {
    const files = await this.files();
    if (files.length === 0) throw this.#missing(`no file matches ${this.config.path}`);
    for (const file of files) this.#format(file);
  }

  async changed(state: SourceState | null): Promise<boolean> {
    if (!state) return true;
    return JSON.stringify(await this.state()) !== JSON.stringify(state);
  }

  async state(): Promise<SourceState> {
    const files: Record<string, string> = {};
    for (const file of await this.files()) {
      const s = await stat(file);
      files[file] = `${s.size}:${s.mtimeMs}`;
    }
    return { files };
  }

  async *docs(signal: AbortSignal): AsyncIterable<SourceRecord> {
    for (const file of await this.files()) {
      let line = 0;
      for await (const doc of this.#records(file)) {
        line++;
        const id = doc[this.context.key];
        if (id === undefined || id === null || id === "") {
          throw new SluiceError(`${file}: record ${line} has no ${this.context.key} (the dataset's table.key)`, { hint: "give every record an id, or set table.key to the id field" });
        }
        const field = this.config.versionField;
        const version = field ? String(doc[field] ?? "") : new Bun.CryptoHasher("sha256").update(JSON.stringify(doc)).digest("hex").slice(0, 32);
        yield { id: String(id), version, doc };
        if (signal.aborted) return;
      }
    }
  }

  #format(file: string): "csv" | "tsv" | "jsonl" {
    const format = this.config.format ?? FORMATS[extname(file).toLowerCase()];
    if (!format) throw new SluiceError(`cannot tell the format of ${file} from its extension`, { hint: 'set sync.source.format to "csv", "tsv" or "jsonl"' });
    return format;
  }

  async *#records(file: string): AsyncIterable<Record<string, unknown>> {
    const format = this.#format(file);
    if (format === "jsonl") {
      let n = 0;
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        n++;
        if (!line.trim()) continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (error) {
          throw new SluiceError(`${file}:${n}: not JSON (${(error as Error).message})`, { hint: "each line of a JSONL file must be one JSON object" });
        }
        if (!value || typeof value !== "object" || Array.isArray(value)) throw new SluiceError(`${file}:${n}: not a JSON object`, { hint: "each line of a JSONL file must be one JSON object" });
        yield value as Record<string, unknown>;
      }
      return;
    }
    const parser = createReadStream(file).pipe(parse({ columns: true, delimiter: format === "tsv" ? "\t" : ",", bom: true, skip_empty_lines: true, ...(format === "tsv" ? { quote: false } : {}) }));
    try {
      for await (const record of parser) yield record as Record<string, unknown>;
    } catch (error) {
      throw new SluiceError(`${file}: ${(error as Error).message}`, { hint: `fix the ${format.toUpperCase()} file` });
    }
  }

  #missing(what: string): SluiceError {
    return new SluiceError(`the sync source of dataset ${this.context.dataset}: ${what}`, { hint: "fix sync.source.path (relative to the working directory)" });
  }
}
