/**
 * The warning a refresh gives when DATA_REFRESH_LIMIT leaves rows out. Outside production the
 * limit applies unless the variable is set, so a refresh there can quietly copy a fraction of the
 * upstream and a swap can then shrink production; the warning says how many rows stayed behind
 * and how to copy them all.
 */
export interface RefreshLimit {
  dataset: string;
  limit: number;
  /** Rows the refresh would copy without the limit. */
  eligible: number;
  /** True when DATA_REFRESH_LIMIT is unset and the non-production default applies. */
  byDefault: boolean;
  environment: string;
}

/** The warning, or null when the limit leaves nothing out. */
export function refreshLimitWarning({ dataset, limit, eligible, byDefault, environment }: RefreshLimit): string | null {
  if (eligible <= limit) return null;
  const n = (x: number) => x.toLocaleString("en-US");
  const cause = byDefault ? `DATA_REFRESH_LIMIT is not set, so this ${environment} refresh copies at most ${n(limit)} rows (the default outside production)` : `DATA_REFRESH_LIMIT=${limit} caps this refresh`;
  return `${cause}: ${n(eligible - limit)} of ${n(eligible)} rows of ${dataset} left out (over_refresh_limit); set DATA_REFRESH_LIMIT=0${byDefault ? " or ENVIRONMENT=production" : ""} to copy every row`;
}
