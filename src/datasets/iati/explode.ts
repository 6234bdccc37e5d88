import type { FlatActivity, FlatRecord, FlatValue } from "./flatten.ts";

/**
 * A budget or transaction as a search document of its own, for the `<alias>-budget` and
 * `<alias>-transaction` indexes. As in the refresher's solrize step it carries the
 * activity's fields too (so e.g. transactions can be filtered by reporting org), except
 * the activity-level lists of its own kind, which its own values replace.
 */
export type ChildDocument = FlatRecord & {
  /** Stable id: `<iati_identifier>#budget-<n>` or `#transaction-<n>`, n counting from 1 in document order. */
  id: string;
  /** The parent activity's iati-identifier. */
  iati_identifier: FlatValue;
};

/** An activity split into its own document and its child documents. */
export interface ExplodedActivity {
  /** The activity's fields without the `@…` sub-lists. */
  activity: FlatRecord;
  budgets: ChildDocument[];
  transactions: ChildDocument[];
}

/** Options for {@link explodeActivity}. */
export interface ExplodeOptions {
  /**
   * Replaces the iati-identifier in child ids, e.g. to keep them unique when one dataset
   * repeats an identifier. Required when the activity has no iati-identifier.
   */
  idPrefix?: string;
}

/**
 * Splits a flattened activity into the activity document and one document per budget
 * and per transaction (taken from its `@budget` / `@transaction` lists).
 *
 * @throws {Error} when the activity has no iati_identifier and no `idPrefix` is given,
 *   since its children would have no stable id.
 */
export function explodeActivity(flat: FlatActivity, options: ExplodeOptions = {}): ExplodedActivity {
  const activity: FlatRecord = {};
  for (const [key, value] of Object.entries(flat)) {
    if (!key.startsWith("@")) activity[key] = value as FlatValue;
  }

  const identifier = activity.iati_identifier;
  const firstIdentifier = Array.isArray(identifier) ? identifier[0] : identifier;
  const idPrefix = options.idPrefix ?? firstIdentifier;
  if (idPrefix === undefined || idPrefix === "") {
    throw new Error("Cannot explode an activity without an iati_identifier: pass options.idPrefix");
  }

  const children = (kind: string): ChildDocument[] => {
    const records = flat[`@${kind}`];
    if (!Array.isArray(records) || records.some((record) => typeof record === "string")) return [];
    const inherited = withoutKeysOf(activity, kind);
    return (records as FlatRecord[]).map((record, index) => ({
      ...inherited,
      ...record,
      id: `${idPrefix}#${kind}-${index + 1}`,
      iati_identifier: identifier ?? "",
    }));
  };

  return { activity, budgets: children("budget"), transactions: children("transaction") };
}

/** The activity fields minus the aggregated `<kind>_…` lists of all its children. */
function withoutKeysOf(activity: FlatRecord, kind: string): FlatRecord {
  const prefix = `${kind}_`;
  return Object.fromEntries(Object.entries(activity).filter(([key]) => !key.startsWith(prefix)));
}
