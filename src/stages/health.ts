/**
 * `sluice status --exit-code`: the verdict a monitor (a systemd timer's OnFailure, a Nagios-style
 * check, a Kubernetes probe) acts on. Pure: it judges a status report; status.ts gathers it.
 */
import { ExitCode } from "../errors.ts";
import type { StatusReport } from "./status.ts";

export interface HealthProblem {
  /** The exit code this problem calls for. */
  exitCode: number;
  /** The dataset it concerns, if any. */
  dataset: string | null;
  message: string;
}

export interface Health {
  /** 0 when nothing is wrong; else the most serious problem's code (unreachable, then schema, then unhealthy). */
  exitCode: number;
  problems: HealthProblem[];
}

const SEVERITY: number[] = [ExitCode.unreachable, ExitCode.schema, ExitCode.unhealthy];

export function assessHealth(report: Omit<StatusReport, "health">, now: Date): Health {
  const problems: HealthProblem[] = [];
  const add = (exitCode: number, dataset: string | null, message: string) => problems.push({ exitCode, dataset, message });
  const { database: db, elasticsearch: es } = report;
  if (!db.reachable) add(ExitCode.unreachable, null, `PostgreSQL is unreachable: ${db.error}`);
  // An unset ELASTICSEARCH_URL is a problem only when some dataset has a live index to serve (not
  // for table-only datasets, nor before the first swap); a set one that does not answer always is.
  const needsSearch = es.url !== null || report.datasets.some((d) => d.indexed && d.liveGeneration !== null);
  if (!es.reachable && needsSearch) add(ExitCode.unreachable, null, `Elasticsearch ${es.url ?? "(ELASTICSEARCH_URL)"} is ${es.status}`);
  else if (es.status === "red") add(ExitCode.unreachable, null, "Elasticsearch is red (a primary shard is unassigned)");
  if (db.pending) add(ExitCode.schema, null, `${db.pending} migration(s) pending (run \`sluice migrate up\`)`);
  if (db.drifted) add(ExitCode.schema, null, `${db.drifted} migration(s) drifted from the files this binary carries (see \`sluice migrate status\`)`);
  for (const d of report.datasets) {
    if (d.swap.state === "split") add(ExitCode.unhealthy, d.name, `${d.name}: swap split: ${d.swap.detail} (run \`${d.swap.repair}\`)`);
    if (d.lastRun?.state === "failed") add(ExitCode.unhealthy, d.name, `${d.name}: last ${d.lastRun.stage} (job ${d.lastRun.id}) failed (see \`sluice job show ${d.lastRun.id}\`)`);
    if (d.maxAgeHours !== null && db.reachable && !db.pending && !db.drifted) {
      const ageHours = d.lastSuccessAt ? (now.getTime() - d.lastSuccessAt.getTime()) / 3_600_000 : null;
      if (ageHours === null) add(ExitCode.unhealthy, d.name, `${d.name}: no successful run yet (status.maxAgeHours is ${d.maxAgeHours})`);
      else if (ageHours > d.maxAgeHours) {
        add(ExitCode.unhealthy, d.name, `${d.name}: last successful run finished ${ageHours.toFixed(1)} h ago, over status.maxAgeHours ${d.maxAgeHours}`);
      }
    }
  }
  const exitCode = SEVERITY.find((code) => problems.some((p) => p.exitCode === code)) ?? ExitCode.ok;
  return { exitCode, problems };
}
