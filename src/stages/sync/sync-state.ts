/** The stored state of a dataset's syncs (sluice.sync_state), written only when a sync succeeds. */
import type { Sql } from "../../adapters/postgres.ts";
import type { SourceCursor, SourceState } from "../../sources/types.ts";
import { commitMirror, type MirrorUpdate } from "./versions-mirror.ts";

export interface SyncState {
  cursor: SourceCursor | null;
  sourceState: SourceState | null;
  lastJob: number | null;
  lastMode: string | null;
  syncedAt: Date;
  /** The index sluice.sync_versions mirrors, or null. */
  versionsIndex: string | null;
}

export async function readSyncState(sql: Sql, dataset: string): Promise<SyncState | null> {
  const [row] = await sql`select * from sluice.sync_state where dataset = ${dataset}`;
  if (!row) return null;
  return { cursor: row.cursor, sourceState: row.source_state, lastJob: row.last_job === null ? null : Number(row.last_job), lastMode: row.last_mode, syncedAt: row.synced_at, versionsIndex: row.versions_index ?? null };
}

/** Stores the cursor and state of a successful sync and, in the same transaction, its changes to the versions table. */
export async function commitSyncState(sql: Sql, dataset: string, state: { cursor: SourceCursor | null; sourceState: SourceState | null; job: number; mode: string; mirror: MirrorUpdate }): Promise<void> {
  const sourceState = state.sourceState === null ? null : sql.json(state.sourceState as never);
  await sql.begin(async (tx) => {
    await tx`
    insert into sluice.sync_state (dataset, cursor, source_state, last_job, last_mode, synced_at)
    values (${dataset}, ${state.cursor}, ${sourceState}, ${state.job}, ${state.mode}, now())
    on conflict (dataset) do update set cursor = excluded.cursor, source_state = excluded.source_state,
      last_job = excluded.last_job, last_mode = excluded.last_mode, synced_at = now()`;
    await commitMirror(tx as unknown as Sql, dataset, state.job, state.mirror);
  });
}
