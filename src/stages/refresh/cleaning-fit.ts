/**
 * Whether the dataset's cleaning rules fit the columns they clean, checked before a refresh reads
 * any row. A rule on the wrong type would otherwise fail every row one by one (tag cleaning on a
 * `text[]` column: each array is "invalid JSON") or mangle values (a scheme glued onto a number).
 *
 *   clean.tags on tags text[] upstream → ConfigError "datasets.photos.clean.tags cleans column tags, which is text[] upstream; …"
 */
import type { Dataset } from "../../config/types.ts";
import { ConfigError } from "../../errors.ts";
import { baseTypeName, isTextType } from "../../transforms/copy-binary.ts";
import type { StagingColumn } from "./row-transform.ts";

/** Tag cleaning parses JSON: it reads JSON or text holding JSON, and stores jsonb or json. */
const jsonTypes = new Set(["jsonb", "json"]);

/** @throws {ConfigError} naming the dataset key, the column's type and the fix. */
export function checkCleaningFits(dataset: Dataset, columns: StagingColumn[]): void {
  const where = `datasets.${dataset.name}.clean`;
  const byName = new Map(columns.map((c) => [c.name, c]));
  const tags = dataset.clean.tags;
  if (tags) {
    const column = byName.get(tags.column);
    const off = "or turn tag cleaning off with clean: { tags: false }";
    if (!column) {
      throw new ConfigError(`${where}.tags cleans column ${tags.column}, which dataset ${dataset.name} does not have`, `set clean.tags.column to its tags column, ${off}`);
    }
    if (column.upstreamType !== null && !jsonTypes.has(baseTypeName(column.upstreamType)) && !isTextType(column.upstreamType)) {
      throw new ConfigError(
        `${where}.tags cleans column ${column.name}, which is ${column.upstreamType} upstream; tag cleaning needs a jsonb column (a JSON list of tags)`,
        `copy the tags as jsonb, ${off}`,
      );
    }
    if (!jsonTypes.has(baseTypeName(column.type))) {
      throw new ConfigError(
        `${where}.tags cleans column ${column.name}, which would be staged as ${column.type}; tag cleaning needs a jsonb column (a JSON list of tags)`,
        `declare table.columns.${column.name}: "jsonb" (its values must be JSON), ${off}`,
      );
    }
  }
  for (const name of dataset.clean.urlColumns) {
    const column = byName.get(name);
    if (!column) {
      throw new ConfigError(`${where}.urlColumns names column ${name}, which dataset ${dataset.name} does not have`, `remove ${name} from clean.urlColumns, or fix its spelling`);
    }
    const wrong = [column.upstreamType, column.type].find((type) => type !== null && !isTextType(type));
    if (wrong) {
      throw new ConfigError(
        `${where}.urlColumns names column ${name}, which is ${wrong}${wrong === column.type ? "" : " upstream"}; URL cleaning needs a text column (text or varchar)`,
        `remove ${name} from clean.urlColumns`,
      );
    }
  }
}
