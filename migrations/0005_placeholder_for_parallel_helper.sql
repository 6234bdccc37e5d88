-- PLACEHOLDER: another helper adds the real migration 0005 in parallel. This file only keeps
-- versions contiguous on this branch; delete it when merging that helper's 0005.

-- migrate:up
SELECT 1;

-- migrate:down
SELECT 1;
