import { describe, expect, test } from "bun:test";
import { normaliseIatiDate } from "./dates.ts";

describe("normaliseIatiDate", () => {
  const cases: [string, string | undefined][] = [
    ["2021-02-21", "2021-02-21T00:00:00.000Z"],
    ["2021-02-21Z", "2021-02-21T00:00:00.000Z"],
    ["2023-07-17+00:00", "2023-07-17T00:00:00.000Z"],
    // A date keeps its calendar day whatever its timezone.
    ["2023-07-17+05:00", "2023-07-17T00:00:00.000Z"],
    ["20120101", "2012-01-01T00:00:00.000Z"],
    ["2023-07-17T08:05:08.160000+00:00", "2023-07-17T08:05:08.160Z"],
    ["2014-09-10T07:15:37Z", "2014-09-10T07:15:37.000Z"],
    ["2014-09-10T07:15:37", "2014-09-10T07:15:37.000Z"],
    ["2014-09-10 07:15", "2014-09-10T07:15:00.000Z"],
    ["2024-06-20T07:10:15-03:30", "2024-06-20T10:40:15.000Z"],
    ["2024-06-20T01:00:00+0200", "2024-06-19T23:00:00.000Z"],
    ["2024-06-20T07:10:15.9999Z", "2024-06-20T07:10:15.999Z"],
    ["2024-12-31T24:00:00Z", "2025-01-01T00:00:00.000Z"],
    ["  2020-02-29  ", "2020-02-29T00:00:00.000Z"],
    ["0050-01-01", "0050-01-01T00:00:00.000Z"],
    // Rejected: the refresher's bad_dates fixture and other rubbish.
    ["12021-11-05", undefined],
    ["cat", undefined],
    ["2023-15-40", undefined],
    ["2021-02-29", undefined],
    ["2013-09", undefined],
    ["0000-01-01", undefined],
    ["2024-06-20T25:00:00Z", undefined],
    ["2024-06-20T10:00:00+15:00", undefined],
    ["0001-01-01T00:30:00+01:00", undefined],
    ["", undefined],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => {
      expect(normaliseIatiDate(input)).toBe(expected);
    });
  }
});
