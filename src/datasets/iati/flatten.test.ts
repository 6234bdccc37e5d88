import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { flattenActivities, flattenActivity, IatiFlattenError, iterateFlatActivities } from "./flatten.ts";

const FIXTURES = join(import.meta.dir, "../../../test/fixtures/iati");
const FLATTEN_DIR = join(FIXTURES, "flatten");
const read = (path: string) => readFileSync(path, "utf8");

const pairs = readdirSync(FLATTEN_DIR)
  .filter((name) => name.endsWith(".expected.json"))
  .map((name) => name.replace(".expected.json", ""));

describe("flattenActivities matches the refresher's fixtures", () => {
  test("all six pairs are present", () => {
    expect(pairs.length).toBe(6);
  });

  for (const name of pairs) {
    test(name, () => {
      const output = flattenActivities(read(join(FLATTEN_DIR, `${name}.input.xml`)));
      const expected = JSON.parse(read(join(FLATTEN_DIR, `${name}.expected.json`)));
      expect(output).toStrictEqual(expected);
    });
  }
});

describe("flattenActivities rejects what it cannot flatten", () => {
  test("a non-IATI document, with the refresher's 'Non-IATI XML' message", () => {
    const xml = read(join(FLATTEN_DIR, "not-iati.input.xml"));
    expect(() => flattenActivities(xml)).toThrow(/Non-IATI XML.*not an IATI activities document/);
    try {
      flattenActivities(xml);
    } catch (error) {
      expect(error).toBeInstanceOf(IatiFlattenError);
      expect((error as IatiFlattenError).code).toBe("not-iati");
    }
  });

  test("a namespaced iati-activities root is not IATI either", () => {
    expect(() => flattenActivities(`<x:iati-activities xmlns:x="urn:x"/>`)).toThrow(/<x:iati-activities>/);
  });

  test("malformed XML, with its line and libxml2's issues", () => {
    try {
      flattenActivities(`<iati-activities>\n<iati-activity><iati-identifier>A</iati-activity>`);
      throw new Error("should have thrown");
    } catch (error) {
      expect(error).toBeInstanceOf(IatiFlattenError);
      const flattenError = error as IatiFlattenError;
      expect(flattenError.code).toBe("unreadable-xml");
      expect(flattenError.message).toContain("line 2");
      expect(flattenError.issues.length).toBeGreaterThan(0);
    }
  });

  test("a DOCTYPE, before any entity can be expanded", () => {
    const xml = `<!DOCTYPE x [<!ENTITY a "b">]><iati-activities><iati-activity><iati-identifier>&a;</iati-identifier></iati-activity></iati-activities>`;
    expect(() => flattenActivities(xml)).toThrow(/DOCTYPE is not allowed/);
  });
});

describe("flattening rules", () => {
  const one = (activityBody: string, activityAttributes = "", rootAttributes = 'version="2.03"') =>
    flattenActivities(
      `<iati-activities ${rootAttributes}><iati-activity ${activityAttributes}>${activityBody}</iati-activity></iati-activities>`,
    )[0];

  test("default-currency fills in missing value currencies, as in the refresher", () => {
    const flat = one(
      `<iati-identifier>A</iati-identifier>
       <budget><value value-date="2020-01-01">10</value></budget>
       <transaction><value currency="USD">5</value></transaction>
       <planned-disbursement><value>3</value></planned-disbursement>`,
      'default-currency="EUR"',
    );
    expect(flat?.budget_value_currency).toBe("EUR");
    expect(flat?.transaction_value_currency).toBe("USD");
    expect(flat?.planned_disbursement_value_currency).toBe("EUR");
    expect(flat?.["@budget"]).toEqual([
      { budget_value: "10", budget_value_currency: "EUR", budget_value_value_date: "2020-01-01T00:00:00.000Z" },
    ]);
  });

  test("iati_identifier loses inner line breaks; values are trimmed", () => {
    const flat = one(`<iati-identifier>\n  AB-\nC-1 \r\n</iati-identifier><title><narrative>  Hi  </narrative></title>`);
    expect(flat?.iati_identifier).toBe("AB-C-1");
    expect(flat?.title_narrative).toBe("Hi");
  });

  test("text around comments and CDATA counts; the activity's own text does not", () => {
    const flat = one(`stray<iati-identifier>A<!-- note -->B<![CDATA[&C]]></iati-identifier>`);
    expect(flat?.iati_identifier).toBe("AB&C");
    expect(Object.keys(flat ?? {})).not.toContain("");
  });

  test("date-times with an offset are converted to UTC", () => {
    const flat = one(`<iati-identifier>A</iati-identifier>`, 'last-updated-datetime="2024-06-20T07:10:15+02:00"');
    expect(flat?.last_updated_datetime).toBe("2024-06-20T05:10:15.000Z");
  });

  test("dataset linked-data-default is copied; a blank generated-datetime is not", () => {
    const flat = one(
      `<iati-identifier>A</iati-identifier>`,
      "",
      'version="2.03" generated-datetime="" linked-data-default="http://x/"',
    );
    expect(flat?.dataset_linked_data_default).toBe("http://x/");
    expect(flat).not.toHaveProperty("dataset_generated_datetime");
  });

  test("extension namespaces declared below the activity use the element's own prefix", () => {
    const flat = one(`<iati-identifier>A</iati-identifier><x:extra xmlns:x="urn:x" x:flag="1">v</x:extra>`);
    expect(flat?.x_extra).toBe("v");
    expect(flat?.x_extra_x_flag).toBe("1");
  });

  test("sub-list elements are configurable", () => {
    const xml = `<iati-activities version="2.03"><iati-activity><iati-identifier>A</iati-identifier><sector code="1"/><sector code="2"/><budget/></iati-activity></iati-activities>`;
    const [flat] = flattenActivities(xml, { subListElements: ["sector"] });
    expect(flat?.["@sector"]).toEqual([{ sector_code: "1" }, { sector_code: "2" }]);
    expect(flat).not.toHaveProperty("@budget");
  });

  test("the real 2.03 activity fixtures flatten to one activity each, with budgets and transactions", () => {
    for (const name of readdirSync(join(FIXTURES, "activities"))) {
      const activities = flattenActivities(read(join(FIXTURES, "activities", name)));
      expect(activities).toHaveLength(1);
      const [activity] = activities;
      expect(activity?.dataset_version).toBe("2.03");
      expect(typeof activity?.iati_identifier).toBe("string");
      expect(Array.isArray(activity?.["@budget"])).toBe(true);
      expect(Array.isArray(activity?.["@transaction"])).toBe(true);
    }
  });
});

describe("flattenActivity", () => {
  test("flattens a lone activity with the given dataset attributes", () => {
    const flat = flattenActivity(
      `<iati-activity xmlns:b="urn:b" default-currency="GBP"><iati-identifier>A</iati-identifier><b:x>1</b:x><budget><value>2</value></budget></iati-activity>`,
      { version: "2.03" },
    );
    expect(flat).toEqual({
      dataset_version: "2.03",
      default_currency: "GBP",
      iati_identifier: "A",
      b_x: "1",
      budget_value: "2",
      budget_value_currency: "GBP",
      "@budget": [{ budget_value: "2", budget_value_currency: "GBP" }],
    });
  });

  test("dataset_version defaults to a blank string, as in the refresher", () => {
    expect(flattenActivity(`<iati-activity><iati-identifier>A</iati-identifier></iati-activity>`).dataset_version).toBe("");
  });

  test("rejects anything but an iati-activity root", () => {
    expect(() => flattenActivity(`<iati-activities/>`)).toThrow(IatiFlattenError);
  });
});

describe("iterateFlatActivities", () => {
  const xml = read(join(FLATTEN_DIR, "historic_multiple_activity.input.xml"));

  test("yields the same activities as flattenActivities, one at a time", () => {
    const iterator = iterateFlatActivities(xml);
    expect(iterator.next().value).toMatchObject({ iati_identifier: "ACT-1" });
    expect(iterator.next().value).toMatchObject({ iati_identifier: "ACT-2" });
    expect(iterator.next().done).toBe(true);
  });

  test("can be abandoned early", () => {
    for (const activity of iterateFlatActivities(xml)) {
      expect(activity.iati_identifier).toBe("ACT-1");
      break;
    }
  });

  test("throws on the first next() for non-IATI XML", () => {
    const iterator = iterateFlatActivities(read(join(FLATTEN_DIR, "not-iati.input.xml")));
    expect(() => iterator.next()).toThrow(IatiFlattenError);
  });
});
