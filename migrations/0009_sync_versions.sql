-- sluice.sync_versions: the id and version of every document in a dataset's live index as the last
-- successful sync left it, so that a full sync merges the source against this table in id order
-- (COLLATE "C") instead of reading every id and version back out of Elasticsearch, the slow half
-- of a no-op full sync. sync_state.versions_index names the index the table mirrors; a sync that
-- cannot vouch for it (a write or delete failed, another index went live) clears the name, and a
-- full sync also ignores the table when its count differs from the index's. The next full sync
-- then reads the index itself and rebuilds the table. Unlogged: a crash empties it, and the count
-- check sends that sync to the index.
--
-- sluice.sync_written: the ids and versions a sync job wrote, scratch like sync_deletions, applied
-- to sync_versions in the transaction that commits the sync's state.

-- migrate:up
ALTER TABLE sluice.sync_state ADD COLUMN versions_index text;

CREATE UNLOGGED TABLE sluice.sync_versions (
  dataset text NOT NULL,
  id text COLLATE "C" NOT NULL,
  version text,
  PRIMARY KEY (dataset, id)
);

CREATE UNLOGGED TABLE sluice.sync_written (
  dataset text NOT NULL,
  job_id bigint NOT NULL,
  id text COLLATE "C" NOT NULL,
  version text NOT NULL
);
CREATE INDEX sync_written_job ON sluice.sync_written (job_id);

-- migrate:down
DROP TABLE sluice.sync_written;
DROP TABLE sluice.sync_versions;
ALTER TABLE sluice.sync_state DROP COLUMN versions_index;
