/**
 * Parsing migration files, kept apart from running them. One file holds both directions, as
 * dbmate does, so an up can never be shipped without its down:
 *
 *   0001_jobs.sql:  "-- migrate:up\nCREATE …\n-- migrate:down\nDROP …"
 *   → { version: 1, name: "jobs", up: "CREATE …", down: "DROP …", checksum: "9f2c…" }
 */
import { createHash } from "node:crypto";

export interface Migration {
  version: number;
  name: string;
  file: string;
  up: string;
  down: string;
  /** sha256 of the file with line endings normalised; an applied file that changes is drift. */
  checksum: string;
}

const fileNamePattern = /^(\d{4,})_([a-z0-9_]+)\.sql$/;
const upMarker = /^--\s*migrate:up\s*$/m;
const downMarker = /^--\s*migrate:down\s*$/m;

export function parseMigration(file: string, text: string): Migration {
  const nameMatch = fileNamePattern.exec(file);
  if (!nameMatch) throw new Error(`migration file ${file} must be named NNNN_snake_name.sql`);
  const normalized = text.replace(/\r\n/g, "\n");
  const upAt = normalized.search(upMarker);
  const downAt = normalized.search(downMarker);
  if (upAt < 0 || downAt < 0 || downAt < upAt) {
    throw new Error(`migration ${file} needs a "-- migrate:up" section followed by a "-- migrate:down" section`);
  }
  const up = normalized.slice(upAt, downAt).replace(upMarker, "").trim();
  const down = normalized.slice(downAt).replace(downMarker, "").trim();
  if (!up) throw new Error(`migration ${file} has an empty up section`);
  if (!down) throw new Error(`migration ${file} has an empty down section`);
  return {
    version: Number(nameMatch[1]),
    name: nameMatch[2]!,
    file,
    up,
    down,
    checksum: createHash("sha256").update(normalized).digest("hex"),
  };
}

/** Parses and orders a set of files; versions must be unique and start at 1 with no gaps. */
export function parseMigrations(sources: readonly { file: string; text: string }[]): Migration[] {
  const migrations = sources.map((s) => parseMigration(s.file, s.text)).sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration versions must run 1, 2, 3…; found ${m.file} at position ${i + 1}`);
  });
  return migrations;
}
