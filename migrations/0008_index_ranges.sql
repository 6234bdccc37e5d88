-- Scale-out of the index stage: a generation's staging key space cut into half-open ranges that
-- workers anywhere lease, checkpoint and finish (src/stages/scale-out/).
--
-- A range is [lower_key, upper_key); null is unbounded, so the first and last ranges cover keys
-- inserted anywhere in the key space. Keys are stored as text and cast back to key_type (text keys
-- compare under COLLATE "C", as they were split). Counters are those of the rows up to and
-- including checkpoint_key, written together with it, so a worker that resumes a range after its
-- lease lapsed continues from exact figures, whatever the lost worker sent beyond it.

-- migrate:up
CREATE TABLE sluice.index_ranges (
  dataset text NOT NULL,
  generation integer NOT NULL,
  range_no integer NOT NULL,
  job_id bigint REFERENCES sluice.jobs (id) ON DELETE SET NULL,
  key_type text NOT NULL,
  lower_key text,
  upper_key text,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done', 'failed')),
  holder text,
  lease_expires_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  checkpoint_key text,
  rows_read bigint NOT NULL DEFAULT 0,
  rows_skipped bigint NOT NULL DEFAULT 0,
  docs_sent bigint NOT NULL DEFAULT 0,
  docs_failed bigint NOT NULL DEFAULT 0,
  failed_by_type jsonb NOT NULL DEFAULT '{}',
  error text,
  started_at timestamptz,
  updated_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (dataset, generation, range_no)
);

-- migrate:down
DROP TABLE sluice.index_ranges;
