-- Bundles accepted by `sluice ingest`: one row per accepted tar bundle (Pacifica's transaction),
-- its key/value pairs and its files, each file pointing at its bytes in the blob store by sha256.
-- All rows of a bundle are inserted in one transaction, only once every file checked out.

-- migrate:up
CREATE TABLE sluice.bundles (
  id bigserial PRIMARY KEY,
  -- sha256 of the normalized metadata (transaction, key/values, files with their hashes): the same
  -- bundle ingested again finds its row here instead of adding another.
  fingerprint text NOT NULL UNIQUE,
  job_id bigint REFERENCES sluice.jobs (id) ON DELETE SET NULL,
  archive_name text NOT NULL,
  archive_sha256 text NOT NULL,
  archive_bytes bigint NOT NULL,
  submitter text NOT NULL,
  project text NOT NULL,
  instrument text NOT NULL,
  -- Every `Transactions.<field>` of the metadata, submitter, project and instrument included.
  transaction jsonb NOT NULL,
  -- metadata.txt as parsed.
  metadata jsonb NOT NULL,
  file_count integer NOT NULL,
  total_bytes bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sluice.bundle_key_values (
  bundle_id bigint NOT NULL REFERENCES sluice.bundles (id) ON DELETE CASCADE,
  -- Order in metadata.txt; a key may appear more than once.
  position integer NOT NULL,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (bundle_id, position)
);

CREATE TABLE sluice.bundle_files (
  bundle_id bigint NOT NULL REFERENCES sluice.bundles (id) ON DELETE CASCADE,
  -- subdir/name, normalized ("data//a/b/" + "foo.txt" is "data/a/b/foo.txt"): the path in the tar.
  path text NOT NULL,
  subdir text NOT NULL,
  name text NOT NULL,
  size bigint NOT NULL CHECK (size >= 0),
  hashtype text NOT NULL,
  hashsum text NOT NULL,
  mimetype text NOT NULL,
  ctime text,
  mtime text,
  blob_sha256 text NOT NULL,
  PRIMARY KEY (bundle_id, path)
);
CREATE INDEX bundle_files_blob_idx ON sluice.bundle_files (blob_sha256);

-- migrate:down
DROP TABLE sluice.bundle_files;
DROP TABLE sluice.bundle_key_values;
DROP TABLE sluice.bundles;
