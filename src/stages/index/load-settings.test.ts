import { describe, expect, test } from "bun:test";
import { bodySetting, loadingSettings, servingSettings } from "./load-settings.ts";

const analysis = { analyzer: { custom_english: { type: "custom", tokenizer: "standard" } } };

describe("bodySetting", () => {
  test.each([
    ["plain", { number_of_replicas: 2 }],
    ["nested under index", { index: { number_of_replicas: 2 } }],
    ["flat, index.-prefixed", { "index.number_of_replicas": 2 }],
  ])("reads the %s form", (_form, settings) => {
    expect(bodySetting(settings, "number_of_replicas")).toBe(2);
  });

  test("the plain form wins over the others, as Elasticsearch takes it", () => {
    expect(bodySetting({ number_of_replicas: 0, index: { number_of_replicas: 1 }, "index.number_of_replicas": 2 }, "number_of_replicas")).toBe(0);
  });

  test("absent in every form, or no settings at all", () => {
    expect(bodySetting({ index: { number_of_shards: 1 } }, "number_of_replicas")).toBeUndefined();
    expect(bodySetting(undefined, "number_of_replicas")).toBeUndefined();
  });
});

describe("servingSettings", () => {
  test("Openverse's nested form: its replicas and refresh interval", () => {
    expect(servingSettings({ index: { number_of_shards: 18, number_of_replicas: 1, refresh_interval: "30s" }, analysis })).toEqual({ number_of_replicas: 1, refresh_interval: "30s" });
  });

  test("a body naming neither: 0 replicas and Elasticsearch's default refresh (null)", () => {
    expect(servingSettings({ analysis })).toEqual({ number_of_replicas: 0, refresh_interval: null });
    expect(servingSettings(undefined)).toEqual({ number_of_replicas: 0, refresh_interval: null });
  });

  test("auto_expand_replicas comes back only when the body sets it", () => {
    expect(servingSettings({ "index.auto_expand_replicas": "0-all" })).toEqual({ number_of_replicas: 0, refresh_interval: null, auto_expand_replicas: "0-all" });
  });
});

describe("loadingSettings", () => {
  test("takes the body's serving settings out of every form and loads with none of them", () => {
    const body = { index: { number_of_shards: 18, number_of_replicas: 1, refresh_interval: "30s" }, "index.auto_expand_replicas": "0-1", analysis };
    expect(loadingSettings(body)).toEqual({ index: { number_of_shards: 18 }, analysis, number_of_replicas: 0, refresh_interval: "-1", auto_expand_replicas: "false" });
  });

  test("an `index` object left empty is dropped; other settings are kept as written", () => {
    expect(loadingSettings({ index: { number_of_replicas: 1 }, "index.max_result_window": 50_000 })).toEqual({
      "index.max_result_window": 50_000,
      number_of_replicas: 0,
      refresh_interval: "-1",
    });
  });

  test("replicas: serving keeps the body's replicas and auto-expansion (scale-out), still with refresh off", () => {
    expect(loadingSettings({ index: { number_of_replicas: 2, refresh_interval: "5s" } }, { replicas: "serving" })).toEqual({ number_of_replicas: 2, refresh_interval: "-1" });
    expect(loadingSettings({ auto_expand_replicas: "0-all" }, { replicas: "serving" })).toEqual({ number_of_replicas: 0, refresh_interval: "-1", auto_expand_replicas: "0-all" });
  });

  test("the body itself is left as it was", () => {
    const body = { index: { number_of_replicas: 1 } };
    loadingSettings(body);
    expect(body).toEqual({ index: { number_of_replicas: 1 } });
  });
});
