-- What `sluice sync` keeps between runs and while it runs.
--
-- sluice.sync_state: per dataset, the cursor an incremental sync starts from and the source's state
-- (what its changed() compares with). Both are written only when a sync succeeds, so a failed or
-- killed sync resumes from the last committed cursor.
--
-- sluice.sync_records / sync_index_entries / sync_deletions: a sync's working sets, so memory does not grow with
-- the dataset. Records of an unordered source are spilled here and read back in id order
-- (COLLATE "C", the byte order of the index's keyword sort); deletions are collected here, counted
-- against the deletion gate, then sent. Rows are the job's and are removed when it ends, or by the
-- next sync of the dataset after a crash. Unlogged: they are scratch, rebuilt by the next sync.

-- migrate:up
CREATE TABLE sluice.sync_state (
  dataset text PRIMARY KEY,
  cursor text,
  source_state jsonb,
  last_job bigint REFERENCES sluice.jobs (id) ON DELETE SET NULL,
  last_mode text,
  synced_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNLOGGED TABLE sluice.sync_records (
  dataset text NOT NULL,
  job_id bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  version text NOT NULL,
  doc jsonb NOT NULL
);
CREATE INDEX sync_records_order ON sluice.sync_records (job_id, id);

-- The live index's ids and versions, read in Elasticsearch's cheap natural order (point in time,
-- _shard_doc) and sorted here: a keyword sort with search_after rescans the index for every page.
CREATE UNLOGGED TABLE sluice.sync_index_entries (
  dataset text NOT NULL,
  job_id bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  version text
);
CREATE INDEX sync_index_entries_order ON sluice.sync_index_entries (job_id, id);

CREATE UNLOGGED TABLE sluice.sync_deletions (
  dataset text NOT NULL,
  job_id bigint NOT NULL,
  id text NOT NULL
);
CREATE INDEX sync_deletions_job ON sluice.sync_deletions (job_id);

-- migrate:down
DROP TABLE sluice.sync_deletions;
DROP TABLE sluice.sync_index_entries;
DROP TABLE sluice.sync_records;
DROP TABLE sluice.sync_state;
