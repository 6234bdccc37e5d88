-- Registry datasets (IATI): one validation report per validated payload, and the publishers whose
-- documents are validated, with the flag that stops wasting work on one that floods invalid files.

-- migrate:up
CREATE TABLE sluice.validation_reports (
  id bigserial PRIMARY KEY,
  dataset text NOT NULL,
  item_key text NOT NULL,
  publisher text,
  job_id bigint REFERENCES sluice.jobs (id) ON DELETE SET NULL,
  blob_sha256 text,
  valid boolean NOT NULL,
  -- Activities in the document and how many passed; null for payloads that are not IATI XML.
  activities_total integer,
  activities_valid integer,
  -- [{"line": 3, "column": 0, "severity": "error", "message": "…", "activity": "…"}]
  errors jsonb NOT NULL DEFAULT '[]'::jsonb,
  error_count integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX validation_reports_item_idx ON sluice.validation_reports (dataset, item_key, id DESC);
CREATE INDEX validation_reports_invalid_idx ON sluice.validation_reports (dataset, publisher, created_at) WHERE NOT valid;

CREATE TABLE sluice.publishers (
  dataset text NOT NULL,
  name text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  -- Set when the publisher sent too many invalid documents; its documents are skipped until unflagged.
  flagged_at timestamptz,
  flag_reason text,
  -- Invalid documents counted in the window when it was flagged.
  invalid_count integer NOT NULL DEFAULT 0,
  -- Invalid documents before this moment no longer count towards a new flag.
  unflagged_at timestamptz,
  PRIMARY KEY (dataset, name)
);

-- migrate:down
DROP TABLE sluice.publishers;
DROP TABLE sluice.validation_reports;
