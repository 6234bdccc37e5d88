/** Loads the real Openverse sample rows into a test upstream, with the commands at the top of the .sql files. */
import type { TestEnvironment } from "./harness.ts";

const fixtures = new URL("../fixtures/openverse/", import.meta.url).pathname;

const audioColumns =
  "identifier, created_on, updated_on, ingestion_type, provider, source, foreign_identifier, foreign_landing_url, url, thumbnail, duration, bit_rate, sample_rate, category, genres, audio_set, alt_audio_files, filesize, license, license_version, creator, creator_url, title, meta_data, tags, last_synced_with_source, removed_from_source, standardized_popularity";

async function psql(url: string, ...args: string[]): Promise<void> {
  const child = Bun.spawn(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", ...args], { cwd: fixtures, stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`psql failed: ${stderr}`);
}

export async function loadOpenverseSample(t: TestEnvironment, which: ("image" | "audio")[] = ["image", "audio"]): Promise<void> {
  if (which.includes("image")) {
    await psql(t.upstreamUrl, "-f", "upstream_image.sql");
    await psql(t.upstreamUrl, "-c", "\\copy image FROM 'sample_images_to_clean.csv' WITH (FORMAT csv, HEADER true)");
  }
  if (which.includes("audio")) {
    await psql(t.upstreamUrl, "-f", "upstream_audio.sql");
    await psql(t.upstreamUrl, "-c", `\\copy audio (${audioColumns}) FROM 'sample_audio_data.csv' WITH (FORMAT csv, HEADER true)`);
  }
}

export async function lastJob(t: TestEnvironment, dataset: string, stage: string): Promise<{ id: number; state: string; counters: any; error: string | null; generation: number }> {
  const [row] = await t.api`select id::int, state, counters, error, generation from sluice.jobs where dataset = ${dataset} and stage = ${stage} order by id desc limit 1`;
  return row as never;
}

/** Grows the upstream image table to `copies` times the sample, so that stages last long enough to be hit. */
export async function growUpstreamImages(t: TestEnvironment, copies: number): Promise<void> {
  await t.upstream.unsafe(`
    INSERT INTO image SELECT gen_random_uuid(), created_on, updated_on, ingestion_type, provider, source,
      foreign_identifier || '-' || n, foreign_landing_url, url || '?copy=' || n, thumbnail, width, height, filesize,
      license, license_version, creator, creator_url, title, meta_data, tags, watermarked, last_synced_with_source,
      removed_from_source, filetype, category, standardized_popularity
    FROM (SELECT * FROM image) sample, generate_series(1, ${copies - 1}) n`);
}
