import { expect, test } from "bun:test";
import { checkPayload } from "./check-payload.ts";

const XML = { format: "xml" as const, maxBytes: 50 * 1024 * 1024, maxDepth: 256, jsonValidator: null };
const activity = (id: string, extra = "") =>
  `<iati-activity><iati-identifier>${id}</iati-identifier><reporting-org type="10" ref="X"><narrative>O</narrative></reporting-org>` +
  `<title><narrative>T</narrative></title><description><narrative>D</narrative></description><participating-org role="1"/>` +
  `<activity-status code="2"/><activity-date type="1" iso-date="2013-11-27"/>${extra}</iati-activity>`;
/** Over the default 2 MiB piece limit: about 2.2 MB of a valid extension element. */
const LARGE = activity("BIG", `<x:ext>${"y".repeat(2_200_000)}</x:ext>`);
const doc = (...activities: string[]) => `<iati-activities version="2.03" xmlns:x="urn:x">\n${activities.join("\n")}\n</iati-activities>\n`;

test("a document whose only activity is over the piece limit fails as activity_too_large, not as unsafe", () => {
  const check = checkPayload(doc(LARGE), XML);
  expect(check).toMatchObject({ valid: false, reason: "activity_too_large", activitiesTotal: 1, activitiesValid: 0, errorCount: 1, cleaned: null });
  expect(check.issues).toEqual([expect.objectContaining({ code: "activity_too_large", activity: "BIG", line: 2, activityIndex: 1 })]);
});

test("beside valid activities, an activity over the piece limit is cut out and the document stays indexable", () => {
  const check = checkPayload(doc(activity("A"), LARGE, activity("C")), XML);
  expect(check).toMatchObject({ valid: false, reason: null, activitiesTotal: 3, activitiesValid: 2, errorCount: 1 });
  expect(check.cleaned).toBe(doc(activity("A"), activity("C")));
});
