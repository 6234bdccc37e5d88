import { describe, expect, test } from "bun:test";
import { parseTermsFile, sensitiveMatcher, words } from "./sensitive-terms.ts";

const fields = ["title", "description", "tags.name"];

// Past 32 terms the first test is an Aho–Corasick automaton instead of one regular expression:
// every case below runs against both (the same three terms, then with 40 others that match nothing).
const filler = Array.from({ length: 40 }, (_, i) => `zq${i}x`);
describe.each([
  ["a short list (one regular expression)", [] as string[]],
  ["a long list (the automaton)", filler],
])("sensitiveMatcher, %s", (_, more) => {
  const m = sensitiveMatcher(["cat", "Hot Dog", "naïve", ...more], fields);
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
    expect(sensitiveMatcher(["кот", ...more], fields).match({ title: "Мой КОТ спит" })).toEqual(["кот"]);
    // Σ lower-cases to ς at a word's end: a term written in either case is found.
    expect(sensitiveMatcher(["ΟΔΟΣ", ...more], fields).match({ title: "η οδος" })).toEqual(["ΟΔΟΣ"]);
    expect(sensitiveMatcher(["οδος", ...more], fields).match({ title: "Η ΟΔΟΣ ΕΙΝΑΙ" })).toEqual(["οδος"]);
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

test("the automaton and the regular expression find the same terms in the same documents", () => {
  let seed = 7;
  const pick = <T>(xs: readonly T[]) => xs[((seed = (seed * 1103515245 + 12345) >>> 0) % xs.length)]!;
  const vocabulary = ["cat", "Cat", "CATS", "bobcat", "hot", "dog", "Hot Dog", "naïve", "NAÏVE", "ΟΔΟΣ", "οδος", "кот", "It's", "e.g.", "3.5", "sun", "-", ",", "  ", "\n"];
  const terms = ["cat", "hot dog", "naïve", "οδος", "кот", "e.g", "3.5", "it's"];
  const short = sensitiveMatcher(terms, fields);
  const long = sensitiveMatcher([...terms, ...filler], fields);
  let matched = 0;
  for (let i = 0; i < 2000; i++) {
    const text = () => Array.from({ length: 1 + (i % 7) }, () => pick(vocabulary)).join(pick([" ", "", ", "]));
    const document = { title: text(), description: text(), tags: [{ name: text() }, { name: text() }] };
    const found = short.match(document);
    if (found.length) matched++;
    expect(long.match(document).filter((t) => !filler.includes(t))).toEqual(found);
  }
  expect(matched).toBeGreaterThan(500);
});

test("words are cut as the standard tokenizer cuts them (UAX #29)", () => {
  expect(words("Don't stop-me now, e.g. 3.5 x")).toEqual(["don't", "stop", "me", "now", "e.g", "3.5", "x"]);
});

test("parseTermsFile drops blanks and comments", () => {
  expect(parseTermsFile("# list\ncat\n\n  dog  \r\n")).toEqual(["cat", "dog"]);
});
