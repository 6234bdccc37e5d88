/**
 * A worker's session: like a dataset session (environment, dataset, database at the expected
 * migration, signals) but without the dataset's lock, which the coordinator of the index job holds
 * for as long as the ranges are worked. Workers coordinate through their leases instead.
 */
import { slackNotifier } from "../../adapters/slack.ts";
import { readEnv } from "../../config/env.ts";
import { loadDataset } from "../../config/load.ts";
import { stageLogger } from "../../log/logger.ts";
import { assertSchemaCurrent } from "../../migrate/migrator.ts";
import { abortOnSignals, openApiDatabase, type Session, type SessionOptions } from "../session.ts";

export async function openWorkerSession(datasetName: string | undefined, options: SessionOptions): Promise<Session> {
  const dataset = await loadDataset(datasetName, options.config);
  const env = readEnv();
  const sql = await openApiDatabase(env);
  try {
    await assertSchemaCurrent(sql);
  } catch (error) {
    await sql.end({ timeout: 2 });
    throw error;
  }
  const log = stageLogger("index-worker", dataset.name);
  const signals = abortOnSignals(log, "handing the current range back at its checkpoint");
  return {
    env,
    dataset,
    sql,
    log,
    // Workers announce nothing: the coordinator's index job reports the outcome.
    slack: slackNotifier(undefined, env.environment),
    lock: null,
    signal: signals.signal,
    abort: signals.abort,
    async close() {
      signals.release();
      await sql.end({ timeout: 5 });
    },
  };
}
