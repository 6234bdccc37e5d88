import {
  XmlCData,
  XmlComment,
  XmlElement,
  XmlText,
  type XmlAttribute,
  type XmlDocument,
  type XmlTreeNode,
} from "libxml2-wasm";
import { normaliseIatiDate } from "./dates.ts";
import { resolveLimits, type XmlLimits } from "./xml-guard.ts";
import type { XmlIssue } from "./xml-issue.ts";
import { parseXmlSafely } from "./xml-parse.ts";

/**
 * Port of IATI/refresher's "flatterer" (src/library/flatten.py, class Flattener): one
 * flat JSON object per `<iati-activity>`, keyed by attribute and element paths joined
 * with `_`, with repeated keys collected into lists.
 */

/** A flattened value: one string, or a list when the path occurs more than once. */
export type FlatValue = string | string[];

/** Flattened fields of one element subtree (e.g. one budget). */
export type FlatRecord = Record<string, FlatValue>;

/**
 * A flattened activity. Plain keys hold {@link FlatValue}s; the keys `@budget` and
 * `@transaction` (one per sub-list element present) hold each child flattened alone.
 */
export type FlatActivity = Record<string, FlatValue | FlatRecord[]>;

/** Dataset-level (`<iati-activities>`) attributes copied onto each activity. */
export interface DatasetAttributes {
  version?: string;
  generatedDatetime?: string;
  linkedDataDefault?: string;
}

/** Options for flattening. */
export interface FlattenOptions {
  /**
   * Activity children that are also flattened one by one into `@<name>` lists.
   * Default: transaction and budget, the refresher's exploded elements.
   */
  subListElements?: readonly string[];
  /** Overrides of the XML safety limits. */
  limits?: Partial<XmlLimits>;
  /**
   * Called after each element is flattened. Flattening one large activity is one synchronous run
   * that makes garbage faster than the collector frees it (a 2 MiB activity took the JS heap to
   * 85 MB); a caller bounding memory collects here (see stages/memory.ts).
   */
  afterElement?: () => void;
}

/** Why a document could not be flattened. */
export type FlattenErrorCode = "not-iati" | "unreadable-xml";

/** Thrown when a document cannot be flattened; carries the XML issues when there are any. */
export class IatiFlattenError extends Error {
  override readonly name = "IatiFlattenError";
  constructor(
    message: string,
    readonly code: FlattenErrorCode,
    readonly issues: readonly XmlIssue[] = [],
  ) {
    super(message);
  }
}

/** Flattened one by one by default: the two sub-lists the refresher's fixtures show (its EXPLODE_ELEMENTS setting). */
export const DEFAULT_SUB_LIST_ELEMENTS: readonly string[] = Object.freeze(["transaction", "budget"]);

/** Values under these keys fall back to the activity's default-currency, as in the refresher. */
const VALUES_WITH_DEFAULT_CURRENCY = new Set(["budget_value", "transaction_value", "planned_disbursement_value"]);

/** Keys containing any of these are dates (substring test, as in the refresher). */
const DATE_KEY_MARKERS = ["iso_date", "value_date", "extraction_date", "_datetime"];

const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace";

/**
 * Flattens every activity of an `<iati-activities>` document.
 *
 * @throws {IatiFlattenError} code `not-iati` when the root is not `<iati-activities>`,
 *   `unreadable-xml` when the text is not well-formed or breaks the safety limits.
 */
export function flattenActivities(xml: string, options: FlattenOptions = {}): FlatActivity[] {
  return Array.from(iterateFlatActivities(xml, options));
}

/**
 * Like {@link flattenActivities}, one activity at a time, so a large file's output need
 * not be held in memory all at once (a 40 MB file flattens to about 1 GB of JS objects).
 * Parsing and the root check happen on the first `next()`; the parsed document is freed
 * when the iteration ends or is abandoned with `return()` (as `for…of` + `break` does).
 *
 * @throws {IatiFlattenError} as {@link flattenActivities}, from the first `next()`.
 */
export function* iterateFlatActivities(xml: string, options: FlattenOptions = {}): Generator<FlatActivity, void, undefined> {
  const doc = parseOrThrow(xml, options);
  try {
    const root = doc.root;
    if (!isPlainElement(root, "iati-activities")) {
      throw new IatiFlattenError(
        `Non-IATI XML: the root element is <${qualifiedName(root)}>, not <iati-activities>, so this is not an IATI activities document`,
        "not-iati",
      );
    }
    const dataset: DatasetAttributes = {
      version: root.attr("version")?.value ?? "",
      ...optional("generatedDatetime", root.attr("generated-datetime")?.value),
      ...optional("linkedDataDefault", root.attr("linked-data-default")?.value),
    };
    for (const child of childElements(root)) {
      if (isPlainElement(child, "iati-activity")) yield flattenActivityElement(child, dataset, options);
    }
  } finally {
    doc.dispose();
  }
}

/**
 * Flattens a single `<iati-activity>` given as its own XML text (namespaces it uses must
 * be declared on it). The dataset attributes stand in for the missing
 * `<iati-activities>` parent; `dataset_version` is always set, "" by default, as the
 * refresher does.
 *
 * @throws {IatiFlattenError} when the text is unreadable or its root is not `<iati-activity>`.
 */
export function flattenActivity(
  activityXml: string,
  dataset: DatasetAttributes = {},
  options: FlattenOptions = {},
): FlatActivity {
  const doc = parseOrThrow(activityXml, options);
  try {
    const root = doc.root;
    if (!isPlainElement(root, "iati-activity")) {
      throw new IatiFlattenError(
        `Non-IATI XML: the root element is <${qualifiedName(root)}>, not <iati-activity>`,
        "not-iati",
      );
    }
    return flattenActivityElement(root, { version: "", ...dataset }, options);
  } finally {
    doc.dispose();
  }
}

function parseOrThrow(xml: string, options: FlattenOptions): XmlDocument {
  const parsed = parseXmlSafely(xml, resolveLimits(options.limits));
  if (parsed.ok) return parsed.doc;
  const first = parsed.issues[0];
  const where = first && first.line > 0 ? ` (line ${first.line})` : "";
  throw new IatiFlattenError(
    `XML could not be read${where}: ${first?.message ?? "unknown error"}`,
    "unreadable-xml",
    parsed.issues,
  );
}

/** What every element of one activity needs to know about the activity. */
interface ActivityContext {
  afterElement: (() => void) | undefined;
  /** In-scope namespaces of the activity element, prefix → URI ("" = default namespace). */
  namespaces: Record<string, string>;
  defaultCurrency: string | undefined;
}

function flattenActivityElement(activity: XmlElement, dataset: DatasetAttributes, options: FlattenOptions): FlatActivity {
  const context: ActivityContext = {
    afterElement: options.afterElement,
    namespaces: activity.namespaces,
    defaultCurrency: activity.attr("default-currency")?.value,
  };

  const flat: FlatRecord = {};
  // The refresher always emitted dataset_version, even when blank.
  addValue(flat, "dataset_version", dataset.version ?? "");
  if (dataset.generatedDatetime) addValue(flat, "dataset_generated_datetime", dataset.generatedDatetime);
  if (dataset.linkedDataDefault) addValue(flat, "dataset_linked_data_default", dataset.linkedDataDefault);

  flattenElement(activity, flat, "", context);

  const output: FlatActivity = flat;
  for (const name of options.subListElements ?? DEFAULT_SUB_LIST_ELEMENTS) {
    const children = childElements(activity).filter((child) => isPlainElement(child, name));
    if (children.length === 0) continue;
    const prefix = canonicalName(children[0] as XmlElement, "", context);
    output[`@${name}`] = children.map((child) => {
      const record: FlatRecord = {};
      flattenElement(child, record, prefix, context);
      return record;
    });
  }
  return output;
}

/** Adds an element's attributes, own text and descendants under `prefix`. */
function flattenElement(element: XmlElement, output: FlatRecord, prefix: string, context: ActivityContext): void {
  const attributes = element.attrs;
  for (const attribute of attributes) {
    addValue(output, joinName(prefix, attributeName(attribute)), attribute.value);
  }
  const hasCurrency = attributes.some((attribute) => attribute.name === "currency" && attribute.namespaceUri === "");
  if (VALUES_WITH_DEFAULT_CURRENCY.has(prefix) && !hasCurrency && context.defaultCurrency !== undefined) {
    addValue(output, joinName(prefix, "currency"), context.defaultCurrency);
  }

  // The activity's own text is never a field; every other element's leading text is.
  const text = leadingText(element).trim();
  if (text !== "" && prefix !== "") addValue(output, prefix, text);

  for (const child of childElements(element)) {
    flattenElement(child, output, canonicalName(child, prefix, context), context);
  }
  context.afterElement?.();
}

/**
 * Stores a value under its key: trimmed, dates normalised (or the value dropped if it is
 * not a date), and a second value for the same key turns it into a list.
 */
function addValue(output: FlatRecord, key: string, raw: string): void {
  let value = raw.trim();
  if (key === "iati_identifier") value = value.replace(/[\r\n]/g, "");
  if (DATE_KEY_MARKERS.some((marker) => key.includes(marker))) {
    const date = normaliseIatiDate(value);
    if (date === undefined) return;
    value = date;
  }
  const existing = output[key];
  if (existing === undefined) output[key] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else output[key] = [existing, value];
}

/**
 * An element's key: prefix + namespace prefix + local name, with `-` and `:` as `_`.
 * The namespace prefix is the one the activity declares for the element's namespace,
 * as in the refresher, falling back to the element's own prefix for namespaces
 * declared further down (where the refresher would emit `{uri}` garbage).
 */
function canonicalName(element: XmlElement, prefix: string, context: ActivityContext): string {
  const uri = element.namespaceUri;
  let name = element.name;
  if (uri === XML_NAMESPACE) name = `xml_${name}`;
  else if (uri !== "") {
    const declared = Object.entries(context.namespaces).find(([, namespaceUri]) => namespaceUri === uri)?.[0];
    const nsPrefix = declared ?? element.prefix;
    if (nsPrefix) name = `${nsPrefix}_${name}`;
  }
  return joinName(prefix, name);
}

function attributeName(attribute: XmlAttribute): string {
  if (attribute.namespaceUri === XML_NAMESPACE) return `xml_${attribute.name}`;
  return attribute.prefix ? `${attribute.prefix}_${attribute.name}` : attribute.name;
}

function joinName(prefix: string, name: string): string {
  const canonical = name.replace(/[-:]/g, "_");
  return prefix ? `${prefix}_${canonical}` : canonical;
}

/**
 * The text before the first child element, like lxml's `.text` with comments removed:
 * text on both sides of a comment counts, a processing instruction ends it.
 */
function leadingText(element: XmlElement): string {
  let text = "";
  for (let node: XmlTreeNode | null = element.firstChild; node !== null; node = node.next) {
    if (node instanceof XmlText || node instanceof XmlCData) text += node.content;
    else if (!(node instanceof XmlComment)) break;
  }
  return text;
}

function childElements(element: XmlElement): XmlElement[] {
  const children: XmlElement[] = [];
  for (let node: XmlTreeNode | null = element.firstChild; node !== null; node = node.next) {
    if (node instanceof XmlElement) children.push(node);
  }
  return children;
}

function isPlainElement(element: XmlElement, name: string): boolean {
  return element.name === name && element.namespaceUri === "";
}

function qualifiedName(element: XmlElement): string {
  return element.prefix ? `${element.prefix}:${element.name}` : element.name;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
