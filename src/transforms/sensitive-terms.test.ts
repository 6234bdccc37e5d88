import { describe, expect, test } from "bun:test";
import { parseTermsFile, sensitiveMatcher, words } from "./sensitive-terms.ts";

const fields = ["title", "description", "tags.name"];

describe("sensitiveMatcher", () => {
  const m = sensitiveMatcher(["cat", "Hot Dog", "naïve"], fields);
  test("whole words only, any case", () => {
    expect(m.match({ title: "Black CAT, white dog" })).toEqual(["cat"]);
    expect(m.match({ title: "category" })).toEqual([]);
    expect(m.match({ title: "cats" })).toEqual([]);
    expect(m.match({ title: "a cat's toy" })).toEqual([]);
    expect(m.match({ title: "bobcat" })).toEqual([]);
  });
  test("a term of several words matches them in a row", () => {
    expect(m.match({ description: "a HOT  dog stand" })).toEqual(["Hot Dog"]);
    expect(m.match({ description: "hot chocolate dog" })).toEqual([]);
  });
  test("Unicode: case folding and word boundaries beyond ASCII", () => {
    expect(m.match({ title: "NAÏVE art" })).toEqual(["naïve"]);
    expect(m.match({ title: "naïveté" })).toEqual([]);
    expect(sensitiveMatcher(["кот"], fields).match({ title: "Мой КОТ спит" })).toEqual(["кот"]);
  });
  test("looks in the fields named, into lists; each term once, in list order", () => {
    expect(m.match({ tags: [{ name: "animal" }, { name: "Cat" }], title: "hot dog" })).toEqual(["cat", "Hot Dog"]);
    expect(m.match({ creator: "cat" })).toEqual([]);
    expect(m.match({ title: null, tags: "cat" })).toEqual([]);
  });
  test("no terms, no matches", () => {
    expect(sensitiveMatcher([], fields).match({ title: "anything" })).toEqual([]);
  });
});

test("words are cut as the standard tokenizer cuts them (UAX #29)", () => {
  expect(words("Don't stop-me now, e.g. 3.5 x")).toEqual(["don't", "stop", "me", "now", "e.g", "3.5", "x"]);
});

test("parseTermsFile drops blanks and comments", () => {
  expect(parseTermsFile("# list\ncat\n\n  dog  \r\n")).toEqual(["cat", "dog"]);
});
