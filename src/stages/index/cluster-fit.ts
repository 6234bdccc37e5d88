/**
 * Know the cluster: before anything is created, the dataset's index bodies are checked against
 * the modules the cluster has. A body the cluster cannot take is refused with one line naming
 * the module, unless the dataset (index.degrade) or SLUICE_INDEX_DEGRADE allows what is lost;
 * then the session's dataset gets the degraded bodies (so its generations' fingerprints say so),
 * and a warning names the loss at the start and in the summary. Never silently.
 */
import { clusterModules, engineName, type SearchClient } from "../../adapters/elasticsearch.ts";
import type { Degradation } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { maskUrl } from "../../redact.ts";
import type { Session } from "../session.ts";
import { degradeBody, type ModuleNeed, modulesNeeded } from "./mapping-fit.ts";

const LOSSES: Record<Degradation, string> = {
  ranking: "ranking (rank_feature fields mapped as float: rank_feature queries, such as Openverse's default search, fail)",
  stemming: "stemming (analysis-common filters dropped from the analyzers: \"cats\" no longer finds \"cat\")",
};

const warningsOf = new WeakMap<Session, string[]>();

/** The degradation warnings of this session, for the summary of the step that builds the index. */
export function clusterFitWarnings(session: Session): string[] {
  return warningsOf.get(session) ?? [];
}

function describeNeeds(needs: ModuleNeed[]): string {
  return needs.map((n) => `${n.module} (${n.uses.join(", ")})`).join(" and ");
}

export async function fitDatasetToCluster(session: Session, es: SearchClient): Promise<void> {
  const { dataset, env } = session;
  const index = dataset.index;
  if (!index) return;
  const needs = new Map<string, ModuleNeed>();
  for (const body of [index.body, ...index.children.map((c) => c.body)]) {
    for (const need of modulesNeeded(body)) {
      const seen = needs.get(need.module);
      needs.set(need.module, seen ? { ...seen, uses: [...new Set([...seen.uses, ...need.uses])].sort(), degradation: seen.degradation && need.degradation } : need);
    }
  }
  if (!needs.size) return;
  const have = await clusterModules(es);
  const missing = [...needs.values()].filter((n) => !have.has(n.module));
  if (!missing.length) return;
  const where = `ELASTICSEARCH_URL (${maskUrl(env.elasticsearchUrl ?? "")}, ${engineName(es.engine)})`;
  const allowed = new Set<Degradation>([...index.degrade, ...env.indexDegrade]);
  const losses = missing.map((n) => n.degradation);
  if (losses.some((loss) => loss === null || !allowed.has(loss))) {
    const degradable = losses.every((loss) => loss !== null);
    throw new SluiceError(`the ${dataset.name} mapping needs ${describeNeeds(missing)}, which ${where} lacks`, {
      hint: degradable
        ? `point sluice at a cluster with ${missing.map((n) => n.module).join(" and ")}, or set index.degrade (or SLUICE_INDEX_DEGRADE) to ${losses.join(",")} to build without ${losses.join(" and ")}`
        : `point sluice at a cluster with ${missing.map((n) => n.module).join(" and ")}`,
    });
  }
  const lost = losses as Degradation[];
  index.body = degradeBody(index.body, lost);
  index.children = index.children.map((child) => ({ ...child, body: degradeBody(child.body, lost) }));
  const warning = `${dataset.name}: ${where} lacks ${describeNeeds(missing)}; indexing without ${lost.map((l) => LOSSES[l]).join("; ")}`;
  session.log.warn(warning);
  warningsOf.set(session, [warning]);
}
