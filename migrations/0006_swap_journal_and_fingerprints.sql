-- Swap bookkeeping that survives an interruption, and what each generation was built from.
--
-- sluice.swaps: one row per promotion (swap or rollback). It is written in the transaction that
-- renames the tables and closed once the alias has moved ('done') or the rename was reversed
-- ('reverted'). A row still 'tables_moved' means the table is on `incoming` while the alias may not
-- be: `sluice status` reports the dataset as split and `sluice swap <dataset> --repair` finishes it.
--
-- sluice.generations.fingerprint: sha256 of the resolved dataset configuration a generation was
-- built from; a generation is resumed, indexed or swapped only under the same configuration.

-- migrate:up
CREATE TABLE sluice.swaps (
  id bigserial PRIMARY KEY,
  dataset text NOT NULL,
  -- The generation whose table became live, and the one it replaced (null: there was none).
  incoming integer NOT NULL,
  outgoing integer,
  -- States to restore if the rename is reversed, and what the outgoing generation became.
  incoming_was text NOT NULL,
  outgoing_becomes text,
  -- The name the replaced live table took (its generation's, or <table>__before_sluice).
  aside_table text,
  -- Where every alias must point once the swap is complete: [{ "alias": …, "index": … }].
  aliases jsonb NOT NULL DEFAULT '[]'::jsonb,
  state text NOT NULL DEFAULT 'tables_moved' CHECK (state IN ('tables_moved', 'done', 'reverted')),
  job_id bigint REFERENCES sluice.jobs (id) ON DELETE SET NULL,
  detail text,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
-- At most one unfinished swap per dataset.
CREATE UNIQUE INDEX swaps_one_open_idx ON sluice.swaps (dataset) WHERE state = 'tables_moved';

ALTER TABLE sluice.generations ADD COLUMN fingerprint text;

-- migrate:down
ALTER TABLE sluice.generations DROP COLUMN fingerprint;
DROP TABLE sluice.swaps;
