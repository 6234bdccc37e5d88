-- The API database's own identity: one row holding a UUID made when this migration ran. Every
-- Elasticsearch index sluice creates carries it in its mapping's _meta, so that two API databases
-- sharing a cluster (and an index prefix) never delete or reuse each other's indices. It lives
-- inside the database, so it survives a rename; a copy of the database (pg_dump, TEMPLATE) carries
-- it along and should be given a new one (see the README's "Ownership").

-- migrate:up
CREATE TABLE sluice.database_identity (
  -- Always true: the primary key on a constant keeps this table at one row.
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO sluice.database_identity DEFAULT VALUES;

-- migrate:down
DROP TABLE sluice.database_identity;
