/**
 * Stages this version does not have yet. They still check the environment, the dataset and the
 * schema version first, so an operator learns about a real problem before learning this one.
 */
import { NotBuiltError } from "../errors.ts";
import { openSession } from "./session.ts";

export async function refuseUnbuiltStage(stage: string, dataset: string | undefined, config?: string): Promise<never> {
  const session = await openSession(stage, dataset, { config });
  await session.close();
  throw new NotBuiltError(`the ${stage} stage`);
}
