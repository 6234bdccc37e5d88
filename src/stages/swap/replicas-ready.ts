/**
 * Before the alias moves, the new generation's indices should have their replicas: the index stage
 * loads with none and puts the body's back at the end, and on a cluster the replicas then recover
 * from the primaries (minutes for a large index). An alias moved before they are up serves from
 * primaries alone, and a node lost in that window takes part of production's index with it.
 *
 *   cluster health (level=indices) → replicas the data nodes cannot hold: warned, not waited for
 *                                  → the rest: polled until green, or refused after `waitSeconds`
 */
import { type SearchClient, whileReachable } from "../../adapters/elasticsearch.ts";
import { sleep } from "../../retry.ts";

interface IndexHealth {
  status: string;
  number_of_replicas: number;
  unassigned_shards: number;
  initializing_shards: number;
}

interface Health {
  status: string;
  timed_out: boolean;
  number_of_data_nodes: number;
  indices?: Record<string, IndexHealth>;
}

export interface ReplicaWait {
  /** Why the swap should not go ahead (an index not green within the wait). */
  refusals: string[];
  /** Replicas the cluster cannot place: the swap goes ahead, and says so. */
  warnings: string[];
}

/** How often the wait reports (the job's task line); each poll is one health call that waits this long at most. */
const POLL_SECONDS = 5;

async function health(es: SearchClient, indices: string[], waitSeconds: number, signal?: AbortSignal): Promise<Health> {
  // 408 is Elasticsearch's "not green within the timeout": an answer, not an error.
  return (await whileReachable(
    () => es.cluster.health({ index: indices, level: "indices", wait_for_status: "green", timeout: `${waitSeconds}s` }, { ignore: [408], ...(signal ? { signal } : {}) }),
    signal,
  )) as unknown as Health;
}

/**
 * Why replicas are not being assigned, when the cluster says: `cluster.routing.allocation.enable`
 * set to anything but `all` (as the rolling-restart procedure has it), transient over persistent.
 * Null when it allows them, or cannot be read (a key without the monitor privilege).
 */
async function allocationHold(es: SearchClient, signal?: AbortSignal): Promise<string | null> {
  try {
    const settings = (await whileReachable(
      () => es.transport.request({ method: "GET", path: "/_cluster/settings", querystring: { flat_settings: "true" } }, signal ? { signal } : {}),
      signal,
    )) as { persistent?: Record<string, string>; transient?: Record<string, string> };
    const key = "cluster.routing.allocation.enable";
    const value = settings.transient?.[key] ?? settings.persistent?.[key];
    return value && value !== "all" ? `the cluster's ${key} is "${value}", so no replica is assigned until it is "all" again` : null;
  } catch (error) {
    if (signal?.aborted) throw error;
    return null;
  }
}

function shardsShort(index: IndexHealth): string {
  const parts = [index.initializing_shards ? `${index.initializing_shards} initializing` : "", index.unassigned_shards ? `${index.unassigned_shards} unassigned` : ""].filter(Boolean);
  return parts.length ? parts.join(", ") : "not green";
}

/**
 * Waits up to `waitSeconds` for `indices` to be green (0: looks once); `onWait` hears what is still
 * missing at each poll. Indices asking for more replicas than the cluster has data nodes to put them
 * on (not counting the primary's) can never be green: they are named in `warnings` instead.
 */
export async function waitForReplicas(
  es: SearchClient,
  indices: string[],
  waitSeconds: number,
  options: { signal?: AbortSignal; onWait?: (missing: string) => void } = {},
): Promise<ReplicaWait> {
  const first = await health(es, indices, 0, options.signal);
  const nodes = first.number_of_data_nodes;
  const warnings: string[] = [];
  const placeable: string[] = [];
  for (const index of indices) {
    const replicas = first.indices?.[index]?.number_of_replicas ?? 0;
    if (replicas >= nodes) {
      warnings.push(`index ${index} asks for ${replicas} replica${replicas === 1 ? "" : "s"} of each shard, which the cluster's ${nodes} data node${nodes === 1 ? "" : "s"} cannot hold (a copy per node): it stays yellow; give its body number_of_replicas ${Math.max(0, nodes - 1)} or fewer, or add nodes`);
    } else {
      placeable.push(index);
    }
  }
  if (!placeable.length) return { refusals: [], warnings };
  const deadline = performance.now() + waitSeconds * 1000;
  let now = placeable.length === indices.length ? first : await health(es, placeable, 0, options.signal);
  // Each poll asks only for the indices still waiting: one green stays green.
  let waiting = placeable;
  let held: string | null | undefined;
  for (;;) {
    waiting = waiting.filter((index) => now.indices?.[index]?.status !== "green");
    if (!waiting.length) return { refusals: [], warnings };
    const missing = waiting.map((index) => `${index} (${now.indices?.[index] ? shardsShort(now.indices[index]) : "not found"})`).join(", ");
    const left = (deadline - performance.now()) / 1000;
    // Replicas left unassigned may be held back on purpose (a rolling restart): say so, once asked.
    if (held === undefined && waiting.some((index) => (now.indices?.[index]?.unassigned_shards ?? 0) > 0)) held = await allocationHold(es, options.signal);
    const why = held ? `; ${held}` : "";
    if (left <= 0) {
      return { refusals: [`replicas not ready${waitSeconds ? ` after ${waitSeconds} s (swap.replicaWaitSeconds)` : ""}: ${missing}${why}`], warnings };
    }
    options.onWait?.(`${missing}${why}`);
    const started = performance.now();
    now = await health(es, waiting, Math.max(1, Math.min(POLL_SECONDS, Math.ceil(left))), options.signal);
    // A cluster that answers at once while not green (no timeout honoured) is not polled in a busy loop.
    if (now.status !== "green" && performance.now() - started < 500) await sleep(1000, options.signal);
  }
}
