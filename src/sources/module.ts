/**
 * The `module` sync source: a user's file and export, `./sources/crm.ts:CrmSource`, imported at run
 * time as the config file is (the compiled binary serves `import … from "sluice"` to it). The
 * export is a class (`new CrmSource(options, context)`) or a factory (`createSource(options, context)`),
 * and what it gives must have the Source methods; otherwise one line says what is missing.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadError, registerSluiceModule } from "../config/load.ts";
import type { ModuleSourceConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import type { Source, SourceContext } from "./types.ts";

/** `./sources/crm.ts:CrmSource` → file and export; the last colon splits (Windows drives keep theirs). */
export function parseModuleSpec(spec: string): { file: string; exportName: string } {
  const at = spec.lastIndexOf(":");
  return { file: spec.slice(0, at), exportName: spec.slice(at + 1) };
}

export async function loadModuleSource(config: ModuleSourceConfig, context: SourceContext, cwd = process.cwd()): Promise<Source> {
  const { file, exportName } = parseModuleSpec(config.module);
  const where = `datasets.${context.dataset}.sync.source.module`;
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new ConfigError(`${where}: ${file} does not exist`, "give a path relative to the working directory");
  registerSluiceModule();
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (error) {
    throw loadError(error, file, path);
  }
  const made = mod[exportName];
  if (typeof made !== "function") {
    const exported = Object.keys(mod).join(", ") || "nothing";
    throw new ConfigError(`${where}: ${file} has no export ${exportName} (it exports ${exported})`, "name an exported class or factory function after the colon");
  }
  const options = config.options ?? {};
  // A class has a prototype with its methods; a factory (or arrow function) is called.
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(made));
  const source = (isClass ? new (made as new (o: unknown, c: SourceContext) => unknown)(options, context) : await (made as (o: unknown, c: SourceContext) => unknown)(options, context)) as Source;
  const missing = (["ping", "changed", "docs"] as const).filter((m) => typeof (source as unknown as Record<string, unknown>)?.[m] !== "function");
  if (missing.length || typeof source.ordered !== "boolean") {
    const lacks = [...missing, ...(typeof source?.ordered !== "boolean" ? ["ordered (boolean)"] : [])].join(", ");
    throw new ConfigError(`${where}: ${config.module} is not a sync source: it lacks ${lacks}`, 'implement the Source interface (import type { Source } from "sluice")');
  }
  return source;
}
