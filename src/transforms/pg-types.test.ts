import { describe, expect, test } from "bun:test";
import {
  FAILURE_REASONS,
  type FailureReason,
  checkPgField,
  checkPgValue,
  compilePgTypeCheck,
  isValidUtf8,
  parseArrayLiteral,
} from "./pg-types.ts";

// Expectations were cross-checked against PostgreSQL 15 by inserting each value into a
// temp column of the type. Where PostgreSQL accepts more than we do (noted), we reject on
// purpose: see the module comment.
function expectAll(type: string, ok: string[], bad: [string, FailureReason][]): void {
  for (const v of ok) expect({ type, v, r: checkPgValue(v, type) }).toEqual({ type, v, r: null });
  for (const [v, reason] of bad) expect({ type, v, r: checkPgValue(v, type) }).toEqual({ type, v, r: reason });
}

describe("integers", () => {
  test("smallint range and syntax", () => {
    expectAll(
      "smallint",
      ["32767", "-32768", " 12 ", "+5", "0005", "\t7\n", "00000000000000000000032767"],
      [
        ["32768", "integer_out_of_range"],
        ["-32769", "integer_out_of_range"],
        ["1.0", "invalid_integer"],
        ["", "invalid_integer"],
        ["1e3", "invalid_integer"],
        ["- 1", "invalid_integer"],
        ["0x1F", "invalid_integer"], // PG 16+ only
        ["1_000", "invalid_integer"], // PG 16+ only
      ],
    );
  });

  test("integer and bigint bounds", () => {
    expectAll(
      "integer",
      ["2147483647", "-2147483648"],
      [
        ["2147483648", "integer_out_of_range"],
        ["-2147483649", "integer_out_of_range"],
        ["99999999999", "integer_out_of_range"],
        ["12a", "invalid_integer"],
      ],
    );
    expectAll(
      "bigint",
      ["9223372036854775807", "-9223372036854775808"],
      [
        ["9223372036854775808", "integer_out_of_range"],
        ["-9223372036854775809", "integer_out_of_range"],
      ],
    );
    expect(checkPgValue("1", "int4")).toBeNull();
    expect(checkPgValue("40000", "int2")).toBe("integer_out_of_range");
  });
});

describe("floating point and numeric", () => {
  test("real", () => {
    expectAll(
      "real",
      ["3.4028235e38", "1e-45", "1.4e-45", "NaN", "-Infinity", "inf", "+inf", "1.", ".5", " 2.5 ", "0.0e-999"],
      [
        ["3.5e38", "number_out_of_range"],
        ["1e-46", "number_out_of_range"],
        [".", "invalid_number"],
        ["1e", "invalid_number"],
      ],
    );
  });

  test("double precision", () => {
    expectAll(
      "double precision",
      ["1e308", "1e-310", "-0", "Infinity", "INF", "1.5E+3"],
      [
        ["1e309", "number_out_of_range"],
        ["1e-400", "number_out_of_range"],
        ["abc", "invalid_number"],
        ["1,5", "invalid_number"],
      ],
    );
  });

  test("numeric without and with typmod", () => {
    expectAll(
      "numeric",
      ["123.456", "-.5", "5.", "1e1000", "NaN", " 12 ", "+1", "0." + "0".repeat(16382) + "1"],
      [
        [".", "invalid_number"],
        ["", "invalid_number"],
        ["Infinity", "invalid_number"], // PG 14+ only
        ["0." + "0".repeat(16383) + "1", "number_out_of_range"],
        ["1" + "0".repeat(131072), "number_out_of_range"],
      ],
    );
    expectAll(
      "numeric(5,2)",
      ["999.99", "999.994", "-999.99", "0.001", "99.999", "1e2", "0.00000001e5"],
      [
        ["999.995", "number_out_of_range"],
        ["1000", "number_out_of_range"],
        ["12345", "number_out_of_range"],
        ["1e3", "number_out_of_range"],
      ],
    );
    expectAll("numeric(3)", ["999", "999.4", "-999.4"], [["999.5", "number_out_of_range"], ["1000", "number_out_of_range"]]);
  });
});

test("boolean accepts boolin's prefixes only", () => {
  expectAll(
    "boolean",
    ["t", "true", "TRUE", "tr", "yes", "y", "on", "off", "of", "1", "0", " true ", "f", "fals", "n", "no"],
    [
      ["o", "invalid_boolean"],
      ["2", "invalid_boolean"],
      ["", "invalid_boolean"],
      ["nope", "invalid_boolean"],
      ["truex", "invalid_boolean"],
    ],
  );
});

test("uuid", () => {
  expectAll(
    "uuid",
    [
      "4f70f6bc-605a-4043-9385-d84b249dd3ad",
      "4F70F6BC605A40439385D84B249DD3AD",
      "{4f70f6bc-605a-4043-9385-d84b249dd3ad}",
      "4f70-f6bc-605a-4043-9385-d84b-249d-d3ad",
    ],
    [
      ["4f70f6bc-605a-4043-9385-d84b249dd3a", "invalid_uuid"],
      ["4f70f6bc-605a-4043-9385-d84b249dd3ad ", "invalid_uuid"],
      ["{4f70f6bc605a40439385d84b249dd3ad", "invalid_uuid"],
      ["4f70f6bc--605a-4043-9385-d84b249dd3ad", "invalid_uuid"],
      ["4f7-0f6bc605a40439385d84b249dd3ad", "invalid_uuid"],
      ["4f70f6bc605a40439385d84b249dd3ad-", "invalid_uuid"],
    ],
  );
});

test("json and jsonb", () => {
  expectAll(
    "jsonb",
    ["{}", "[]", '{"a":1}', "null", '"\\ud83d\\ude00"', '"\\\\u0000"', "1e400", '{"a":1,"a":2}', '["\\u00e9"]'],
    [
      ["{", "invalid_json"],
      ["", "invalid_json"],
      ["NaN", "invalid_json"],
      ["'a'", "invalid_json"],
      [' {"a": "\\u0000"} ', "invalid_json"],
      ['"\\ud83d"', "invalid_json"],
      ['"\\ude00"', "invalid_json"],
      ['"\\ud83dx"', "invalid_json"],
      ['"\\ud83d\\u0041"', "invalid_json"],
    ],
  );
  // json keeps the text: it takes \u0000 and lone surrogates, but not bad syntax.
  expectAll("json", [' {"a": "\\u0000"} ', '"\\ud83d"'], [["[1,2,]", "invalid_json"]]);
});

test("character types count characters and forgive trailing spaces", () => {
  expectAll(
    "character varying(5)",
    ["abcde", "abcde   ", "ééééé", "😀😀😀😀😀", ""],
    [
      ["abcdef", "value_too_long"],
      ["abcde  x", "value_too_long"],
      ["😀😀😀😀😀😀", "value_too_long"],
    ],
  );
  expectAll("character(3)", ["abc", "abc ", "a"], [["abcd", "value_too_long"]]);
  expectAll("varchar(2)", ["ab"], [["abc", "value_too_long"]]);
  expect(checkPgValue("x".repeat(100_000), "text")).toBeNull();
});

test("timestamps and dates", () => {
  expectAll(
    "timestamp with time zone",
    [
      "2018-09-11 15:05:25.829896+00",
      "2018-09-11T15:05:25Z",
      "2016-02-29 00:00:00+00",
      "2000-02-29",
      "2018-09-11 24:00:00",
      "2018-09-11 23:59:60",
      "infinity",
      "-infinity",
      "2018-09-11 15:05:25+05:30",
      "2018-09-11 15:05:25+0530",
      "2018-09-11 15:05:25 UTC",
      "2018-09-11 15:05:25+15",
      "2018-09-11",
      "2018-9-1 1:02",
      "294276-12-31 23:59:59",
      "0001-01-01 BC",
      "4713-01-01 BC",
    ],
    [
      ["2018-02-29 00:00:00+00", "invalid_timestamp"],
      ["1900-02-29", "invalid_timestamp"],
      ["2018-13-01", "invalid_timestamp"],
      ["2018-09-11 24:00:01", "invalid_timestamp"],
      ["2018-09-11 23:60:00", "invalid_timestamp"],
      ["0000-01-01", "invalid_timestamp"],
      ["2018-09-11 15:05:25-16", "invalid_timestamp"],
      ["294277-01-01", "invalid_timestamp"],
      ["4714-01-01 BC", "invalid_timestamp"],
      ["abc", "invalid_timestamp"],
      ["", "invalid_timestamp"],
      ["2018-09-11 15", "invalid_timestamp"],
      ["2018/09/11", "invalid_timestamp"], // PostgreSQL reads it; we only take ISO order
    ],
  );
  expectAll("timestamp", ["2018-09-11 15:05:25.829896+00", "1970-01-01"], []);
  expectAll(
    "date",
    ["2018-09-11", "2018-09-11 10:00", "5874897-12-31", "300000-01-01"],
    [
      ["2018-02-30", "invalid_timestamp"],
      ["5874898-01-01", "invalid_timestamp"],
    ],
  );
});

describe("arrays", () => {
  test("character varying(3)[]", () => {
    expectAll(
      "character varying(3)[]",
      [
        "{}",
        "{a,b}",
        '{NULL,null,"NUL"}',
        "{a b , c}",
        '{"a,b","c\\"d"}',
        "{{a,b},{c,d}}",
        " { a } ",
        '{""}',
        "{a\\,b}",
        "[1:2]={a,b}",
        "[0:1]={a,b}",
        "{ \\ ab}",
        "{abc  }",
        "{{{{{{a}}}}}}",
      ],
      [
        ["{abc,abcd}", "value_too_long"],
        ['{"abcd"}', "value_too_long"],
        ["{abcd  }", "value_too_long"],
        ["{a,}", "invalid_array"],
        ["{,a}", "invalid_array"],
        ["{a", "invalid_array"],
        ["a,b", "invalid_array"],
        ["{{a,b},{c}}", "invalid_array"],
        ["{{a},b}", "invalid_array"],
        ["{a,{b}}", "invalid_array"],
        ["{}x", "invalid_array"],
        ["[1:3]={a,b}", "invalid_array"],
        ["{{}}", "invalid_array"],
        ["{{},{}}", "invalid_array"],
        ['{a"b}', "invalid_array"],
        ["{{{{{{{a}}}}}}}", "invalid_array"],
      ],
    );
  });

  test("element types are checked", () => {
    expectAll(
      "integer[]",
      ["{1,2,3}", "{NULL}", "{ 1 , 2 }"],
      [
        ["{1,x}", "invalid_integer"],
        ["{1,2147483648}", "integer_out_of_range"],
      ],
    );
    expect(checkPgValue("{a,b}", "_varchar")).toBeNull();
    expect(checkPgValue("{1,x}", "_int4")).toBe("invalid_integer");
  });

  test("parseArrayLiteral returns the elements", () => {
    expect(parseArrayLiteral('{a,"b c",NULL,"NULL",\\NULL}')).toEqual(["a", "b c", null, "NULL", "NULL"]);
    expect(parseArrayLiteral("{{1,2},{3,4}}")).toEqual(["1", "2", "3", "4"]);
    expect(parseArrayLiteral("{a,}")).toBeNull();
  });
});

describe("encoding and nulls", () => {
  test("NUL characters and lone surrogates fail for every type", () => {
    expect(checkPgValue("a\0b", "text")).toBe("contains_nul");
    expect(checkPgValue("a\0b", "jsonb")).toBe("contains_nul");
    expect(checkPgValue("a\ud800b", "text")).toBe("invalid_utf8");
  });

  test("checkPgField handles NULL", () => {
    expect(checkPgField(null, "uuid", { notNull: true })).toBe("null_key");
    expect(checkPgField(null, "uuid")).toBeNull();
    expect(checkPgField("x", "uuid")).toBe("invalid_uuid");
  });

  test("unknown types are accepted unchecked", () => {
    expect(checkPgValue("anything", "inet")).toBeNull();
  });

  test("type names are normalized and compiled checks are cached", () => {
    expect(checkPgValue("abcd", "CHARACTER VARYING ( 3 )")).toBe("value_too_long");
    expect(compilePgTypeCheck("integer")).toBe(compilePgTypeCheck("integer"));
  });

  test("FAILURE_REASONS lists each reason once", () => {
    expect(new Set(FAILURE_REASONS).size).toBe(FAILURE_REASONS.length);
    expect(FAILURE_REASONS).toContain("null_key");
  });
});

describe("isValidUtf8", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const agreesWithTextDecoder = (bytes: number[]): void => {
    let expected = true;
    try {
      fatal.decode(Uint8Array.from(bytes));
    } catch {
      expected = false;
    }
    expect({ bytes, valid: isValidUtf8(Uint8Array.from(bytes)) }).toEqual({ bytes, valid: expected });
  };

  test("known cases", () => {
    expect(isValidUtf8(new TextEncoder().encode("héllo € 😀"))).toBe(true);
    expect(isValidUtf8(Uint8Array.from([0xc3]))).toBe(false); // truncated
    expect(isValidUtf8(Uint8Array.from([0xc0, 0x80]))).toBe(false); // overlong NUL
    expect(isValidUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe(false); // surrogate
    expect(isValidUtf8(Uint8Array.from([0xf4, 0x90, 0x80, 0x80]))).toBe(false); // > U+10FFFF
    expect(isValidUtf8(Uint8Array.from([0xe0, 0x9f, 0xbf]))).toBe(false); // overlong
    expect(isValidUtf8(Uint8Array.from([0xf0, 0x8f, 0xbf, 0xbf]))).toBe(false); // overlong
    expect(isValidUtf8(new Uint8Array(0))).toBe(true);
  });

  test("agrees with a fatal TextDecoder on every 1- and 2-byte input and on random 3-4 byte inputs", () => {
    for (let a = 0; a < 256; a++) {
      agreesWithTextDecoder([a]);
      for (let b = 0x80; b < 256; b += 7) agreesWithTextDecoder([a, b]);
    }
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let k = 0; k < 20_000; k++) {
      const lead = 0xc0 + (rand() & 0x3f);
      const tail = [0x80 | (rand() & 0x3f), rand() < 200 ? 0x80 | (rand() & 0x3f) : rand(), 0x80 | (rand() & 0x3f)];
      agreesWithTextDecoder([lead, ...tail.slice(0, 1 + (k % 3))]);
    }
  });
});
