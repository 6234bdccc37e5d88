/**
 * Openverse-shaped `image` rows, generated upstream with one set-based INSERT … SELECT FROM
 * generate_series per range, deterministic in the row number i (no random()), so a run at N rows
 * and a run at N/4 rows see the same first N/4 rows.
 *
 * Shaped like test/fixtures/openverse/sample_images_to_clean.csv (~1.1 KB a row):
 *  - 12 providers with the sample's skew (flickr about half), source = provider;
 *  - tags: a jsonb array of 4–22 {name, provider[, accuracy]} objects; about half the rows carry
 *    machine tags (clarifai, some rekognition) with accuracies from 0.80 to 1.0, sometimes as
 *    strings, so low-accuracy, denied-provider, denylisted ("no person", "squareformat",
 *    "uploaded:by=flickrmobile", "by") and fragment (":"/"=") tags all occur; ~8 % rows have no tags;
 *  - meta_data: pub_date, date_taken, license_url, usually a description (sometimes long);
 *  - urls: foreign_landing_url and creator_url without a scheme on ~1 row in 7 (flickr, as in
 *    the sample), url/thumbnail without one on ~1 row in 50;
 *  - unique identifier, url and (provider, md5(foreign_identifier));
 *  - 5 % removed_from_source; width/height, filesize, standardized_popularity.
 */
import { readFileSync } from "node:fs";

export const PROVIDERS = [
  "flickr", "flickr", "flickr", "flickr", "flickr", "flickr", "flickr", "flickr", "flickr", "flickr",
  "geographorguk", "geographorguk", "geographorguk", "wikimedia", "wikimedia", "eol", "eol",
  "rijksmuseum", "behance", "deviantart", "500px", "digitaltmuseum", "mccordmuseum", "phylopic",
  "europeana", "smithsonian",
];

const WORDS = [
  "portrait", "people", "motion", "drop", "action", "monochrome", "underwater", "girl", "woman",
  "splash", "food", "dark", "rain", "adult", "art", "drink", "wet", "man", "coffee", "dawn", "cup",
  "hot", "caffeine", "breakfast", "espresso", "tea", "mug", "cappuccino", "still life", "porcelain",
  "saucer", "milk", "mocha", "landscape", "sky", "tree", "nature", "water", "travel", "city",
  "architecture", "building", "street", "outdoors", "summer", "winter", "snow", "mountain", "lake",
  "river", "sea", "beach", "sunset", "cloud", "flower", "garden", "park", "bird", "animal", "dog",
  "cat", "horse", "insect", "butterfly", "church", "bridge", "road", "car", "train", "boat",
  "harbour", "castle", "museum", "painting", "sculpture", "drawing", "history", "vintage", "old",
  "festival", "music", "concert", "sport", "football", "parkrun", "running", "family", "child",
  "baby", "hobby", "nearby", "market", "shop", "night", "light", "reflection", "texture", "pattern",
  "england", "scotland", "wales", "london", "paris", "amsterdam", "berlin", "tokyo", "new york",
  "2018", "2019", "february", "harrow", "lodge", "canon", "nikon", "macro", "bokeh", "hdr",
];
/** Tags Openverse's rules drop: whole-name denylist and ":" / "=" fragments. */
const DENIED = ["no person", "squareformat", "uploaded:by=flickrmobile", "by", "flickriosapp:filter=flamingo", "geotagged:lat=51"];
const LICENSES = ["by", "by", "by-sa", "by-sa", "by-nc", "by-nc-sa", "by-nc-nd", "by-nd", "cc0", "pdm"];
const TITLE_WORDS = ["IMG", "DSC", "Photo", "View of", "The", "Old", "A walk in", "Portrait of", "Detail of", "Untitled"];

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const arr = (xs: string[]) => `ARRAY[${xs.map(lit).join(",")}]::text[]`;

/** One INSERT for rows lo..hi (inclusive). */
export function insertSql(lo: number, hi: number): string {
  return `
WITH c AS (
  SELECT ${arr(PROVIDERS)} AS providers, ${arr(WORDS)} AS words, ${arr(DENIED)} AS denied,
         ${arr(LICENSES)} AS licenses, ${arr(TITLE_WORDS)} AS title_words
), g AS (
  SELECT i,
         abs(hashint4(i)) AS h1, abs(hashint4(i + 1000000007)) AS h2, abs(hashint4(-i)) AS h3,
         c.providers[1 + abs(hashint4(i * 31)) % cardinality(c.providers)] AS p
  FROM generate_series(${lo}::int, ${hi}::int) AS i, c
)
INSERT INTO image
SELECT
  md5('bench-image-' || i)::uuid,
  timestamptz '2018-01-01 00:00:00+00' + (h1 % 50000000) * interval '1 second',
  timestamptz '2019-06-01 00:00:00+00' + (h2 % 50000000) * interval '1 second',
  'provider_api', p, p,
  i::text || '-' || substr(md5(i::text), 1, 6),
  CASE WHEN p = 'flickr' AND h1 % 7 = 0 THEN '' ELSE 'https://' END || 'www.' || p || '.org/photos/' || (h2 % 90000) || '@N0' || (h1 % 9) || '/' || i,
  CASE WHEN h3 % 50 = 0 THEN '' ELSE 'https://' END || 'live.static' || p || '.com/' || (h1 % 9000) || '/' || i || '_' || substr(md5('u' || i), 1, 10) || '_b.' || (CASE WHEN h2 % 10 = 0 THEN 'png' ELSE 'jpg' END),
  CASE WHEN h3 % 50 = 0 THEN '' ELSE 'https://' END || 'live.static' || p || '.com/' || (h1 % 9000) || '/' || i || '_' || substr(md5('u' || i), 1, 10) || '_m.jpg',
  CASE WHEN h3 % 13 = 0 THEN NULL ELSE 200 + h1 % 3800 END,
  CASE WHEN h3 % 13 = 0 THEN NULL ELSE 150 + h2 % 2900 END,
  CASE WHEN h3 % 3 = 0 THEN 20000 + h1 % 9000000 END,
  (SELECT licenses[1 + h2 % cardinality(licenses)] FROM c),
  CASE h1 % 3 WHEN 0 THEN '2.0' WHEN 1 THEN '4.0' ELSE '3.0' END,
  'Creator ' || (h2 % 60000) || CASE WHEN h3 % 5 = 0 THEN ' Photography Studio' ELSE '' END,
  CASE WHEN p = 'flickr' AND h2 % 7 = 0 THEN '' ELSE 'https://' END || 'www.' || p || '.org/people/' || (h2 % 60000),
  (SELECT title_words[1 + h3 % cardinality(title_words)] || ' ' || words[1 + h1 % cardinality(words)] || ' '
          || words[1 + h2 % cardinality(words)] || ' ' || (h3 % 10000)::text FROM c),
  jsonb_build_object(
    'pub_date', (1300000000 + h1 % 300000000)::text,
    'date_taken', to_char(timestamp '2010-01-01' + (h2 % 300000000) * interval '1 second', 'YYYY-MM-DD HH24:MI:SS'),
    'license_url', 'https://creativecommons.org/licenses/' || CASE h1 % 3 WHEN 0 THEN 'by/2.0/' WHEN 1 THEN 'by-sa/4.0/' ELSE 'by-nc/3.0/' END,
    'raw_license_url', NULL)
  || CASE WHEN h3 % 4 = 0 THEN '{}'::jsonb ELSE jsonb_build_object('description',
       (SELECT string_agg(words[1 + (h1 / (k + 1) + k * 7) % cardinality(words)], ' ') FROM c, generate_series(1, 6 + h3 % (CASE WHEN h3 % 40 = 1 THEN 300 ELSE 30 END)) AS k)) END,
  CASE WHEN h1 % 25 = 0 THEN NULL ELSE (
    SELECT jsonb_agg(CASE
      WHEN k <= n_own THEN jsonb_build_object('name',
             CASE WHEN (h3 + k) % 23 = 0 THEN denied[1 + (h1 + k) % cardinality(denied)] ELSE words[1 + (h2 + k * 13) % cardinality(words)] END,
             'provider', p)
      ELSE jsonb_build_object('name', words[1 + (h1 + k * 17) % cardinality(words)],
             'provider', CASE WHEN h2 % 9 = 0 THEN 'rekognition' ELSE 'clarifai' END,
             'accuracy', CASE WHEN h3 % 2 = 0 THEN to_jsonb(round((1.0 - (k - n_own) * 0.009 - (h1 % 7) * 0.001)::numeric, 5))
                              ELSE to_jsonb(round((1.0 - (k - n_own) * 0.009 - (h1 % 7) * 0.001)::numeric, 5)::text) END)
      END ORDER BY k)
    FROM c, LATERAL (SELECT 1 + h2 % 8 AS n_own, CASE WHEN h3 % 2 = 0 THEN h1 % 15 ELSE 0 END AS n_machine) AS m,
         generate_series(1, m.n_own + m.n_machine) AS k) END,
  false,
  timestamptz '2019-06-01 00:00:00+00' + (h2 % 50000000) * interval '1 second',
  h1 % 20 = 7,
  CASE WHEN h2 % 4 = 0 THEN NULL ELSE 'jpg' END,
  CASE WHEN h3 % 3 = 0 THEN NULL ELSE 'photograph' END,
  CASE WHEN h1 % 6 = 0 THEN NULL ELSE round(((h2 % 100000) / 100000.0)::numeric, 6)::float8 END
FROM g`;
}

/** The upstream DDL of the fixture, so the bench table is exactly the one the tests use. */
export function upstreamDdl(root: string): string {
  return readFileSync(`${root}/test/fixtures/openverse/upstream_image.sql`, "utf8");
}
