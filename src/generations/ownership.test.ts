import { describe, expect, test } from "bun:test";
import { type IndexFacts, markedMappings, markFor, mayAdoptUnmarked, ownershipRefusal, readMark } from "./ownership.ts";

const ours = { database: "0f9c2b1e-1111-4222-8333-444455556666", dataset: "image" };
const theirs = "7a7a7a7a-aaaa-4bbb-8ccc-dddddddddddd";

function facts(over: Partial<IndexFacts> = {}): IndexFacts {
  return { name: "p-image-g2", concrete: "p-image-g2", aliases: [], meta: { sluice: markFor(ours, 2) }, createdAt: new Date("2026-11-01"), ...over };
}

describe("markedMappings", () => {
  test("adds the mark and keeps the dataset's own mappings and _meta", () => {
    const mappings = { dynamic: false, properties: { title: { type: "text" } }, _meta: { owner: "catalog" } };
    expect(markedMappings(mappings, markFor(ours, 3))).toEqual({
      dynamic: false,
      properties: { title: { type: "text" } },
      _meta: { owner: "catalog", sluice: { database: ours.database, dataset: "image", generation: 3 } },
    });
  });

  test("gives a dataset without mappings a mapping that holds only the mark", () => {
    expect(markedMappings(undefined, markFor(ours, 1))).toEqual({ _meta: { sluice: { ...ours, generation: 1 } } });
  });
});

describe("readMark", () => {
  test("reads what markedMappings wrote, and nothing from a foreign or broken _meta", () => {
    expect(readMark(markedMappings({}, markFor(ours, 4))._meta)).toEqual({ ...ours, generation: 4 });
    expect(readMark(null)).toBeNull();
    expect(readMark({ owner: "catalog" })).toBeNull();
    expect(readMark({ sluice: "yes" })).toBeNull();
    expect(readMark({ sluice: { database: ours.database, dataset: "image" } })).toBeNull();
  });
});

describe("ownershipRefusal", () => {
  test("an index of this database and dataset may be deleted, replaced, promoted and unaliased", () => {
    for (const action of ["delete", "replace", "promote", "unalias"] as const) expect(ownershipRefusal(facts(), ours, action)).toBeNull();
  });

  test("another database's index is refused, naming the index, the database and the fix", () => {
    const refusal = ownershipRefusal(facts({ meta: { sluice: { ...markFor(ours, 2), database: theirs } } }), ours, "delete");
    expect(refusal).toEqual({
      message: "index p-image-g2 belongs to another API database (7a7a7a7a…); refusing to delete it",
      hint: "give each database its own SLUICE_INDEX_PREFIX",
    });
  });

  test("another dataset's index is refused", () => {
    const refusal = ownershipRefusal(facts({ meta: { sluice: { ...markFor(ours, 2), dataset: "audio" } } }), ours, "replace");
    expect(refusal?.message).toBe("index p-image-g2 belongs to dataset audio of this database, not image; refusing to replace it");
  });

  test("an index without a mark is refused for every action unless an unalias may adopt it", () => {
    for (const action of ["delete", "replace", "promote", "unalias"] as const) {
      expect(ownershipRefusal(facts({ meta: null }), ours, action)?.message).toStartWith("index p-image-g2 carries no sluice mark");
    }
    expect(ownershipRefusal(facts({ meta: null }), ours, "unalias", { adoptUnmarked: true })).toBeNull();
    // Adoption never excuses another database's mark.
    expect(ownershipRefusal(facts({ meta: { sluice: { ...markFor(ours, 2), database: theirs } } }), ours, "unalias", { adoptUnmarked: true })).not.toBeNull();
  });

  test("an alias other than the ones being moved refuses a delete, replace or promote, not an unalias", () => {
    const aliased = facts({ aliases: ["p-image", "p-image-readers"] });
    expect(ownershipRefusal(aliased, ours, "delete")?.message).toBe("index p-image-g2 is behind alias p-image, which this run does not move; refusing to delete it");
    expect(ownershipRefusal(aliased, ours, "promote", { movingAliases: ["p-image"] })?.message).toBe(
      "index p-image-g2 is behind alias p-image-readers, which this swap does not move; refusing to promote it",
    );
    expect(ownershipRefusal(facts({ aliases: ["p-image"] }), ours, "promote", { movingAliases: ["p-image"] })).toBeNull();
    expect(ownershipRefusal(aliased, ours, "unalias")).toBeNull();
  });

  test("the workers' own write alias goes with its index: it refuses nothing, another index's does", () => {
    for (const action of ["delete", "replace", "promote"] as const) expect(ownershipRefusal(facts({ aliases: ["p-image-g2.workers"] }), ours, action)).toBeNull();
    expect(ownershipRefusal(facts({ aliases: ["p-image-g1.workers"] }), ours, "delete")?.message).toBe(
      "index p-image-g2 is behind alias p-image-g1.workers, which this run does not move; refusing to delete it",
    );
  });

  test("an index of ours built for another generation than the one named is refused", () => {
    expect(ownershipRefusal(facts(), ours, "delete", { generation: 2 })).toBeNull();
    expect(ownershipRefusal(facts(), ours, "delete", { generation: 3 })?.message).toBe(
      "index p-image-g2 was built for generation 2 of image, not 3; refusing to delete it",
    );
  });

  test("a name that is an alias of another index is refused", () => {
    const refusal = ownershipRefusal(facts({ concrete: "hand-made" }), ours, "delete");
    expect(refusal?.message).toBe('"p-image-g2" is an alias of index hand-made, not an index sluice built; refusing to delete it');
  });
});

describe("mayAdoptUnmarked", () => {
  const identityMadeAt = new Date("2026-11-20");
  test("on a dataset's first swap in this database, any unmarked alias target may be taken off the alias", () => {
    expect(mayAdoptUnmarked(facts({ concrete: "image-init", meta: null }), identityMadeAt, null)).toBe(true);
  });

  test("later, only the live generation's own index built before marks existed", () => {
    const legacy = facts({ concrete: "p-image-g5", name: "p-image-g5", meta: null, createdAt: new Date("2026-11-10") });
    expect(mayAdoptUnmarked(legacy, identityMadeAt, "p-image-g5")).toBe(true);
    expect(mayAdoptUnmarked({ ...legacy, createdAt: new Date("2026-11-21") }, identityMadeAt, "p-image-g5")).toBe(false);
    expect(mayAdoptUnmarked({ ...legacy, createdAt: null }, identityMadeAt, "p-image-g5")).toBe(false);
    expect(mayAdoptUnmarked(legacy, identityMadeAt, "p-image-g6")).toBe(false);
  });
});
