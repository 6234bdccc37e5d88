/**
 * Which sensitive terms a document contains, for the filtered twin of an index: whole words,
 * case-insensitive, cut at Unicode word boundaries (UAX #29, as Elasticsearch's standard tokenizer
 * cuts them), in the fields named (dotted paths; lists are searched element by element). A term of
 * several words matches those words in a row.
 *
 *   matcher(["cat"]) · { title: "Black CAT, white dog" } → ["cat"];  { title: "category" } → []
 *
 * Most documents hold no term at all: a case-insensitive substring test of every term at once
 * clears them without cutting a single word, so the twin costs little per document.
 */

const segmenter = new Intl.Segmenter("und", { granularity: "word" });

/** The lower-cased words of a text, as the standard tokenizer would find them. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const s of segmenter.segment(text)) if (s.isWordLike) out.push(s.segment.toLowerCase());
  return out;
}

export interface SensitiveMatcher {
  /** The terms found in the document's fields, each once, in the order of the terms list. */
  match(document: Record<string, unknown>): string[];
}

/** Terms as given (blank lines and `#` comments dropped), each cut into words. */
export function parseTermsFile(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

export function sensitiveMatcher(terms: readonly string[], fields: readonly string[]): SensitiveMatcher {
  const parsed = terms.map((term) => ({ term, words: words(term) })).filter((t) => t.words.length > 0);
  if (parsed.length === 0) return { match: () => [] };
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // A prefilter only: it may pass documents that hold no whole word (`category` for `cat`).
  const anyTerm = new RegExp(parsed.map((t) => t.words.map(escape).join("[^]*?")).join("|"), "iu");
  const paths = fields.map((f) => f.split("."));
  return {
    match(document) {
      const texts: string[] = [];
      for (const path of paths) collectText(document, path, 0, texts);
      const candidates = texts.filter((t) => anyTerm.test(t));
      if (candidates.length === 0) return [];
      const found = new Set<string>();
      for (const text of candidates) {
        const tokens = words(text);
        for (const { term, words: termWords } of parsed) {
          if (!found.has(term) && containsRun(tokens, termWords)) found.add(term);
        }
      }
      return parsed.map((t) => t.term).filter((t) => found.has(t));
    },
  };
}

function containsRun(tokens: string[], run: string[]): boolean {
  outer: for (let i = 0; i + run.length <= tokens.length; i++) {
    for (let j = 0; j < run.length; j++) if (tokens[i + j] !== run[j]) continue outer;
    return true;
  }
  return false;
}

/** The strings at a dotted path, descending into lists at any level. */
function collectText(value: unknown, path: string[], at: number, out: string[]): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) collectText(item, path, at, out);
    return;
  }
  if (at === path.length) {
    if (typeof value === "string") out.push(value);
    return;
  }
  if (typeof value === "object") collectText((value as Record<string, unknown>)[path[at]!], path, at + 1, out);
}
