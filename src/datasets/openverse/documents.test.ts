import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import {
  type OpenverseAudioRow,
  type OpenverseImageRow,
  aspectRatio,
  audioDocument,
  audioExtensions,
  audioLength,
  authorityBoost,
  description,
  detailedTags,
  IMAGE_DOCUMENT_COLUMNS,
  imageDocument,
  META_DATA_DOCUMENT_KEYS,
  imageSize,
  maturity,
  popularityFeature,
  rankFeature,
  urlExtension,
} from "./documents.ts";

describe("popularity and rank features", () => {
  test.each([
    [null, null],
    [undefined, null],
    [0, null],
    [0.5, 50],
    [1, 100],
    [1.7, 100],
    [-0.2, null],
    ["0.25", 25],
    [Number.NaN, null],
    ["NaN", null],
    [1e-40, null],
  ])("standardized_popularity %p → %p", (input, output) => {
    expect(popularityFeature(input)).toBe(output);
  });

  test("rankFeature clamps to (0, 100]", () => {
    expect(rankFeature(0)).toBeNull();
    expect(rankFeature(100.5)).toBe(100);
    expect(rankFeature(0.001)).toBe(0.001);
    expect(rankFeature(null)).toBeNull();
  });
});

describe("authorityBoost", () => {
  test.each([
    ["flickr", 75],
    ["rijksmuseum", 90],
    ["stocksnap", 85],
    ["rawpixel", 85],
    ["wikimedia", null],
    ["constructor", null],
  ])("provider %p → %p", (provider, boost) => {
    expect(authorityBoost({}, provider)).toBe(boost);
  });

  test("meta_data.authority_boost wins when present, even when unusable", () => {
    expect(authorityBoost({ authority_boost: "42" }, "flickr")).toBe(42);
    expect(authorityBoost({ authority_boost: 150 }, "flickr")).toBe(100);
    expect(authorityBoost({ authority_boost: 0 }, "flickr")).toBeNull();
    expect(authorityBoost({ authority_boost: "high" }, "flickr")).toBeNull();
    expect(authorityBoost({ authority_boost: null }, "flickr")).toBeNull();
    expect(authorityBoost(null, null)).toBeNull();
  });
});

describe("image buckets", () => {
  test("aspect ratio", () => {
    expect(aspectRatio(100, 200)).toBe("tall");
    expect(aspectRatio(200, 100)).toBe("wide");
    expect(aspectRatio(100, 100)).toBe("square");
    expect(aspectRatio(0, 5)).toBe("tall");
    expect(aspectRatio(null, 5)).toBeNull();
    expect(aspectRatio(5, null)).toBeNull();
  });

  test.each([
    [1, 307_199, "small"],
    [640, 480, "medium"],
    [1, 1_439_999, "medium"],
    [1600, 900, "large"],
    [0, 0, "small"],
  ])("size of %p×%p is %p", (w, h, size) => {
    expect(imageSize(w, h)).toBe(size as "small" | "medium" | "large");
  });

  test("size without dimensions", () => {
    expect(imageSize(null, 10)).toBeNull();
    expect(imageSize(10, null)).toBeNull();
  });

  test.each([
    ["https://x.org/a.JPG", "jpg"],
    ["https://x.org/a.b.png", "png"],
    ["https://x.org/a.jpg?w=100#top", "jpg"],
    ["https://example.com/a", null],
    ["https://x.org/a.", null],
    ["", null],
    [null, null],
    ["https://x.org/a.jpg#x?y", "jpg"],
    ["https://x.org/dir.d/file#a.b", null],
    ["https://x.org/a.tar.GZ?x=1.2/3", "gz"],
    ["?a.b", null],
    [".JPEG", "jpeg"],
    ["noextension", "noextension"],
  ])("extension of %p is %p", (url, extension) => {
    expect(urlExtension(url)).toBe(extension);
  });
});

describe("audio buckets", () => {
  test.each([
    [null, null],
    [0, null],
    [1, "shortest"],
    [29_999, "shortest"],
    [30_000, "short"],
    [119_999, "short"],
    [120_000, "medium"],
    [599_999, "medium"],
    [600_000, "long"],
  ])("length of %p ms is %p", (duration, length) => {
    expect(audioLength(duration)).toBe(length as ReturnType<typeof audioLength>);
  });

  test("extensions come from alternative files when there are any", () => {
    expect(audioExtensions("mp3", [{ filetype: "ogg" }, { filetype: "flac" }, { url: "x" }])).toEqual(["ogg", "flac"]);
    expect(audioExtensions("mp3", [])).toBe("mp3");
    expect(audioExtensions("mp3", null)).toBe("mp3");
    expect(audioExtensions(null, undefined)).toBeNull();
  });
});

describe("text fields", () => {
  test("description is cut to 2000 characters, counting astral characters once", () => {
    expect(description({ description: "short" })).toBe("short");
    const astral = "😀".repeat(2001);
    expect(Array.from(description({ description: astral }) ?? "").length).toBe(2000);
    expect(description({ description: "a".repeat(2500) })?.length).toBe(2000);
    expect(description({ description: null })).toBeNull();
    expect(description({ description: 5 })).toBeNull();
    expect(description({})).toBeNull();
    expect(description(null)).toBeNull();
  });

  test("maturity", () => {
    expect(maturity(null, true)).toBe(true);
    expect(maturity({ mature: false }, true)).toBe(true);
    expect(maturity({ mature: true }, false)).toBe(true);
    expect(maturity({ mature: "true" }, null)).toBe(true);
    expect(maturity({ mature: "false" }, null)).toBe(false);
    expect(maturity({ mature: 1 }, undefined)).toBe(true);
    expect(maturity({}, undefined)).toBe(false);
    expect(maturity(null, null)).toBe(false);
  });

  test("detailed tags keep name and a numeric accuracy", () => {
    expect(
      detailedTags([
        { name: "cat", provider: "clarifai", accuracy: "0.95" },
        { name: "dog", provider: "flickr" },
        { name: "x", accuracy: null },
        { name: 5 },
        "loose",
      ]),
    ).toEqual([{ name: "cat", accuracy: 0.95 }, { name: "dog" }, { name: "x" }]);
    expect(detailedTags({})).toEqual([]);
    expect(detailedTags(null)).toEqual([]);
  });
});

describe("whole documents", () => {
  // Row 2 of sample_images_to_clean.csv as row_to_json returns it from the image table.
  const imageRow: OpenverseImageRow = {
    identifier: "6d3af835-a4b3-4403-9fb1-b9d50b3c70dd",
    created_on: "2018-11-09T10:31:06.910129+00:00",
    provider: "flickr",
    source: "flickr",
    foreign_landing_url: "www.flickr.com/photos/150386686@N03/42848463932",
    url: "https://live.staticflickr.com/1745/42848463932_5a917d2e66_b.jpg",
    thumbnail: "https://live.staticflickr.com/1745/42848463932_5a917d2e66_m.jpg",
    width: 1024,
    height: 683,
    license: "BY",
    license_version: "2",
    creator: "PHOTO SPORTS",
    creator_url: "www.flickr.com/photos/150386686@N03",
    title: "20180612-0391 ATLÉTICO X SÃO JOSÉ AMISTOSO",
    meta_data: { pub_date: "1529412301", date_taken: "2018-06-12 10:26:25" },
    tags: null,
    filetype: "JPG",
    category: null,
    standardized_popularity: null,
  };

  test("imageDocument", () => {
    expect(imageDocument(imageRow)).toEqual({
      id: "6d3af835-a4b3-4403-9fb1-b9d50b3c70dd",
      identifier: "6d3af835-a4b3-4403-9fb1-b9d50b3c70dd",
      created_on: "2018-11-09T10:31:06.910129+00:00",
      mature: false,
      license: "by",
      license_version: "2",
      license_url: null,
      provider: "flickr",
      source: "flickr",
      category: null,
      filetype: "jpg",
      title: "20180612-0391 ATLÉTICO X SÃO JOSÉ AMISTOSO",
      description: null,
      creator: "PHOTO SPORTS",
      creator_url: "www.flickr.com/photos/150386686@N03",
      url: "https://live.staticflickr.com/1745/42848463932_5a917d2e66_b.jpg",
      thumbnail: "https://live.staticflickr.com/1745/42848463932_5a917d2e66_m.jpg",
      foreign_landing_url: "www.flickr.com/photos/150386686@N03/42848463932",
      standardized_popularity: null,
      authority_boost: 75,
      max_boost: 75,
      min_boost: 1,
      tags: [],
      aspect_ratio: "wide",
      size: "medium",
      extension: "jpg",
    });
  });

  test("imageDocument with missing optional columns", () => {
    const doc = imageDocument({ identifier: "x", url: "https://a.org/b" });
    expect(doc).toMatchObject({
      aspect_ratio: null,
      size: null,
      extension: null,
      license: null,
      filetype: null,
      created_on: null,
      standardized_popularity: null,
      authority_boost: null,
      max_boost: 1,
      min_boost: 1,
      tags: [],
      mature: false,
    });
  });

  // The built-in image dataset copies only these columns out of staging (index.columns): a column
  // imageDocument reads beyond them would be undefined in every indexed document.
  test("imageDocument reads no column beyond IMAGE_DOCUMENT_COLUMNS and mature, over every sample row", () => {
    const csv = readFileSync(join(import.meta.dir, "../../../test/fixtures/openverse/sample_images_to_clean.csv"), "utf8");
    const sampleRows = (parse(csv, { columns: true }) as Record<string, string>[]).map((r) => ({
      ...r,
      width: r.width ? Number(r.width) : null,
      height: r.height ? Number(r.height) : null,
      meta_data: r.meta_data ? JSON.parse(r.meta_data) : null,
      tags: r.tags ? JSON.parse(r.tags) : null,
      standardized_popularity: r.standardized_popularity ? Number(r.standardized_popularity) : null,
    }));
    // Each branch of meta_data that the samples may not reach.
    const metaRows = [{ authority_boost: 50, description: "d", license_url: "https://l", mature: true }, { mature: "t" }, "not an object"].map((meta_data) => ({ ...imageRow, meta_data, mature: false }));
    const rows: Record<string, unknown>[] = [...sampleRows, ...metaRows, { ...imageRow, mature: true }];
    expect(sampleRows.length).toBeGreaterThan(1000);
    const allowed = new Set<string>([...IMAGE_DOCUMENT_COLUMNS, "mature"]);
    const read = new Set<string>();
    for (const row of rows) {
      const watched = new Proxy(row, { get: (target, key) => (typeof key === "string" && read.add(key), Reflect.get(target, key)) });
      const picked = Object.fromEntries(Object.entries(row).filter(([key]) => allowed.has(key)));
      expect(imageDocument(picked as unknown as OpenverseImageRow)).toEqual(imageDocument(watched as unknown as OpenverseImageRow));
    }
    expect([...read].filter((key) => !allowed.has(key))).toEqual([]);
    // Not vacuous: the rows have columns outside the list, and the builder reads most of the list.
    expect(Object.keys(sampleRows[0]!).filter((key) => !allowed.has(key)).length).toBeGreaterThan(5);
    expect(read.size).toBeGreaterThanOrEqual(IMAGE_DOCUMENT_COLUMNS.length);
  });

  // The built-in datasets read only these keys of meta_data (index.jsonKeys): a key a builder reads
  // beyond them would be absent from every indexed document.
  test("image and audio documents read no key of meta_data beyond META_DATA_DOCUMENT_KEYS, over every sample row", () => {
    const fixture = (name: string) => parse(readFileSync(join(import.meta.dir, "../../../test/fixtures/openverse", name), "utf8"), { columns: true }) as Record<string, string>[];
    const withMeta = (rows: Record<string, string>[]) => rows.map((r) => ({ ...r, meta_data: r.meta_data ? JSON.parse(r.meta_data) : null, tags: [] }));
    const images = withMeta(fixture("sample_images_to_clean.csv"));
    const audio = withMeta(fixture("sample_audio_data.csv"));
    // Each branch the samples may not reach: every key, a key present as null, no key, not an object.
    const edges = [{ authority_boost: 50, description: "d", license_url: "https://l", mature: true, views: 3 }, { authority_boost: null, other: 1 }, { mature: "t" }, {}, "not an object", [1]];
    const cases: [(row: never) => unknown, Record<string, unknown>[]][] = [
      [imageDocument, [...images, ...edges.map((meta_data) => ({ ...imageRow, meta_data }))]],
      [audioDocument, [...audio, ...edges.map((meta_data) => ({ ...audioRow, meta_data }))]],
    ];
    const allowed = new Set<string>(META_DATA_DOCUMENT_KEYS);
    const read = new Set<string>();
    for (const [build, rows] of cases) {
      expect(rows.filter((r) => r.meta_data && typeof r.meta_data === "object" && Object.keys(r.meta_data).some((k) => !allowed.has(k))).length).toBeGreaterThan(5);
      for (const row of rows) {
        const meta = row.meta_data;
        const isObject = typeof meta === "object" && meta !== null && !Array.isArray(meta);
        // What the index stage reads with jsonKeys: an object with just the listed keys it has.
        const narrowed = isObject ? Object.fromEntries(Object.entries(meta).filter(([key]) => allowed.has(key))) : meta;
        const watched = isObject ? new Proxy(meta, { get: (target, key) => (typeof key === "string" && read.add(key), Reflect.get(target, key)), has: (target, key) => (typeof key === "string" && read.add(key), Reflect.has(target, key)) }) : meta;
        expect(build({ ...row, meta_data: narrowed } as never)).toEqual(build({ ...row, meta_data: watched } as never));
      }
    }
    expect([...read].filter((key) => !allowed.has(key))).toEqual([]);
    expect(read.size).toBe(META_DATA_DOCUMENT_KEYS.length);
  });

  // Row 3 of sample_audio_data.csv as row_to_json returns it (lyrics shortened).
  const audioRow: OpenverseAudioRow = {
    identifier: "2a362316-ab88-4a78-a4f4-005afe8025a7",
    created_on: "2021-06-27T17:21:13.282294+00:00",
    provider: "jamendo",
    source: "jamendo",
    foreign_landing_url: "https://www.jamendo.com/track/168",
    url: "https://mp3d.jamendo.com/download/track/168/mp32",
    thumbnail: "https://usercontent.jamendo.com?type=album&id=24&width=200&trackid=168",
    duration: 183000,
    bit_rate: null,
    sample_rate: null,
    category: "music",
    genres: ["hardcore", "metal", "rock"],
    alt_audio_files: null,
    license: "by-nc-sa",
    license_version: "2.0",
    creator: "TriFace",
    creator_url: "https://www.jamendo.com/artist/7/triface",
    title: "J'm'e FPM",
    meta_data: { lyrics: "Moi j’m’en fous", license_url: "https://creativecommons.org/licenses/by-nc-sa/2.0/" },
    tags: [
      { name: "male", provider: "jamendo" },
      { name: "vocal", provider: "jamendo" },
    ],
    standardized_popularity: 0.9831197215751994,
  };

  test("audioDocument", () => {
    expect(audioDocument(audioRow)).toEqual({
      id: "2a362316-ab88-4a78-a4f4-005afe8025a7",
      identifier: "2a362316-ab88-4a78-a4f4-005afe8025a7",
      created_on: "2021-06-27T17:21:13.282294+00:00",
      mature: false,
      license: "by-nc-sa",
      license_version: "2.0",
      license_url: "https://creativecommons.org/licenses/by-nc-sa/2.0/",
      provider: "jamendo",
      source: "jamendo",
      category: "music",
      filetype: null,
      title: "J'm'e FPM",
      description: null,
      creator: "TriFace",
      creator_url: "https://www.jamendo.com/artist/7/triface",
      url: "https://mp3d.jamendo.com/download/track/168/mp32",
      thumbnail: "https://usercontent.jamendo.com?type=album&id=24&width=200&trackid=168",
      foreign_landing_url: "https://www.jamendo.com/track/168",
      standardized_popularity: 98.31197215751994,
      authority_boost: null,
      max_boost: 98.31197215751994,
      min_boost: 1,
      tags: [{ name: "male" }, { name: "vocal" }],
      duration: 183000,
      length: "medium",
      genres: ["hardcore", "metal", "rock"],
      bit_rate: null,
      sample_rate: null,
      extension: null,
    });
  });

  test("audioDocument reads alt_files under either name", () => {
    expect(audioDocument({ ...audioRow, filetype: "mp3", alt_files: [{ filetype: "ogg" }] }).extension).toEqual(["ogg"]);
    expect(audioDocument({ ...audioRow, filetype: "mp3", alt_audio_files: [{ filetype: "wav" }] }).extension).toEqual(["wav"]);
    expect(audioDocument({ ...audioRow, genres: null, duration: null })).toMatchObject({ genres: null, duration: null, length: null });
  });
});
