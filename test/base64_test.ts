import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeBase64, encodeBase64 } from "../src/core/base64.ts";

const encoder = new TextEncoder();

// RFC 4648 section 10.
const vectors: [string, string][] = [
  ["", ""],
  ["f", "Zg=="],
  ["fo", "Zm8="],
  ["foo", "Zm9v"],
  ["foob", "Zm9vYg=="],
  ["fooba", "Zm9vYmE="],
  ["foobar", "Zm9vYmFy"],
];

test("encodeBase64 matches the RFC 4648 test vectors", () => {
  for (const [plain, encoded] of vectors) assert.equal(encodeBase64(encoder.encode(plain)), encoded);
});

test("decodeBase64 matches the RFC 4648 test vectors", () => {
  for (const [plain, encoded] of vectors) assert.deepEqual(decodeBase64(encoded), encoder.encode(plain));
});

test("encodeBase64 uses + and / for the high sextets", () => {
  assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff, 0xbf])), "+/+/");
  assert.deepEqual(decodeBase64("+/+/"), new Uint8Array([0xfb, 0xff, 0xbf]));
});

test("encodeBase64 encodes a subarray, not its whole backing buffer", () => {
  assert.equal(encodeBase64(encoder.encode("xfoobarx").subarray(1, 7)), "Zm9vYmFy");
});

test("decodeBase64 round-trips arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
      assert.deepEqual(decodeBase64(encodeBase64(data)), data);
    }),
    { numRuns: 1000 },
  );
});

test("encodeBase64 agrees with btoa on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
      assert.equal(encodeBase64(data), btoa(String.fromCharCode(...data)));
    }),
    { numRuns: 500 },
  );
});

test("decodeBase64 rejects wrong lengths", () => {
  for (const text of ["Z", "Zm", "Zm9", "Zg", "Zg=", "Zm9vY", "Zm9vYg="]) assert.equal(decodeBase64(text), null, text);
});

test("decodeBase64 rejects characters outside the standard alphabet", () => {
  for (const text of ["Zm9-", "Zm9_", "Zm9v!A==", "Zm\u00e99", "Zm9\u0000", "Zm9v\u{1f600}="]) {
    assert.equal(decodeBase64(text), null, JSON.stringify(text));
  }
});

test("decodeBase64 rejects whitespace anywhere", () => {
  for (const text of [" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "Zm9v\r\nYmFy", "Zg==\t", "\tZm8="]) {
    assert.equal(decodeBase64(text), null, JSON.stringify(text));
  }
});

test("decodeBase64 rejects misplaced or excess padding", () => {
  for (const text of ["====", "Z===", "=Zm9", "Zm=v", "Zg==Zm9v", "Zm9v====", "Z=g=", "Zg=A"]) {
    assert.equal(decodeBase64(text), null, text);
  }
});

test("decodeBase64 rejects non-zero padding bits", () => {
  // "Zg==" is canonical for "f"; "Zh==" ... "Zv==" carry stray low bits.
  for (const text of ["Zh==", "Zp==", "Zv==", "Zm9=", "Zm+=", "Zm/="]) assert.equal(decodeBase64(text), null, text);
  assert.deepEqual(decodeBase64("Zm8="), encoder.encode("fo"));
});

test("decodeBase64 accepts only canonical encodings", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."AZaz09+/=Zg-_ \n".split("")), maxLength: 12 }), (text) => {
      const decoded = decodeBase64(text);
      if (decoded !== null) assert.equal(encodeBase64(decoded), text);
    }),
    { numRuns: 2000 },
  );
});

test("decodeBase64 decodes a 16-byte Sec-WebSocket-Key", () => {
  const key = decodeBase64("dGhlIHNhbXBsZSBub25jZQ==");
  assert.ok(key);
  assert.equal(key.length, 16);
  assert.equal(new TextDecoder().decode(key), "the sample nonce");
});
