/**
 * Records rows and documents a stage could not take. Writes are batched and capped per job, so a
 * flood of bad rows costs little: the counters keep the full numbers, this keeps the first few.
 */
import type { Sql } from "../adapters/postgres.ts";
import { redact } from "../redact.ts";

/** How many failures one job lists in sluice.row_failures; the counters still count them all. */
export const MAX_LISTED_FAILURES = 1000;

export interface RowFailure {
  key: string | null;
  reason: string;
  detail?: string | undefined;
}

export class RowFailureLog {
  #pending: RowFailure[] = [];
  #listed = 0;
  constructor(
    private readonly sql: Sql,
    private readonly jobId: number,
  ) {}

  add(failure: RowFailure): void {
    if (this.#listed + this.#pending.length >= MAX_LISTED_FAILURES) return;
    this.#pending.push(failure);
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const rows = this.#pending.splice(0).map((f) => ({
      job_id: this.jobId,
      item_key: f.key === null ? null : f.key.slice(0, 500),
      reason: f.reason,
      detail: f.detail === undefined ? null : redact(f.detail).slice(0, 2000),
    }));
    this.#listed += rows.length;
    await this.sql`insert into sluice.row_failures ${this.sql(rows)}`;
  }
}
