/**
 * The settings an index is loaded under and the ones it serves with, from a dataset's index body.
 *
 * Elasticsearch takes an index setting in three forms, all meaning `index.number_of_replicas`:
 *   { number_of_replicas: 1 }   { index: { number_of_replicas: 1 } }   { "index.number_of_replicas": 1 }
 * Openverse's body (datasets/openverse/index-body.ts) uses the second. Reading only the first, the
 * index stage put back 0 replicas and the default refresh interval on an index whose body asked for
 * replicas 1 and `30s`, so a production alias went live with no replica; when Elasticsearch meets
 * two forms of one setting, the plain one wins, so the loading override has to take the body's out
 * of every form rather than add its own beside them.
 */

/** Index settings as a body writes them (any of the three forms). */
export type IndexSettings = Record<string, unknown>;

/** The settings sluice changes while loading and puts back afterwards. */
const SERVING = ["number_of_replicas", "refresh_interval", "auto_expand_replicas"] as const;
type ServingSetting = (typeof SERVING)[number];

/** The body's value of `index.<name>` in whichever form it is written, or undefined. The plain form wins, as in Elasticsearch. */
export function bodySetting(settings: IndexSettings | undefined, name: string): unknown {
  if (!settings) return undefined;
  if (settings[name] !== undefined) return settings[name];
  if (settings[`index.${name}`] !== undefined) return settings[`index.${name}`];
  const nested = settings.index;
  return nested && typeof nested === "object" ? (nested as Record<string, unknown>)[name] : undefined;
}

/** The body's settings without `names`, in every form. */
function withoutSettings(settings: IndexSettings, names: readonly string[]): IndexSettings {
  const rest: IndexSettings = {};
  for (const [key, value] of Object.entries(settings)) {
    if (names.includes(key) || names.some((name) => key === `index.${name}`)) continue;
    if (key === "index" && value && typeof value === "object") {
      const nested = Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([name]) => !names.includes(name)));
      if (Object.keys(nested).length) rest.index = nested;
      continue;
    }
    rest[key] = value;
  }
  return rest;
}

/**
 * What the index serves with once loaded: the body's replicas (0 when it names none, as Openverse
 * creates its indices), its refresh interval (null puts Elasticsearch's default back) and, only when
 * the body sets it, its `auto_expand_replicas` (which loading turned off).
 */
export function servingSettings(settings: IndexSettings | undefined): Partial<Record<ServingSetting, unknown>> {
  const autoExpand = bodySetting(settings, "auto_expand_replicas");
  return {
    number_of_replicas: bodySetting(settings, "number_of_replicas") ?? 0,
    refresh_interval: bodySetting(settings, "refresh_interval") ?? null,
    ...(autoExpand !== undefined ? { auto_expand_replicas: autoExpand } : {}),
  };
}

/**
 * The settings to create the index with for loading: the body's, with refresh off, auto-expansion off
 * and no replicas (`replicas: "serving"` keeps the body's replicas and auto-expansion, for loads where a
 * lost node must not lose acknowledged documents: scale-out).
 */
export function loadingSettings(settings: IndexSettings | undefined, { replicas }: { replicas: "none" | "serving" } = { replicas: "none" }): IndexSettings {
  const serving = servingSettings(settings);
  const loading: IndexSettings = { ...withoutSettings(settings ?? {}, SERVING), number_of_replicas: 0, refresh_interval: "-1" };
  if (serving.auto_expand_replicas !== undefined) loading.auto_expand_replicas = "false";
  if (replicas === "serving") {
    loading.number_of_replicas = serving.number_of_replicas;
    if (serving.auto_expand_replicas !== undefined) loading.auto_expand_replicas = serving.auto_expand_replicas;
  }
  return loading;
}
