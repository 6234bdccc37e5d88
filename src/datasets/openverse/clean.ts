/**
 * Openverse's data cleanup rules, as pure functions over decoded column values.
 *
 * Ported from WordPress/openverse:
 * - ingestion_server/ingestion_server/cleanup.py (TAG_DENYLIST, TAG_CONTAINS_DENYLIST,
 *   TAG_MIN_CONFIDENCE, CleanupFunctions.cleanup_tags / cleanup_url, TLS_CACHE), the
 *   ingestion server this project replaces;
 * - catalog/dags/data_refresh/filter_data.py (generate_tag_update_fragments), the Airflow
 *   task that replaced that cleanup in Openverse and fixed its tag lists;
 * - catalog/dags/common/storage/media.py (FILETYPE_EQUIVALENTS).
 */

/** One entry of the `tags` jsonb column: `{name, provider, accuracy?}`; other keys are kept. */
export interface Tag {
  name: string;
  provider?: string;
  /** Machine-generated tags carry a confidence in [0, 1]; the catalog sometimes stores it as a string. */
  accuracy?: number | string;
  [key: string]: unknown;
}

/** What `cleanTags` removes. Denylist entries and fragments are compared lowercased. */
export interface TagRules {
  /** Tag names dropped when they equal one of these. */
  denylist: readonly string[];
  /** Tag names dropped when they contain one of these. */
  denylistFragments: readonly string[];
  /** Tags with an `accuracy` below this are dropped. */
  minAccuracy: number;
  /** Tags whose `provider` is one of these are dropped (unvetted tag sources). */
  deniedProviders?: readonly string[];
}

/**
 * The rules the ingestion server applied (ingestion_server/cleanup.py). Kept for comparison:
 * its fragment "by" also drops ordinary tags such as "baby", "hobby" or "nearby".
 */
export const ingestionServerTagRules: TagRules = Object.freeze({
  denylist: Object.freeze([
    "no person",
    "squareformat",
    "uploaded:by=flickrmobile",
    "uploaded:by=instagram",
    "flickriosapp:filter=flamingo",
  ]),
  denylistFragments: Object.freeze([
    "flickriosapp",
    "uploaded",
    ":",
    "=",
    "cc0",
    "by",
    "by-nc",
    "by-nd",
    "by-sa",
    "by-nc-nd",
    "by-nc-sa",
    "pdm",
  ]),
  minAccuracy: 0.9,
});

/**
 * Openverse's current tag rules (catalog/dags/data_refresh/filter_data.py): as the
 * ingestion server's, except that "by" must match the whole tag, and tags from the
 * unvetted "rekognition" provider are dropped.
 */
export const defaultTagRules: TagRules = Object.freeze({
  denylist: Object.freeze([
    "no person",
    "squareformat",
    "uploaded:by=flickrmobile",
    "uploaded:by=instagram",
    "flickriosapp:filter=flamingo",
    "by",
  ]),
  denylistFragments: Object.freeze([
    "flickriosapp",
    "uploaded",
    ":",
    "=",
    "cc0",
    "by-nc",
    "by-nd",
    "by-sa",
    "by-nc-nd",
    "by-nc-sa",
    "pdm",
  ]),
  minAccuracy: 0.9,
  deniedProviders: Object.freeze(["rekognition"]),
});

/** How many tags each rule removed; a tag is counted under the first rule that removes it. */
export interface TagRemovalCounts {
  /** Not an object with a string `name`, or an `accuracy` that is not a number. */
  malformed_tag: number;
  low_accuracy: number;
  denied_provider: number;
  denylisted: number;
  denylisted_fragment: number;
}

/** The outcome of `cleanTags`. */
export interface CleanTagsResult {
  /** The tags to store: `null` stays `null`; kept tags are the input objects, unchanged. */
  tags: Tag[] | null;
  /** Whether `tags` differs from the input, i.e. the column needs rewriting. */
  changed: boolean;
  removed: TagRemovalCounts;
  /** The column held something other than a JSON array (`{}`, a string, a number...) and was coerced. */
  malformed: boolean;
}

interface CompiledTagRules {
  denylist: ReadonlySet<string>;
  /** Every fragment in one pattern: a single scan of the name instead of one per fragment. */
  fragments: RegExp | null;
  minAccuracy: number;
  deniedProviders: ReadonlySet<string>;
}

const compiledRules = new WeakMap<TagRules, CompiledTagRules>();

function compile(rules: TagRules): CompiledTagRules {
  let compiled = compiledRules.get(rules);
  if (!compiled) {
    compiled = {
      denylist: new Set(rules.denylist.map((t) => t.toLowerCase())),
      fragments: rules.denylistFragments.length
        ? new RegExp(rules.denylistFragments.map((t) => t.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"))
        : null,
      minAccuracy: rules.minAccuracy,
      deniedProviders: new Set(rules.deniedProviders ?? []),
    };
    compiledRules.set(rules, compiled);
  }
  return compiled;
}

/**
 * Removes denylisted, low-accuracy, unvetted and malformed tags.
 *
 * `tags` is the decoded jsonb value. Openverse's code assumes a JSON array and skips
 * anything falsy; we also coerce what the catalog really holds: `{}` (seen in the sample)
 * and other non-arrays become `[]`, an object that is itself one tag becomes `[tag]`, and
 * a string holding a JSON array (double-encoded) is decoded; each sets `malformed`.
 */
export function cleanTags(tags: unknown, rules: TagRules = defaultTagRules): CleanTagsResult {
  const removed: TagRemovalCounts = {
    malformed_tag: 0,
    low_accuracy: 0,
    denied_provider: 0,
    denylisted: 0,
    denylisted_fragment: 0,
  };
  if (tags === null || tags === undefined) return { tags: null, changed: false, removed, malformed: false };

  let list: unknown[];
  let malformed = false;
  if (Array.isArray(tags)) {
    list = tags;
  } else {
    malformed = true;
    list = coerceToList(tags);
  }

  const compiled = compile(rules);
  let kept: Tag[] | null = malformed ? [] : null; // allocated on the first removal
  for (let i = 0; i < list.length; i++) {
    const tag = list[i];
    const reason = removalReason(tag, compiled);
    if (reason === null) {
      if (kept) kept.push(tag as Tag);
      continue;
    }
    removed[reason]++;
    if (!kept) kept = list.slice(0, i) as Tag[];
  }
  if (!kept) return { tags: list as Tag[], changed: false, removed, malformed };
  return { tags: kept, changed: true, removed, malformed };
}

function coerceToList(tags: unknown): unknown[] {
  if (typeof tags === "string") {
    try {
      const decoded: unknown = JSON.parse(tags);
      if (Array.isArray(decoded)) return decoded;
    } catch {
      // Not JSON: a bare string is no tag list.
    }
    return [];
  }
  if (isPlainObject(tags) && typeof tags.name === "string") return [tags];
  return [];
}

function removalReason(tag: unknown, rules: CompiledTagRules): keyof TagRemovalCounts | null {
  if (!isPlainObject(tag) || typeof tag.name !== "string") return "malformed_tag";
  if ("accuracy" in tag && tag.accuracy !== null) {
    const accuracy = pythonFloat(tag.accuracy);
    if (accuracy === undefined) return "malformed_tag";
    if (accuracy < rules.minAccuracy) return "low_accuracy";
  }
  if (typeof tag.provider === "string" && rules.deniedProviders.has(tag.provider)) return "denied_provider";
  const name = tag.name.toLowerCase();
  if (rules.denylist.has(name)) return "denylisted";
  if (rules.fragments?.test(name)) return "denylisted_fragment";
  return null;
}

const FLOAT_TEXT = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const FLOAT_SPECIAL_TEXT = /^\s*([+-]?)(nan|inf|infinity)\s*$/i;

/** Python's float() on a JSON value: numbers, booleans and numeric strings; else undefined. */
function pythonFloat(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value !== "string") return undefined;
  if (FLOAT_TEXT.test(value)) return Number(value);
  const special = FLOAT_SPECIAL_TEXT.exec(value);
  if (!special) return undefined;
  if ((special[2] as string).toLowerCase() === "nan") return Number.NaN;
  return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- URLs

/**
 * The columns whose URLs get a scheme. Openverse's cleanup covered url, creator_url and
 * foreign_landing_url; thumbnail is added here because it has the same problem.
 */
export const URL_FIELDS = ["url", "thumbnail", "foreign_landing_url", "creator_url"] as const;

/** One of `URL_FIELDS`. */
export type UrlField = (typeof URL_FIELDS)[number];

// A scheme per RFC 3986; "example.com:8080/x" is a host and port, not the scheme "example.com".
const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const HOST_AND_PORT = /^[^:/?#]*:\d+(?:[/?#]|$)/;

/**
 * Gives a scheme to a URL that has none: `//host/x` → `https://host/x`,
 * `www.flickr.com/x` → `https://www.flickr.com/x`. No network probing (Openverse probed
 * TLS for unknown hosts; see `knownSchemeForUrl` for the hosts it knew).
 *
 * Left alone: null, "" (Openverse skips empty values), URLs with a scheme, and
 * root-relative paths such as `/x`, which have no host to complete.
 */
export function addUrlScheme(url: string | null, scheme = "https"): { url: string | null; changed: boolean } {
  if (url === null || url === "") return { url, changed: false };
  if (HAS_SCHEME.test(url) && !HOST_AND_PORT.test(url)) return { url, changed: false };
  const trimmed = url.trim();
  if (trimmed === "") return { url, changed: false };
  if (trimmed.startsWith("//")) return { url: `${scheme}:${trimmed}`, changed: true };
  if (trimmed.startsWith("/")) return { url, changed: false };
  return { url: `${scheme}://${trimmed}`, changed: true };
}

// Openverse's TLS_CACHE (ingestion_server/cleanup.py): hosts whose TLS support it knew
// without probing. Keys are tldextract's "subdomain.domain.suffix", so a host without a
// subdomain appears with a leading dot.
const KNOWN_TLS_SUPPORT: ReadonlyMap<string, boolean> = new Map([
  ["www.flickr.com", true],
  ["commons.wikimedia.org", true],
  [".geograph.org.uk", true],
  ["www.geograph.org.uk", true],
  [".eol.org", true],
  ["www.eol.org", true],
  [".digitaltmuseum.org", true],
  ["collections.musee-mccord.qc.ca", false],
]);

/**
 * The scheme Openverse knew a URL's host to need ("http" for hosts without TLS), or
 * undefined when the host is not in its list.
 */
export function knownSchemeForUrl(url: string): "http" | "https" | undefined {
  const host = url
    .trim()
    .replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:(?=\/\/)/, "")
    .replace(/^\/\//, "")
    .split(/[/?#]/, 1)[0]
    ?.replace(/:\d*$/, "")
    .toLowerCase();
  if (!host) return undefined;
  const tls = KNOWN_TLS_SUPPORT.get(host) ?? KNOWN_TLS_SUPPORT.get(`.${host}`);
  if (tls === undefined) return undefined;
  return tls ? "https" : "http";
}

/** `addUrlScheme` with the scheme Openverse knew for the host, else https. */
export function addOpenverseUrlScheme(url: string | null): { url: string | null; changed: boolean } {
  if (url === null) return { url, changed: false };
  return addUrlScheme(url, knownSchemeForUrl(url) ?? "https");
}

// ---------------------------------------------------------------- file types

// catalog/dags/common/storage/media.py FILETYPE_EQUIVALENTS.
const FILETYPE_EQUIVALENTS: Readonly<Record<string, string>> = { jpeg: "jpg", tif: "tiff" };

/** Lowercases a file type and maps Openverse's equivalents (jpeg → jpg, tif → tiff). */
export function normalizeFiletype(filetype: string | null | undefined): string | null {
  if (filetype === null || filetype === undefined) return null;
  const lower = filetype.trim().toLowerCase();
  if (lower === "") return null;
  return FILETYPE_EQUIVALENTS[lower] ?? lower;
}
