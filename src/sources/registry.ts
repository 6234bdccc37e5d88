/**
 * A CKAN-style registry (`package_search` with `rows` and `start`), as the IATI registry serves it:
 *
 *   GET <url>/package_search?rows=1000&start=0 → { success, result: { count, results: [package…] } }
 *
 * `parseRegistryPage` is pure and tolerant: a package without the fields a document needs becomes
 * a `RegistryProblem` (counted and listed by the caller), never an exception. `listRegistry` pages
 * through the whole listing and retries a page a few times before giving up.
 */
import { SluiceError } from "../errors.ts";
import { RETRY_DEFAULTS, withRetries } from "../retry.ts";

/** One document the registry lists. */
export interface RegistryDocument {
  /** The package id (stable across renames). */
  id: string;
  /** The package name, e.g. "publisher-activities-1". */
  name: string;
  /** The owning organisation's name; "" when the registry gives none. */
  publisher: string;
  /** The first resource's URL: the payload to download; null when the package has none. */
  url: string | null;
  /** The registry's hash of the payload (sha1 at IATI); "" when unknown. */
  hash: string;
  /** metadata_modified, as an ISO timestamp in UTC, or null. */
  modified: string | null;
}

/** A listed package that cannot become a document, and why. */
export interface RegistryProblem {
  key: string | null;
  reason: "missing_id" | "not_an_object";
  detail: string;
}

export interface RegistryPage {
  /** The total the registry reports across all pages. */
  count: number;
  documents: RegistryDocument[];
  problems: RegistryProblem[];
  /** Packages on this page, good or bad; 0 means the listing is exhausted. */
  listed: number;
}

/**
 * Parses one `package_search` response body.
 *
 *   { success: true, result: { count: 2, results: [{ id: "a1", name: "org-act", organization: { name: "org" },
 *     resources: [{ url: "https://org.example/act.xml", hash: "9f…" }], metadata_modified: "2024-05-01T10:00:00.123456" }] } }
 *   → { count: 2, listed: 1, documents: [{ id: "a1", name: "org-act", publisher: "org", url: "https://…", hash: "9f…",
 *       modified: "2024-05-01T10:00:00.123Z" }], problems: [] }
 *
 * @throws {SluiceError} when the body is not a successful package_search answer at all.
 */
export function parseRegistryPage(body: unknown): RegistryPage {
  const root = body as { success?: unknown; result?: { count?: unknown; results?: unknown } } | null;
  if (!root || typeof root !== "object" || root.success === false || !root.result || typeof root.result !== "object") {
    throw new SluiceError("the registry's answer is not a CKAN package_search result", {
      hint: "check that source.url ends at the API's action path, e.g. https://iatiregistry.org/api/3/action",
    });
  }
  const results = Array.isArray(root.result.results) ? root.result.results : [];
  const count = Number(root.result.count);
  const page: RegistryPage = { count: Number.isFinite(count) ? count : results.length, documents: [], problems: [], listed: results.length };
  for (const item of results) {
    if (!item || typeof item !== "object") {
      page.problems.push({ key: null, reason: "not_an_object", detail: String(item).slice(0, 200) });
      continue;
    }
    const pkg = item as Record<string, unknown>;
    const id = text(pkg.id) || text(pkg.name);
    if (!id) {
      page.problems.push({ key: null, reason: "missing_id", detail: JSON.stringify(pkg).slice(0, 200) });
      continue;
    }
    const resource = Array.isArray(pkg.resources) ? (pkg.resources.find((r) => r && typeof r === "object" && text((r as { url?: unknown }).url)) as Record<string, unknown> | undefined) : undefined;
    const organization = pkg.organization as { name?: unknown } | null | undefined;
    page.documents.push({
      id,
      name: text(pkg.name) || id,
      publisher: text(organization?.name) || text(pkg.owner_org),
      url: resource ? text(resource.url) : null,
      hash: resource ? text(resource.hash) : "",
      modified: timestamp(pkg.metadata_modified),
    });
  }
  return page;
}

function text(value: unknown): string {
  return typeof value === "string" ? value.trim() : typeof value === "number" ? String(value) : "";
}

/** CKAN writes UTC timestamps without a zone ("2024-05-01T10:00:00.123456"). */
function timestamp(value: unknown): string | null {
  const raw = text(value);
  if (!raw) return null;
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(raw) ? raw : `${raw}Z`;
  const date = new Date(zoned.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The URL of one page: `<base>/package_search?rows=…&start=…[&sort=…]`. */
export function pageUrl(base: string, rows: number, start: number, sort?: string): string {
  const url = new URL(`${base.replace(/\/+$/, "")}/package_search`);
  url.searchParams.set("rows", String(rows));
  url.searchParams.set("start", String(start));
  if (sort) url.searchParams.set("sort", sort);
  return url.toString();
}

export interface ListRegistryOptions {
  pageSize: number;
  signal: AbortSignal;
  /** @default 3 attempts per page */
  attempts?: number;
  /** @default 60000 ms per page */
  timeoutMs?: number;
  /** Called after each page with the packages seen so far and the registry's total. */
  onPage?(seen: number, count: number): void;
  /**
   * CKAN's `sort`, e.g. "id asc". @default the registry's own ("metadata_modified desc" at CKAN
   * without a query), under which a package edited mid-listing moves to a page already read.
   */
  sort?: string;
}

/** Yields every page of the listing, in order, until a page comes back empty or the count is reached. */
export async function* listRegistry(base: string, options: ListRegistryOptions): AsyncGenerator<RegistryPage> {
  let start = 0;
  for (;;) {
    const page = await fetchPage(pageUrl(base, options.pageSize, start, options.sort), options);
    if (page.listed === 0) return;
    start += page.listed;
    options.onPage?.(start, page.count);
    yield page;
    if (start >= page.count) return;
  }
}

/** One page of the listing (also the one-row probe of the sync source's `changed`). */
export async function fetchPage(url: string, options: Pick<ListRegistryOptions, "signal" | "attempts" | "timeoutMs">): Promise<RegistryPage> {
  const policy = { ...RETRY_DEFAULTS.registryPage, attempts: options.attempts ?? RETRY_DEFAULTS.registryPage.attempts };
  const outcome = await withRetries<RegistryPage>(
    async () => {
      options.signal.throwIfAborted();
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { accept: "application/json" },
          signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 60_000)]),
        });
      } catch (error) {
        if (options.signal.aborted) throw options.signal.reason;
        return { retry: (error as Error).message };
      }
      if (res.status >= 500 || res.status === 429) {
        await res.body?.cancel();
        return { retry: `HTTP ${res.status}` };
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new SluiceError(`the registry answered HTTP ${res.status} for ${url}`, { hint: "check source.url in the dataset's config (or IATI_REGISTRY_URL)" });
      }
      let body: unknown;
      try {
        body = await res.json();
      } catch (error) {
        throw new SluiceError(`the registry's answer for ${url} is not JSON: ${(error as Error).message}`, { hint: "check source.url" });
      }
      return { done: parseRegistryPage(body) };
    },
    { policy, signal: options.signal },
  );
  if ("done" in outcome) return outcome.done;
  // What this leaves unchanged is the caller's to say (a refresh's generation, a sync's deletions and cursor).
  throw new SluiceError(`the registry did not answer ${url} after ${outcome.attempts} attempts (${outcome.exhausted})`, {
    hint: "check that the registry is up, then run the command again",
  });
}
