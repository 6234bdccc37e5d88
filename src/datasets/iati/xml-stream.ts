/**
 * Large IATI documents, read in parts: validation, cleaning and flattening that hold one batch of
 * activities at a time instead of the whole text and its tree (a 42 MB document took validation
 * to 757 MB and indexing to 2.9 GB when read whole).
 *
 *   bytes (stream) → utf8Parts → XmlSplitter → batches of activities → libxml2, one batch at a time
 */
import { type FlatActivity, type FlattenOptions, IatiFlattenError, iterateFlatActivities } from "./flatten.ts";
import { resolveLimits, type XmlLimits } from "./xml-guard.ts";
import { XmlSplitter } from "./xml-split.ts";
import {
  ActivitiesValidation,
  type ActivitiesValidationOptions,
  ActivityCutter,
  type ActivityPositions,
  BATCH_CHARS,
  type ValidationReport,
  type XmlCheckOptions,
} from "./xml-validate.ts";

/** Bytes decoded per part: large enough that per-part work is negligible, small beside the limits. */
const PART_BYTES = 1024 * 1024;

/**
 * Decodes a UTF-8 byte stream into text parts, as `new TextDecoder().decode(bytes)` would decode
 * the whole (a byte order mark is dropped, invalid bytes become U+FFFD).
 */
export async function* utf8Parts(stream: ReadableStream<Uint8Array>, partBytes = PART_BYTES): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    pending.push(chunk);
    size += chunk.byteLength;
    if (size < partBytes) continue;
    const text = decoder.decode(Buffer.concat(pending), { stream: true });
    pending = [];
    size = 0;
    if (text !== "") yield text;
  }
  const rest = decoder.decode(Buffer.concat(pending));
  if (rest !== "") yield rest;
}

/** Validates a document read in parts; see {@link ActivitiesValidation}. */
export async function validateActivityParts(
  parts: AsyncIterable<string>,
  options: XmlCheckOptions & ActivitiesValidationOptions = {},
): Promise<{ report: ValidationReport; cleanable: ActivityPositions | null }> {
  const validation = new ActivitiesValidation(resolveLimits(options.limits), options);
  for await (const part of parts) validation.push(part);
  const report = validation.end();
  return { report, cleanable: validation.cleanable() };
}

/** The document without the activities at the given positions (see {@link ActivityCutter}). */
export async function* withoutActivities(
  parts: AsyncIterable<string>,
  invalid: ActivityPositions,
  options: XmlCheckOptions = {},
): AsyncGenerator<string> {
  const splitter = new XmlSplitter(resolveLimits(options.limits));
  let out: string[] = [];
  const cutter = new ActivityCutter(invalid, (text) => out.push(text));
  for await (const part of parts) {
    for (const piece of splitter.push(part)) cutter.add(piece);
    if (out.length > 0) yield out.join("");
    out = [];
  }
  for (const piece of splitter.end()) cutter.add(piece);
  cutter.end();
  if (splitter.rejection) throw new Error(`cannot cut activities out of a refused document: ${splitter.rejection.message}`);
  if (out.length > 0) yield out.join("");
}

/**
 * Like {@link iterateFlatActivities} over the whole text, but flattening one batch of activities
 * at a time: each batch is parsed inside the document's own root start tag, so namespaces and the
 * dataset attributes are those of the whole document.
 *
 * @throws {IatiFlattenError} as iterateFlatActivities does.
 */
export async function* iterateFlatActivityParts(parts: AsyncIterable<string>, options: FlattenOptions = {}): AsyncGenerator<FlatActivity> {
  const limits: XmlLimits = resolveLimits(options.limits);
  const splitter = new XmlSplitter(limits);
  let rootTag = "";
  let beforeRoot = "";
  let batch: string[] = [];
  let chars = 0;
  let batches = 0;
  const flush = () => {
    const text = `${rootTag}${batch.join("")}${rootTag.endsWith("/>") ? "" : `</${splitter.rootName}>`}`;
    batch = [];
    chars = 0;
    batches++;
    return iterateFlatActivities(text, options);
  };
  const take = function* (pieces: ReturnType<XmlSplitter["push"]>) {
    for (const piece of pieces) {
      if (piece.kind === "prolog") {
        if (splitter.rootName === null) beforeRoot += piece.text;
        else rootTag = piece.text.slice(splitter.rootTagOffset);
      } else if (piece.oversized) {
        // Validation cuts such an activity out of the document it cleans, under the same limit, so
        // a document that reaches indexing never holds one; refuse rather than number ids wrongly.
        throw new IatiFlattenError(
          `XML could not be read (line ${piece.line}): an <iati-activity> of ${piece.oversized.bytes} bytes is over the limit of ${limits.maxPieceBytes} bytes for one activity; validate the document again`,
          "unreadable-xml",
        );
      } else if (piece.kind === "activity") {
        batch.push(piece.text);
        chars += piece.text.length;
        if (chars >= BATCH_CHARS) yield* flush();
      }
    }
  };
  for await (const part of parts) yield* take(splitter.push(part));
  yield* take(splitter.end());
  const rejection = splitter.rejection;
  if (rejection) throw new IatiFlattenError(`XML could not be read (line ${rejection.line}): ${rejection.message}`, "unreadable-xml", [rejection]);
  if (splitter.rootName === null) {
    // No root element: let the parser say what is wrong with what there is.
    yield* iterateFlatActivities(beforeRoot, options);
    return;
  }
  // The last batch; a document without activities still has its root checked.
  if (batch.length > 0 || batches === 0) yield* flush();
}
