/**
 * What a sluice.config.ts may import: `import { defineConfig } from "sluice"`. The compiled binary
 * serves this module to the config file at run time (see src/config/load.ts).
 */
import type { SluiceConfig } from "./config/types.ts";

export type * from "./config/types.ts";
export type * from "./sources/types.ts";

/** Returns the config unchanged; it exists so that TypeScript checks what you write. */
export function defineConfig(config: SluiceConfig): SluiceConfig {
  return config;
}
