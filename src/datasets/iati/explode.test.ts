import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { explodeActivity } from "./explode.ts";
import { flattenActivities, type FlatActivity } from "./flatten.ts";

const FIXTURES = join(import.meta.dir, "../../../test/fixtures/iati");
const flattenFixture = (path: string) => flattenActivities(readFileSync(join(FIXTURES, path), "utf8"));

describe("explodeActivity", () => {
  test("transactions become documents with the activity's fields and their own values", () => {
    const [flat] = flattenFixture("flatten/historic_multiple_transactions.input.xml");
    const { activity, budgets, transactions } = explodeActivity(flat as FlatActivity);

    expect(activity).not.toHaveProperty("@transaction");
    expect(activity.transaction_ref).toEqual(["1234", "5678"]);
    expect(budgets).toEqual([]);
    expect(transactions).toEqual([
      {
        dataset_version: "",
        iati_identifier: "ACT-1",
        reporting_org_ref: "AA-AAA-123456789",
        reporting_org_type: "40",
        reporting_org_secondary_reporter: "0",
        reporting_org_narrative: ["Organisation name", "Nom de l'organisme"],
        reporting_org_narrative_xml_lang: "fr",
        transaction_ref: "1234",
        transaction_humanitarian: "1",
        transaction_transaction_type_code: "1",
        transaction_transaction_date_iso_date: "2012-01-01T00:00:00.000Z",
        id: "ACT-1#transaction-1",
      },
      {
        dataset_version: "",
        iati_identifier: "ACT-1",
        reporting_org_ref: "AA-AAA-123456789",
        reporting_org_type: "40",
        reporting_org_secondary_reporter: "0",
        reporting_org_narrative: ["Organisation name", "Nom de l'organisme"],
        reporting_org_narrative_xml_lang: "fr",
        // The second transaction has no humanitarian flag: the activity-level list must not leak in.
        transaction_ref: "5678",
        transaction_transaction_type_code: "2",
        transaction_transaction_date_iso_date: "2013-01-01T00:00:00.000Z",
        id: "ACT-1#transaction-2",
      },
    ]);
  });

  test("budgets get ids in document order", () => {
    const [flat] = flattenFixture("activities/test-org-1-activity-1.xml");
    const { budgets, transactions } = explodeActivity(flat as FlatActivity);
    expect(budgets.length).toBeGreaterThan(0);
    expect(budgets.map((budget) => budget.id)).toEqual(
      budgets.map((_, index) => `TEST-ORG-01-SPA-2020#budget-${index + 1}`),
    );
    for (const budget of budgets) {
      expect(budget.iati_identifier).toBe("TEST-ORG-01-SPA-2020");
      expect(typeof budget.budget_value).toBe("string");
      // Transactions' activity-level lists stay on budgets, as in the refresher.
      expect(budget).toHaveProperty("transaction_transaction_type_code");
    }
    expect(transactions.every((transaction) => transaction.id.startsWith("TEST-ORG-01-SPA-2020#transaction-"))).toBe(true);
  });

  test("explodes the comments fixture's single budget", () => {
    const [flat] = flattenFixture("flatten/comments.input.xml");
    const { budgets } = explodeActivity(flat as FlatActivity);
    expect(budgets).toEqual([
      {
        dataset_version: "2.03",
        iati_identifier: "ACT-1",
        last_updated_datetime: "2023-07-17T08:05:08.160Z",
        budget_period_end_iso_date: "2021-09-24T00:00:00.000Z",
        budget_period_start_iso_date: "2021-02-21T00:00:00.000Z",
        budget_status: "2",
        budget_type: "1",
        budget_value: "347896",
        budget_value_currency: "EUR",
        budget_value_value_date: "2021-09-24T00:00:00.000Z",
        id: "ACT-1#budget-1",
      },
    ]);
  });

  test("idPrefix replaces the identifier in ids", () => {
    const [flat] = flattenFixture("flatten/comments.input.xml");
    expect(explodeActivity(flat as FlatActivity, { idPrefix: "doc-9--ACT-1--0" }).budgets[0]?.id).toBe(
      "doc-9--ACT-1--0#budget-1",
    );
  });

  test("an activity without an identifier needs an idPrefix", () => {
    const flat: FlatActivity = { dataset_version: "2.03", "@budget": [{ budget_type: "1" }] };
    expect(() => explodeActivity(flat)).toThrow(/without an iati_identifier/);
    expect(explodeActivity(flat, { idPrefix: "x" }).budgets[0]?.id).toBe("x#budget-1");
  });
});
