/**
 * A dataset without a `toDocument` indexes each row as it is (`{...row, id}`): a projection. The
 * index stage then builds its documents straight from COPY text (transforms/copy-row-json.ts). The
 * mark is a symbol on the default function, so the fingerprint (the function's source) is unchanged.
 */
const PROJECTION = Symbol("sluice.projection");

/** Marks the default `toDocument` as the projection of the row. */
export function markProjection<F extends (...args: never[]) => unknown>(toDocument: F): F {
  return Object.assign(toDocument, { [PROJECTION]: true });
}

/** Whether `toDocument` is the default projection of the row (no builder of the user's). */
export function isProjection(toDocument: unknown): boolean {
  return typeof toDocument === "function" && PROJECTION in toDocument;
}
