/** Limits of `sluice ingest`: one full type, one defaults object, flags read their defaults from it. */
import { UsageError } from "../../errors.ts";

export interface IngestOptions {
  /** Largest file accepted inside a bundle. @default 10 GiB */
  maxFileBytes: number;
  /** Most entries (files and directories) one bundle may hold. @default 100000 */
  maxEntries: number;
  /** Largest metadata.txt accepted; it is the one entry read into memory. @default 16 MiB */
  maxMetadataBytes: number;
}

export const INGEST_DEFAULTS: Readonly<IngestOptions> = {
  maxFileBytes: 10 * 1024 ** 3,
  maxEntries: 100_000,
  maxMetadataBytes: 16 * 1024 ** 2,
};

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "512" → 512, "64K" / "64KiB" / "64kb" → 65536, "1.5G" → 1610612736 (binary multiples). */
export function parseByteSize(flag: string, value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  const bytes = match ? Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(`--${flag} must be a size such as 500M or 10G, got "${value}"`);
  }
  return bytes;
}

/** "10 GiB", "16 MiB", "4 bytes": sizes in messages. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}
