/**
 * The built-in `registry` sync source: a CKAN registry's `package_search` listing (the one the
 * registry datasets' refresh reads, src/sources/registry.ts) as records, one a package:
 *
 *   id       the package id
 *   version  the registry's hash of the payload and metadata_modified (a rename changes only the
 *            latter); a hash of the metadata when the registry gives neither
 *   doc      { id, name, publisher, url, hash, modified }: the package's metadata
 *
 * The listing is read by offset, sorted by id, so that a package edited while it is read keeps
 * its place (CKAN's default order, newest first, would move it to a page already read). Offsets
 * still shift when a package is added or removed mid-listing, so a listing whose count changed
 * while it was read, or that ended before its count, throws after its last record: the sync then
 * fails before its deletions, so only what the listing positively passed over is ever deleted.
 * Records come in id order only if the registry honours `sort`, so the source says `ordered:
 * false` and sync sorts them through Postgres.
 *
 * `changed` asks for one row, newest first: the listing's count and newest metadata_modified. An
 * addition or an edit moves the newest; a removal lowers the count.
 */
import type { RegistrySyncSourceConfig } from "../config/types.ts";
import { SluiceError } from "../errors.ts";
import { fetchPage, listRegistry, pageUrl, type RegistryDocument } from "./registry.ts";
import type { Source, SourceContext, SourceRecord, SourceState } from "./types.ts";

/** CKAN's sort for a listing that an edit does not reorder. */
const STABLE_SORT = "id asc";
const NEWEST_FIRST = "metadata_modified desc";
const DEFAULT_PAGE_SIZE = 1000;

export class RegistrySource implements Source {
  readonly ordered = false;
  readonly #url: string;
  readonly #pageSize: number;
  /** Aborted by close(): ends a probe still waiting. */
  readonly #closing = new AbortController();

  constructor(
    config: RegistrySyncSourceConfig,
    private readonly context: SourceContext,
  ) {
    this.#url = config.url;
    this.#pageSize = config.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  async ping(): Promise<void> {
    await this.#probe(this.#closing.signal);
  }

  async changed(state: SourceState | null): Promise<boolean> {
    if (!state) return true;
    return JSON.stringify(await this.state()) !== JSON.stringify(state);
  }

  /** The URL, the listing's count and its newest metadata_modified. */
  async state(): Promise<SourceState> {
    const page = await this.#probe(this.#closing.signal);
    return { url: this.#url, count: page.count, newest: page.documents[0]?.modified ?? null };
  }

  async *docs(signal: AbortSignal): AsyncIterable<SourceRecord> {
    let first: number | null = null;
    let last = 0;
    let seen = 0;
    try {
      for await (const page of listRegistry(this.#url, { pageSize: this.#pageSize, signal, sort: STABLE_SORT })) {
        first ??= page.count;
        last = page.count;
        seen += page.listed;
        // A package without an id or a name cannot be a document; it is left out (the refresh lists it as a failure).
        for (const document of page.documents) yield this.#record(document);
      }
    } catch (error) {
      // A plain error, so that the sync wraps it: its line names the dataset, the records read and that nothing was deleted.
      if (error instanceof SluiceError) throw new Error(error.message, { cause: error });
      throw error;
    }
    if (signal.aborted) return;
    if (first !== null && first !== last) {
      throw new Error(`the registry's listing changed while it was read (${first} packages, then ${last}), so offsets moved and a package may have been skipped`);
    }
    if (seen < last) throw new Error(`the registry's listing ended after ${seen} of the ${last} packages it counts`);
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }

  #record(document: RegistryDocument): SourceRecord {
    // Neither a hash nor a time (a bare registry): the metadata itself is the version.
    const version = document.hash || document.modified ? `${document.hash}@${document.modified ?? ""}` : new Bun.CryptoHasher("sha256").update(JSON.stringify(document)).digest("hex").slice(0, 32);
    return { id: document.id, version, doc: { ...document, [this.context.key]: document.id } };
  }

  #probe(signal: AbortSignal) {
    return fetchPage(pageUrl(this.#url, 1, 0, NEWEST_FIRST), { signal });
  }
}
