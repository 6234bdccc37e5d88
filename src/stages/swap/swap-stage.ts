/**
 * The swap and rollback steps, and pruning of old generations.
 *
 *   ready generation --gates--> promote (tables, then aliases) --> prune beyond --keep
 *   previous generation <--rollback-- live
 */
import { aliasTargets, countDocuments, type SearchClient } from "../../adapters/elasticsearch.ts";
import { unnamedConnectionFailure } from "../../adapters/lost-connection.ts";
import { ident } from "../../adapters/postgres.ts";
import { SluiceError, UsageError } from "../../errors.ts";
import { datasetFingerprint } from "../../generations/fingerprint.ts";
import { generationIndices, generationTable } from "../../generations/names.ts";
import { deleteOwnedIndex, indexOwner } from "../../generations/owned-indices.ts";
import { type Generation, generationsIn, liveGeneration, mergeGenerationStats, setGenerationState, tableExists } from "../../generations/store.ts";
import { openSwap } from "../../generations/swap-journal.ts";
import type { JobHandle } from "../job-runner.ts";
import { countRows } from "../refresh/staging-sql.ts";
import { releaseDroppedPayloads } from "../registry/payload-release.ts";
import type { Session } from "../session.ts";
import { assertPromotionOwned } from "./alias-ownership.ts";
import { swapRefusals } from "./gates.ts";
import { searchCheckLines } from "./search-check-eval.ts";
import { runSearchChecks } from "./search-checks.ts";
import { waitForReplicas } from "./replicas-ready.ts";
import { aliasActions, promoteGeneration } from "./promote.ts";

export interface SwapOptions {
  force: boolean;
  /** Previous generations to keep; older ones are dropped. */
  keep: number;
  /** The --config the command ran with, so that the advice after a refusal names a command that works. */
  configPath?: string | undefined;
}

/** The gates refused the swap; the generation stays ready, so the advice it prints can be followed. */
export class SwapRefusedError extends SluiceError {}

/** A split dataset (an open swap journal row) must be repaired before anything else is promoted. */
export async function refuseWhileSplit(session: Session): Promise<void> {
  const open = await openSwap(session.sql, session.dataset.name);
  if (!open) return;
  throw new SluiceError(`dataset ${session.dataset.name} is split: a swap to generation ${open.incoming} moved the table but not (or not surely) the alias`, {
    hint: `run \`sluice swap ${session.dataset.name} --repair\` first`,
  });
}

export async function swapToGeneration(session: Session, job: JobHandle, es: SearchClient | null, incoming: Generation, options: SwapOptions): Promise<void> {
  const { sql, dataset, log } = session;
  await refuseWhileSplit(session);
  const outgoing = await liveGeneration(sql, dataset.name);
  job.setTask(`checking generation ${incoming.number} against live`, 10);
  const liveTable = (await tableExists(sql, dataset.table.name)) ? dataset.table.name : null;
  const parent = generationIndices(dataset, incoming.number)[0];
  const liveIndices = es && parent ? await aliasTargets(es, parent.alias) : [];
  const figures = {
    stagingRows: await countRows(sql, generationTable(dataset, incoming.number)),
    liveRows: liveTable ? await countRows(sql, liveTable) : null,
    indexDocuments: es && parent ? await countDocuments(es, parent.index) : null,
    liveDocuments: es && liveIndices.length ? await countDocuments(es, liveIndices[0]!) : null,
    indexFailures: Number(incoming.stats.indexFailures ?? 0),
    builtUnder: incoming.fingerprint,
    swappingUnder: datasetFingerprint(dataset),
  };
  job.counters.read = figures.stagingRows;
  // Before the gates: --force passes a gate, never another database's (or a hand-made) index.
  // One read of the aliases serves the ownership check and the move, so that the two cannot differ.
  const actions = es && dataset.index ? await aliasActions(es, dataset, incoming.number) : [];
  if (es && dataset.index) await assertPromotionOwned(sql, es, dataset, incoming, outgoing, actions);
  const checks = es && parent && dataset.swap.checks.length ? await runSearchChecks(es, dataset.swap.checks, parent.index, liveIndices[0] ?? null) : [];
  const failedChecks = checks.filter((c) => !c.passed);
  if (checks.length) {
    // Kept on the swap job (`job show` prints them), passed or not.
    (job.counters as unknown as Record<string, unknown>).searchChecks = checks;
    for (const line of searchCheckLines(checks)) log[failedChecks.length && !options.force ? "error" : "info"](line);
  }
  const refusals = [...swapRefusals(dataset, figures), ...failedChecks.map((c) => `search check "${c.name}" failed: ${c.failures.join("; ")}`)];
  if (es && dataset.index) {
    // Waited for only when nothing else refuses and nothing is forced; otherwise looked at once.
    const wait = refusals.length || options.force ? 0 : dataset.swap.replicaWaitSeconds;
    job.setTask(`checking the replicas of generation ${incoming.number}`, 40);
    const replicas = await waitForReplicas(es, generationIndices(dataset, incoming.number).map((t) => t.index), wait, {
      signal: session.signal,
      onWait: (missing) => job.setTask(`waiting up to ${wait} s for replicas: ${missing}`, 40),
    });
    for (const warning of replicas.warnings) log.warn(warning);
    refusals.push(...replicas.refusals);
  }
  if (refusals.length && !options.force) {
    // Marked, so that the next `run` refreshes anew instead of resuming a generation already refused.
    await mergeGenerationStats(sql, dataset.name, incoming.number, { swapRefused: refusals });
    const config = options.configPath ? ` --config ${options.configPath}` : "";
    throw new SwapRefusedError(`swap of ${dataset.name} refused: ${refusals.join("; ")}`, {
      hint: `generation ${incoming.number} is kept ready: inspect it, then \`sluice swap ${dataset.name}${config} --force\` if it is right`,
    });
  }
  for (const r of refusals) log.warn(`forced past: ${r}`);
  job.setTask(`promoting generation ${incoming.number}${outgoing ? ` over ${outgoing.number}` : ""}`, 50);
  await promoteGeneration(session, es, { dataset, incoming, outgoing, outgoingState: "previous", jobId: job.job.id, actions });
  job.counters.written = figures.stagingRows;
  log.success(`generation ${incoming.number} of ${dataset.name} is live`);
  try {
    job.setTask("pruning old generations", 90);
    await pruneGenerations(session, es, options.keep, job);
  } catch (error) {
    if (session.signal.aborted) throw error;
    // Production already serves the new generation: a failure from here on must not read "production is untouched".
    const named = error instanceof SluiceError ? error : unnamedConnectionFailure(error, session.env);
    throw new SluiceError(`generation ${incoming.number} of ${dataset.name} is live, but the clean-up after its swap failed: ${named?.message ?? (error as Error)?.message ?? String(error)}`, {
      hint: "production serves the new generation; the next swap deletes the old generations' tables and indices left behind (`sluice status` lists them)",
      cause: error,
    });
  }
}

export async function rollbackToPrevious(session: Session, job: JobHandle, es: SearchClient | null): Promise<Generation> {
  const { sql, dataset, log } = session;
  await refuseWhileSplit(session);
  const live = await liveGeneration(sql, dataset.name);
  if (!live) throw new SluiceError(`dataset ${dataset.name} has no live generation to roll back`);
  let previous: Generation | undefined;
  for (const candidate of await generationsIn(sql, dataset.name, ["previous"])) {
    if (await tableExists(sql, generationTable(dataset, candidate.number))) {
      previous = candidate;
      break;
    }
  }
  if (!previous) {
    throw new SluiceError(`dataset ${dataset.name} has no previous generation kept to roll back to`, {
      hint: "a generation is kept for rollback when swap runs with --keep 1 or more (the default)",
    });
  }
  if (es) {
    for (const target of generationIndices(dataset, previous.number)) {
      if (!(await es.indices.exists({ index: target.index }))) {
        throw new SluiceError(`index ${target.index} of generation ${previous.number} is gone, so it cannot be restored`);
      }
    }
  }
  const actions = es && dataset.index ? await aliasActions(es, dataset, previous.number) : [];
  if (es && dataset.index) await assertPromotionOwned(sql, es, dataset, previous, live, actions);
  job.setGeneration(previous.number);
  job.setTask(`rolling back ${dataset.name} from generation ${live.number} to ${previous.number}`, 30);
  await promoteGeneration(session, es, { dataset, incoming: previous, outgoing: live, outgoingState: "discarded", jobId: job.job.id, actions });
  job.counters.written = await countRows(sql, dataset.table.name);
  log.success(`generation ${previous.number} of ${dataset.name} is live again; generation ${live.number} is kept as discarded until pruned`);
  return previous;
}

/**
 * Drops generations beyond the newest `keep` previous ones, and leftovers of discarded ones, with
 * the payloads only their tables referenced (counted on `job` as payloads_deleted).
 */
export async function pruneGenerations(session: Session, es: SearchClient | null, keep: number, job?: JobHandle): Promise<number[]> {
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`--keep must be a whole number ≥ 0, got ${keep}`);
  const { sql, dataset, log } = session;
  const previous = await generationsIn(sql, dataset.name, ["previous"]);
  const discarded = await generationsIn(sql, dataset.name, ["discarded"]);
  const pruned: number[] = [];
  const owner = await indexOwner(sql, dataset.name);
  let payloadsDeleted = 0;
  for (const gen of [...previous.slice(keep), ...discarded]) {
    payloadsDeleted += await releaseDroppedPayloads(sql, dataset, gen.number, log);
    await sql.unsafe(`DROP TABLE IF EXISTS ${ident(generationTable(dataset, gen.number))}`);
    for (const t of es ? generationIndices(dataset, gen.number) : []) {
      // Not ours (another database's, or made by hand at this name): never this generation's; leave
      // it. A discarded generation was warned about when it was discarded, and stays discarded.
      const outcome = await deleteOwnedIndex(es!, t.index, owner, gen.number);
      if (typeof outcome === "object") log[gen.state === "previous" ? "warn" : "debug"](`${outcome.message} (${outcome.hint})`);
    }
    if (gen.state === "previous") {
      await setGenerationState(sql, dataset.name, gen.number, "retired");
      pruned.push(gen.number);
    }
  }
  if (job && dataset.source.kind === "registry") job.counters.payloads_deleted = payloadsDeleted;
  if (pruned.length) log.info(`pruned generation${pruned.length > 1 ? "s" : ""} ${pruned.join(", ")}`);
  return pruned;
}
