-- Rows and documents a stage could not take, one row each with the reason, so that nothing is
-- lost silently: `sluice job show` counts them, this table lists them.

-- migrate:up
CREATE TABLE sluice.row_failures (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES sluice.jobs (id) ON DELETE CASCADE,
  item_key text,
  reason text NOT NULL,
  detail text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX row_failures_job_idx ON sluice.row_failures (job_id);

-- migrate:down
DROP TABLE sluice.row_failures;
