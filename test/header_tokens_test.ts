import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ExtensionOffer,
  formatExtensions,
  hasToken,
  isToken,
  parseExtensions,
  parseTokenList,
} from "../src/core/http/header_values.ts";

test("isToken accepts RFC 7230 tokens only", () => {
  assert.equal(isToken("permessage-deflate"), true);
  assert.equal(isToken("!#$%&'*+-.^_`|~09AZaz"), true);
  for (const bad of ["", "a b", "a,b", "a;b", "a=b", '"a"', "a/b", "a:b", "\u00e9", "a\tb", "(a)", "a\u0000"]) {
    assert.equal(isToken(bad), false, JSON.stringify(bad));
  }
});

test("parseTokenList splits on commas and skips empty elements and OWS", () => {
  assert.deepEqual(parseTokenList("chat, superchat"), ["chat", "superchat"]);
  assert.deepEqual(parseTokenList("  a ,\tb\t,,  , c  "), ["a", "b", "c"]);
  assert.deepEqual(parseTokenList(",a,"), ["a"]);
  assert.deepEqual(parseTokenList(""), []);
  assert.deepEqual(parseTokenList(" , ,"), []);
  assert.deepEqual(parseTokenList("Upgrade"), ["Upgrade"]);
});

test("parseTokenList rejects elements that are not tokens", () => {
  for (const bad of ["a b", "a, b c", "a;b", "chat/1", '"chat"', "a,\u00e9", "a\r\nb", "a\u0000"]) {
    assert.equal(parseTokenList(bad), null, JSON.stringify(bad));
  }
});

test("hasToken matches case-insensitively", () => {
  assert.equal(hasToken("keep-alive, Upgrade", "upgrade"), true);
  assert.equal(hasToken("UPGRADE", "Upgrade"), true);
  assert.equal(hasToken("keep-alive", "upgrade"), false);
  assert.equal(hasToken("upgrades", "upgrade"), false);
  assert.equal(hasToken("", "upgrade"), false);
});

test("hasToken fails closed on a malformed list", () => {
  assert.equal(hasToken("upgrade, bad value", "upgrade"), false);
});

test("parseExtensions parses the RFC 7692 examples", () => {
  assert.deepEqual(parseExtensions("permessage-deflate"), [{ name: "permessage-deflate", params: [] }]);
  assert.deepEqual(
    parseExtensions("permessage-deflate; client_max_window_bits; server_max_window_bits=10"),
    [{ name: "permessage-deflate", params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]] }],
  );
  assert.deepEqual(
    parseExtensions("permessage-deflate; server_max_window_bits=10, permessage-deflate"),
    [
      { name: "permessage-deflate", params: [["server_max_window_bits", "10"]] },
      { name: "permessage-deflate", params: [] },
    ],
  );
});

test("parseExtensions unquotes quoted values and allows OWS around separators", () => {
  assert.deepEqual(
    parseExtensions(' x ;\ta = "1" ; b\t=\t2 ;c , y ; d="\\e\\-f" '),
    [
      { name: "x", params: [["a", "1"], ["b", "2"], ["c", true]] },
      { name: "y", params: [["d", "e-f"]] },
    ],
  );
});

test("parseExtensions keeps parameter order and duplicates", () => {
  assert.deepEqual(parseExtensions("x; b=1; a; b=2"), [{ name: "x", params: [["b", "1"], ["a", true], ["b", "2"]] }]);
});

test("parseExtensions accepts several header lines joined with a comma", () => {
  assert.deepEqual(parseExtensions("a; p=1, b, , c; q"), [
    { name: "a", params: [["p", "1"]] },
    { name: "b", params: [] },
    { name: "c", params: [["q", true]] },
  ]);
  assert.deepEqual(parseExtensions(""), []);
  assert.deepEqual(parseExtensions(" , "), []);
});

test("parseExtensions rejects syntax errors", () => {
  const bad = [
    ";",
    "x;",
    "x; ",
    "x;;a",
    "x; =1",
    "x; a=",
    "x; a= ,y",
    "x; a=1=2",
    "x; a b",
    "x y",
    "x; a=\"1 2\"",
    'x; a=""',
    'x; a="1',
    'x; a="1\\',
    'x; a="1"2',
    "x; a=\"\u0001\"",
    "x; a=1.5/2",
    "x/1",
    "\"x\"",
    "x, ;a",
    "x\r\n; a",
  ];
  for (const value of bad) assert.equal(parseExtensions(value), null, JSON.stringify(value));
});

test("formatExtensions writes the negotiation syntax", () => {
  assert.equal(
    formatExtensions([
      { name: "permessage-deflate", params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]] },
      { name: "x-foo", params: [] },
    ]),
    "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo",
  );
  assert.equal(formatExtensions([]), "");
});

test("formatExtensions throws TypeError on values that would inject syntax", () => {
  const bad: ExtensionOffer[] = [
    { name: "a, b", params: [] },
    { name: "", params: [] },
    { name: "a", params: [["p; q", true]] },
    { name: "a", params: [["p", "1, evil"]] },
    { name: "a", params: [["p", "1\r\nX-Injected: 1"]] },
    { name: "a", params: [["p", ""]] },
  ];
  for (const offer of bad) assert.throws(() => formatExtensions([offer]), TypeError, JSON.stringify(offer));
});

test("parseExtensions stays fast on adversarial input", () => {
  // Shapes that made backtracking parsers quadratic or worse (ws CVE-2021-32640).
  const inputs = [
    "a" + ";".repeat(50_000),
    "x;" + " ".repeat(100_000) + "\u0001",
    "x; a=\"" + "\\a".repeat(50_000),
    "x" + ", ".repeat(50_000) + "\u0000",
    "x; a=1 ".repeat(20_000),
  ];
  for (const input of inputs) {
    // No timing assertion: a quadratic scan of these would not finish within the test runner's patience.
    assert.equal(parseExtensions(input), null);
    assert.equal(parseTokenList(input), null);
  }
});

// ---- properties -------------------------------------------------------------

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 10 });
const offer: fc.Arbitrary<ExtensionOffer> = fc.record({
  name: token,
  params: fc.array(fc.tuple(token, fc.oneof(token, fc.constant(true as const))), { maxLength: 5 }),
}).map(({ name, params }) => ({ name, params })); // fc.record builds null-prototype objects

test("parseExtensions round-trips formatExtensions output", () => {
  fc.assert(
    fc.property(fc.array(offer, { maxLength: 5 }), (list) => {
      assert.deepEqual(parseExtensions(formatExtensions(list)), list);
    }),
  );
});

test("parseTokenList round-trips any list of tokens with arbitrary OWS and empty elements", () => {
  const ows = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 3 });
  fc.assert(
    fc.property(fc.array(fc.tuple(ows, fc.option(token), ows)), (parts) => {
      const value = parts.map(([a, t, b]) => a + (t ?? "") + b).join(",");
      assert.deepEqual(parseTokenList(value), parts.flatMap(([, t]) => (t === null ? [] : [t])));
    }),
  );
});

test("parseTokenList and parseExtensions never throw on random strings", () => {
  const headerish = fc.string({
    unit: fc.oneof(fc.constantFrom(",", ";", "=", '"', "\\", " ", "\t", "a", "b", "1"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })),
    maxLength: 60,
  });
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary" }), headerish), (value) => {
      const list = parseTokenList(value);
      if (list !== null) for (const t of list) assert.ok(isToken(t));
      const extensions = parseExtensions(value);
      if (extensions !== null) {
        // Whatever parses must be well formed enough to be written back.
        assert.deepEqual(parseExtensions(formatExtensions(extensions)), extensions);
      }
    }),
    { numRuns: 1000 },
  );
});
