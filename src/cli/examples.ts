/** One or two examples per command, shown under `--help`. Keyed by the command path. */
export const examples: Record<string, string[]> = {
  sluice: ["sluice migrate up", "sluice run image", "sluice job list --state running"],
  migrate: ["sluice migrate up", "sluice migrate status --exit-code"],
  "migrate up": ["sluice migrate up", "sluice migrate up --to 1"],
  "migrate down": ["sluice migrate down", "sluice migrate down --to 0   # removes everything sluice created"],
  "migrate status": ["sluice migrate status", "sluice migrate status --json --exit-code"],
  refresh: ["sluice refresh image", "DATA_REFRESH_LIMIT=1000 sluice refresh audio"],
  reload: ["sluice reload iati", "sluice reload iati --retry-errors"],
  validate: ["sluice validate iati", "sluice validate iati --report 42"],
  index: ["sluice index image"],
  swap: ["sluice swap image", "sluice swap image --rollback", "sluice swap image --keep 2"],
  run: ["sluice run image", "sluice run audio --json"],
  ingest: ["sluice ingest bundle.tar"],
  job: ["sluice job list --dataset image", "sluice job show 42"],
  "job list": ["sluice job list --dataset image --state failed --limit 5", "sluice job list --json"],
  "job show": ["sluice job show 42", "sluice job show 42 --json"],
  "job set-state": [
    "sluice job set-state 42 --state failed --error 'worker lost'",
    "sluice job set-state --job-id 42 --state failed --task ingest --task-percent 50 --exception 'disk full'",
  ],
  status: ["sluice status", "sluice status --json"],
  publisher: ["sluice publisher list iati", "sluice publisher unflag iati some-publisher"],
};
