-- sluice's own bookkeeping: one row per stage run (jobs) and per refresh → index → swap cycle
-- (generations). The schema `sluice` itself is created and dropped by the migrator.

-- migrate:up
CREATE TABLE sluice.jobs (
  id bigserial PRIMARY KEY,
  dataset text NOT NULL,
  stage text NOT NULL,
  generation integer,
  -- `run` is a job whose stages are child jobs, so one id follows a whole chain.
  parent_id bigint REFERENCES sluice.jobs (id) ON DELETE SET NULL,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  task text,
  percent real CHECK (percent >= 0 AND percent <= 100),
  counters jsonb NOT NULL DEFAULT '{}'::jsonb,
  error text,
  pid integer,
  host text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  heartbeat_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX jobs_dataset_id_idx ON sluice.jobs (dataset, id DESC);
CREATE INDEX jobs_open_idx ON sluice.jobs (dataset) WHERE state IN ('queued', 'running');

CREATE TABLE sluice.generations (
  dataset text NOT NULL,
  number integer NOT NULL CHECK (number > 0),
  -- building: being filled; ready: indexed and waiting for swap; live: promoted;
  -- previous: kept for rollback; retired: pruned; discarded: rolled back before promotion.
  state text NOT NULL DEFAULT 'building'
    CHECK (state IN ('building', 'ready', 'live', 'previous', 'retired', 'discarded')),
  table_name text NOT NULL,
  index_name text,
  stats jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  promoted_at timestamptz,
  retired_at timestamptz,
  PRIMARY KEY (dataset, number)
);
CREATE UNIQUE INDEX generations_one_live_idx ON sluice.generations (dataset) WHERE state = 'live';

-- migrate:down
DROP TABLE sluice.generations;
DROP TABLE sluice.jobs;
