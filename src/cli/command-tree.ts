/**
 * Finds which command argv names in citty's tree (`sluice job list`), loading only the lazily
 * imported subcommands on the way, so that strict-args can check argv before anything runs.
 */
import type { ArgsDef, CommandDef } from "citty";
import { examples } from "./examples.ts";
import { type CommandShape, GLOBAL_FLAGS, globalFlagsIn, isFlagToken } from "./strict-args.ts";
import type { ArgsDef as StrictArgsDef } from "./strict-args.ts";

export interface ResolvedCommand {
  cmd: CommandDef<any>;
  /** The group it belongs to, with the full path as its name, for citty's usage line (`sluice migrate up`). */
  parent: CommandDef<any> | undefined;
  shape: CommandShape;
  /** Which argv tokens named the command. */
  pathIndexes: number[];
}

type Lazy<T> = T | Promise<T> | (() => T | Promise<T>);

export async function resolveValue<T>(value: Lazy<T>): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** Subcommands of `cmd` by name and by `meta.alias`, as citty finds them. */
async function subCommandNamed(cmd: CommandDef<any>, name: string): Promise<CommandDef<any> | undefined> {
  const subs = await resolveValue(cmd.subCommands ?? {});
  if (Object.hasOwn(subs, name)) return resolveValue(subs[name]!);
  for (const sub of Object.values(subs)) {
    const resolved = await resolveValue(sub);
    const alias = (await resolveValue(resolved.meta ?? {}))?.alias;
    if (alias !== undefined && (Array.isArray(alias) ? alias : [alias]).includes(name)) return resolved;
  }
  return undefined;
}

export async function resolveCommand(main: CommandDef<any>, argv: readonly string[]): Promise<ResolvedCommand> {
  let cmd = main;
  let parent: CommandDef<any> | undefined;
  const mainMeta = await resolveValue(main.meta ?? {});
  const path = [String(mainMeta?.name ?? "sluice")];
  const pathIndexes: number[] = [];
  for (let i = 0; i < argv.length && cmd.subCommands; i++) {
    const token = argv[i]!;
    if (token === "--") break;
    if (isFlagToken(token)) {
      // A command's flag typed before the command: its value must not be taken for a command name.
      const next = argv[i + 1];
      const global = globalFlagsIn(token);
      // A global flag with a value (`--log-format json`): the value is never a command.
      if (global?.length === 1 && GLOBAL_FLAGS.some((g) => g.key === global[0] && g.values) && !token.includes("=")) {
        i++;
        continue;
      }
      if (!global && !token.includes("=") && next !== undefined && !isFlagToken(next) && !(await subCommandNamed(cmd, next))) i++;
      continue;
    }
    const sub = await subCommandNamed(cmd, token);
    if (!sub) break;
    parent = { meta: { name: path.join(" "), version: mainMeta?.version } };
    cmd = sub;
    path.push(token);
    pathIndexes.push(i);
  }
  const args = (await resolveValue(cmd.args ?? {})) as ArgsDef;
  const subCommands = cmd.subCommands ? Object.keys(await resolveValue(cmd.subCommands)) : [];
  const key = path.slice(1).join(" ") || path[0]!;
  return {
    cmd,
    parent,
    pathIndexes,
    shape: { path, args: args as StrictArgsDef, subCommands, examples: examples[key] ?? [] },
  };
}

/** Every command in the tree with its path, loading all of them (for tests and checks of the definitions). */
export async function allCommands(main: CommandDef<any>): Promise<{ path: string[]; args: StrictArgsDef }[]> {
  const out: { path: string[]; args: StrictArgsDef }[] = [];
  const walk = async (cmd: CommandDef<any>, path: string[]) => {
    out.push({ path, args: (await resolveValue(cmd.args ?? {})) as StrictArgsDef });
    for (const [name, sub] of Object.entries(await resolveValue(cmd.subCommands ?? {}))) await walk(await resolveValue(sub), [...path, name]);
  };
  await walk(main, ["sluice"]);
  return out;
}
