/**
 * The strict command line: checks argv against the resolved command's citty `args` definition
 * before anything runs, and returns the first problem as one line. Pure: the command tree is walked
 * elsewhere (command-tree.ts); this module only reads definitions and tokens.
 *
 * Parsing follows citty (node:util parseArgs, strict: false) so that what passes here is what the
 * command reads: `--name value`, `--name=value`, `--no-name` for booleans, `-x` for one-letter
 * aliases, `--` ending the flags.
 */
import { closestMatch } from "leven";

export interface ArgDef {
  type?: "positional" | "string" | "boolean" | "enum";
  alias?: string | string[];
  required?: boolean;
  default?: unknown;
  options?: readonly string[];
  valueHint?: string;
  description?: string;
}
export type ArgsDef = Record<string, ArgDef>;

/** What the checker needs to know about the command argv names. */
export interface CommandShape {
  /** e.g. ["sluice", "job", "list"] */
  path: string[];
  args: ArgsDef;
  /** Names of its subcommands when it is a group (`sluice job`); empty for a command that runs. */
  subCommands: string[];
  /** Example command lines (from examples.ts), used to show a flag or positional in use. */
  examples: string[];
}

export interface GlobalFlags {
  help: boolean;
  version: boolean;
  quiet: boolean;
  verbose: boolean;
  /** `--log-format plain|json`, when given; SLUICE_LOG_FORMAT otherwise. */
  logFormat: string | null;
}

type BooleanGlobal = Exclude<keyof GlobalFlags, "logFormat">;

/** The flags every command accepts, before or after the subcommand; the only ones allowed before it. */
export const GLOBAL_FLAGS: { key: keyof GlobalFlags; long: string; short: string[]; description: string; values?: readonly string[] }[] = [
  { key: "help", long: "help", short: ["h"], description: "show help for the command" },
  { key: "version", long: "version", short: ["V", "v"], description: "print the version and the database migration it expects" },
  { key: "quiet", long: "quiet", short: ["q"], description: "log errors only" },
  { key: "verbose", long: "verbose", short: [], description: "log debug detail" },
  { key: "logFormat", long: "log-format", short: [], description: "plain or json (one JSON object per log line)", values: ["plain", "json"] },
];

export interface ArgvCheck {
  /** The first problem, as one line, or null when argv is fine. */
  problem: string | null;
  globals: GlobalFlags;
  /** argv without the global flags: what citty parses. */
  commandArgv: string[];
  /** The command is a group (`sluice job`) and argv names none of its subcommands. */
  needsCommand: boolean;
  /** argv holds something besides global flags (a command, a flag, a positional). */
  hasCommandTokens: boolean;
}

/** A token citty reads as a flag: `-x`, `--x`, `-5`; `-` alone is a value (stdin, by convention). */
export function isFlagToken(token: string): boolean {
  return token.length > 1 && token.startsWith("-");
}

/** Whether a token can be the value of the string flag before it (`--percent -5` can; `--keep --json` cannot). */
function isValueToken(token: string | undefined): token is string {
  return token !== undefined && (!isFlagToken(token) || /^-\d/.test(token));
}

/** The global flag a token is, if it is one (`--quiet`, `-q`, or a group of global shorts such as `-qh`). */
export function globalFlagsIn(token: string): (keyof GlobalFlags)[] | null {
  if (token.startsWith("--")) {
    const hit = GLOBAL_FLAGS.find((g) => g.long === token.slice(2));
    return hit ? [hit.key] : null;
  }
  if (!isFlagToken(token) || token.includes("=")) return null;
  const keys: (keyof GlobalFlags)[] = [];
  for (const letter of token.slice(1)) {
    const hit = GLOBAL_FLAGS.find((g) => g.short.includes(letter));
    if (!hit) return null;
    keys.push(hit.key);
  }
  return keys;
}

const toArray = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

interface FlagMatch {
  name: string;
  def: ArgDef;
  negated: boolean;
}

/** The definition a long flag name refers to: its name, an alias, or `no-` + a boolean's name. */
function lookupLong(args: ArgsDef, name: string): FlagMatch | null {
  for (const [key, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    if (key === name || toArray(def.alias).includes(name)) return { name: key, def, negated: false };
  }
  if (name.startsWith("no-")) {
    const base = lookupLong(args, name.slice(3));
    if (base && base.def.type === "boolean" && !base.negated) return { ...base, negated: true };
  }
  return null;
}

function lookupShort(args: ArgsDef, letter: string): FlagMatch | null {
  for (const [key, def] of Object.entries(args)) {
    if (def.type !== "positional" && toArray(def.alias).includes(letter)) return { name: key, def, negated: false };
  }
  return null;
}

const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/_/g, "-").toLowerCase();

/** The closest of `candidates` to a mistyped `word`, if one is close enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const normal = kebab(word);
  if (candidates.includes(normal)) return normal;
  if (normal.length < 3) return undefined;
  // Two edits (a swapped pair of letters) for short words, a third of the word for long ones.
  return closestMatch(normal, candidates, { maxDistance: Math.min(3, Math.max(2, Math.floor(normal.length / 3))) });
}

const quote = (value: string) => (/^[\w./:@%+,=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

/** Checks argv (everything after `sluice`) for `shape`, the command it resolved to; `pathIndexes` are the tokens naming it. */
export function checkArgv(shape: CommandShape, argv: readonly string[], pathIndexes: readonly number[]): ArgvCheck {
  const command = shape.path.join(" ");
  const lastPathIndex = pathIndexes.length ? pathIndexes[pathIndexes.length - 1]! : -1;
  const problems: string[] = [];
  const globals: GlobalFlags = { help: false, version: false, quiet: false, verbose: false, logFormat: null };
  const commandArgv: string[] = [];
  const given = new Set<string>();
  const positionalDefs = Object.entries(shape.args).filter(([, d]) => d.type === "positional");
  let positionals = 0;
  let hasCommandTokens = false;
  let endOfFlags = false;
  const helpHint = `run \`${command} --help\` for its flags`;
  const longNames = [
    ...Object.entries(shape.args).flatMap(([k, d]) => (d.type === "positional" ? [] : [k, ...toArray(d.alias).filter((a) => a.length > 1)])),
    ...GLOBAL_FLAGS.map((g) => g.long),
  ];

  const unknownFlag = (display: string, typed: string) => {
    const suggestion = closest(typed, longNames);
    problems.push(
      suggestion
        ? `unknown flag ${display} for \`${command}\`; did you mean --${suggestion}?`
        : `unknown flag ${display} for \`${command}\` (${pathIndexes.length === 0 && shape.subCommands.length ? `only ${globalList()} go before the command; ` : ""}${helpHint})`,
    );
  };

  const positional = (token: string) => {
    hasCommandTokens = true;
    commandArgv.push(token);
    if (shape.subCommands.length) {
      if (positionals++ > 0) return; // one unknown command is enough to report
      const suggestion = closest(token, shape.subCommands);
      problems.push(
        suggestion
          ? `unknown command ${token} for \`${command}\`; did you mean \`${command} ${suggestion}\`?`
          : `unknown command ${token} for \`${command}\` (commands: ${shape.subCommands.join(", ")})`,
      );
      return;
    }
    if (positionals++ >= positionalDefs.length) {
      problems.push(
        positionalDefs.length
          ? `unexpected argument ${token} for \`${command}\`, which takes ${positionalDefs.map(([k]) => k.toUpperCase()).join(" ")} (${helpHint})`
          : `unexpected argument ${token} for \`${command}\`, which takes no arguments (${helpHint})`,
      );
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (pathIndexes.includes(i)) {
      hasCommandTokens = true;
      commandArgv.push(token);
      continue;
    }
    if (endOfFlags || !isFlagToken(token)) {
      positional(token);
      continue;
    }
    if (token === "--") {
      endOfFlags = true;
      commandArgv.push(token);
      continue;
    }
    const [head, inline] = splitInline(token);
    const global = globalFlagsIn(head);
    const valued = global?.length === 1 ? GLOBAL_FLAGS.find((g) => g.key === global[0] && g.values) : undefined;
    if (valued) {
      // A global flag with a value (`--log-format json`, `--log-format=json`).
      let value = inline;
      if (value === undefined && isValueToken(argv[i + 1]) && !pathIndexes.includes(i + 1)) value = argv[++i];
      if (!value || !valued.values!.includes(value)) {
        const suggestion = value ? closest(value, valued.values!) : undefined;
        problems.push(`${head} must be one of ${valued.values!.join(", ")}${value ? `, got "${value}"` : ""}${suggestion ? `; did you mean ${suggestion}?` : ""}`);
      } else globals.logFormat = value;
      continue;
    }
    if (global) {
      for (const key of global) globals[key as BooleanGlobal] = true;
      if (inline !== undefined) problems.push(`${head} takes no value (got ${token})`);
      continue;
    }
    hasCommandTokens = true;
    let match: FlagMatch | null;
    if (head.startsWith("--")) {
      match = lookupLong(shape.args, head.slice(2));
      if (!match) {
        unknownFlag(head, head.slice(2));
        continue;
      }
    } else {
      match = head.length === 2 ? lookupShort(shape.args, head.slice(1)) : null;
      if (!match) {
        unknownFlag(head, head.slice(1));
        continue;
      }
    }
    const misplaced = i < lastPathIndex;
    const taken = [token];
    if (match.def.type === "boolean") {
      if (inline !== undefined) {
        problems.push(`${head} takes no value (got ${token}); write ${match.negated ? head : `${head}, or --no-${match.name} to turn it off`}`);
        continue;
      }
    } else {
      let value = inline;
      if (value === undefined) {
        const next = argv[i + 1];
        if (isValueToken(next) && !pathIndexes.includes(i + 1) && !endOfFlags) {
          value = next;
          taken.push(next);
          i++;
        }
      }
      if (value === undefined || value === "") {
        problems.push(`${head} needs a value, e.g. \`${exampleOf(shape, match.name, match.def)}\``);
        continue;
      }
      const options = match.def.options;
      if (match.def.type === "enum" && options?.length && !options.includes(value)) {
        const suggestion = closest(value, options);
        problems.push(`${head} must be one of ${options.join(", ")}, got "${value}"${suggestion ? `; did you mean ${suggestion}?` : ""}`);
        continue;
      }
    }
    if (misplaced) {
      // Show the line as it should have been typed: the flag (and its value) moved after the command.
      const at = i - taken.length + 1;
      const rest = argv.filter((_, j) => j < at || j > i);
      problems.push(`${head} belongs to the command: ${["sluice", ...rest, ...taken].map(quote).join(" ")}`);
      continue;
    }
    given.add(match.name);
    commandArgv.push(...taken);
  }

  const needsCommand = shape.subCommands.length > 0 && positionals === 0;
  if (!shape.subCommands.length) {
    for (const [name, def] of positionalDefs.slice(positionals)) {
      if (def.required !== false && def.default === undefined) {
        problems.push(`missing ${name.toUpperCase()} for \`${command}\`, e.g. \`${shape.examples[0] ?? `${command} <${name.toUpperCase()}>`}\``);
        break;
      }
    }
    for (const [name, def] of Object.entries(shape.args)) {
      if (def.type !== "positional" && def.required === true && def.default === undefined && !given.has(name)) {
        problems.push(`missing --${name} for \`${command}\`, e.g. \`${exampleOf(shape, name, def)}\``);
      }
    }
  }
  if (globals.quiet && globals.verbose) problems.push("--quiet and --verbose contradict each other; give one");
  return { problem: problems[0] ?? null, globals, commandArgv, needsCommand, hasCommandTokens };
}

function splitInline(token: string): [string, string | undefined] {
  const eq = token.indexOf("=");
  return eq > 0 ? [token.slice(0, eq), token.slice(eq + 1)] : [token, undefined];
}

/** An example with the flag in use: one of the command's examples, or one built from its definition. */
function exampleOf(shape: CommandShape, name: string, def: ArgDef): string {
  const inUse = new RegExp(`(^|\\s)--${name.replace(/[-]/g, "\\-")}[ =]\\S`);
  const found = shape.examples.find((line) => inUse.test(line));
  if (found) return found.replace(/\s+#.*$/, "");
  const positionals = Object.entries(shape.args)
    .filter(([, d]) => d.type === "positional" && d.required !== false)
    .map(([k]) => `<${k.toUpperCase()}>`);
  const value = def.type === "enum" && def.options?.length ? def.options[0] : (def.valueHint ?? name.toUpperCase());
  return [...shape.path, ...positionals, `--${name}`, value].join(" ");
}

export function globalList(): string {
  return GLOBAL_FLAGS.map((g) => [...g.short.map((s) => `-${s}`), `--${g.long}`].join("/")).join(", ");
}
