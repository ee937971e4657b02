import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isValidUtf8, Utf8Validator } from "../src/core/utf8.ts";

const u8 = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

function decoderAccepts(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Feeds `chunks` in order; returns the absolute offset of the first bad byte, or -1. */
function absoluteFailure(validator: Utf8Validator, chunks: readonly Uint8Array[]): number {
  let offset = 0;
  for (const chunk of chunks) {
    if (!validator.push(chunk)) return offset + validator.failedAt;
    offset += chunk.length;
  }
  return -1;
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let previous = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(previous, point));
    previous = point;
  }
  return chunks;
}

// Byte arrays biased towards the interesting region: lead bytes, continuation
// bytes and ASCII, so random inputs often contain near-valid sequences.
const utf8ishBytes = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.integer({ min: 0xc0, max: 0xff }),
      fc.constantFrom(0xe0, 0xed, 0xf0, 0xf4, 0x8f, 0x90, 0x9f, 0xa0),
    ),
    { maxLength: 64 },
  )
  .map((bytes) => new Uint8Array(bytes));

const validCases: [string, number[]][] = [
  ["empty", []],
  ["U+0000", [0x00]],
  ["U+007F", [0x7f]],
  ["U+0080", [0xc2, 0x80]],
  ["U+07FF", [0xdf, 0xbf]],
  ["U+0800", [0xe0, 0xa0, 0x80]],
  ["U+D7FF", [0xed, 0x9f, 0xbf]],
  ["U+E000", [0xee, 0x80, 0x80]],
  ["U+FFFD", [0xef, 0xbf, 0xbd]],
  ["U+FFFF", [0xef, 0xbf, 0xbf]],
  ["U+10000", [0xf0, 0x90, 0x80, 0x80]],
  ["U+FFFFF", [0xf3, 0xbf, 0xbf, 0xbf]],
  ["U+100000", [0xf4, 0x80, 0x80, 0x80]],
  ["U+10FFFF", [0xf4, 0x8f, 0xbf, 0xbf]],
  ["BOM", [0xef, 0xbb, 0xbf]],
  ["κόσμε", [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5]],
];

// [name, bytes, index of the first byte that makes the input impossible]
const invalidCases: [string, number[], number][] = [
  ["lone continuation 0x80", [0x80], 0],
  ["lone continuation 0xBF", [0xbf], 0],
  ["continuation after ASCII", [0x41, 0x42, 0x80], 2],
  ["extra continuation after 2-byte sequence", [0xc3, 0xa9, 0xa9], 2],
  ["overlong NUL C0 80", [0xc0, 0x80], 0],
  ["overlong C1 BF", [0xc1, 0xbf], 0],
  ["overlong 3-byte NUL E0 80 80", [0xe0, 0x80, 0x80], 1],
  ["overlong U+07FF E0 9F BF", [0xe0, 0x9f, 0xbf], 1],
  ["overlong 4-byte NUL F0 80 80 80", [0xf0, 0x80, 0x80, 0x80], 1],
  ["overlong U+FFFF F0 8F BF BF", [0xf0, 0x8f, 0xbf, 0xbf], 1],
  ["high surrogate U+D800", [0xed, 0xa0, 0x80], 1],
  ["low surrogate U+DFFF", [0xed, 0xbf, 0xbf], 1],
  ["surrogate pair as CESU-8", [0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9], 1],
  ["above U+10FFFF F4 90 80 80", [0xf4, 0x90, 0x80, 0x80], 1],
  ["unfinished F4 90", [0xf4, 0x90], 1],
  ["F5", [0xf5, 0x80, 0x80, 0x80], 0],
  ["F8 5-byte form", [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
  ["FC 6-byte form", [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], 0],
  ["FE", [0xfe], 0],
  ["FF", [0xff], 0],
  ["2-byte lead followed by ASCII", [0xc3, 0x41], 1],
  ["3-byte lead cut by ASCII", [0xe2, 0x82, 0x41], 2],
  ["4-byte lead cut by a new lead", [0xf0, 0x9f, 0x98, 0xf0], 3],
  ["invalid byte after long valid ASCII run", [...new Array(37).fill(0x61), 0xff], 37],
];

const truncatedCases: [string, number[]][] = [
  ["2-byte lead only", [0xc3]],
  ["3-byte sequence missing one byte", [0xe2, 0x82]],
  ["4-byte sequence missing one byte", [0xf0, 0x9f, 0x98]],
  ["4-byte lead only after ASCII", [0x61, 0xf4]],
  ["E0 A0 at end", [0xe0, 0xa0]],
];

test("Utf8Validator accepts the code point boundary cases", () => {
  for (const [name, bytes] of validCases) {
    const v = new Utf8Validator();
    assert.equal(v.push(u8(...bytes)), true, name);
    assert.equal(v.end(), true, name);
    assert.equal(v.failedAt, -1, name);
    assert.equal(isValidUtf8(u8(...bytes)), true, name);
  }
});

test("Utf8Validator rejects overlongs, surrogates, out-of-range and stray bytes", () => {
  for (const [name, bytes] of invalidCases) {
    const v = new Utf8Validator();
    assert.equal(v.push(u8(...bytes)), false, name);
    assert.equal(v.end(), false, name);
    assert.equal(isValidUtf8(u8(...bytes)), false, name);
  }
});

test("Utf8Validator failedAt points at the exact invalid byte", () => {
  for (const [name, bytes, at] of invalidCases) {
    const v = new Utf8Validator();
    v.push(u8(...bytes));
    assert.equal(v.failedAt, at, name);
  }
});

test("Utf8Validator fails on the first impossible byte when fed one byte at a time", () => {
  for (const [name, bytes, at] of invalidCases) {
    const v = new Utf8Validator();
    for (let i = 0; i < bytes.length; i++) {
      const ok = v.push(u8(bytes[i]!));
      assert.equal(ok, i < at, `${name}: byte ${i}`);
      if (!ok) {
        assert.equal(v.failedAt, 0, name);
        break;
      }
    }
  }
});

test("Utf8Validator fails on the first byte of a surrogate continuation, before the sequence ends", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(u8(0x68, 0x69, 0xed)), true);
  assert.equal(v.push(u8(0xa0)), false);
  assert.equal(v.failedAt, 0);
});

test("Utf8Validator fails at 0x90 of F4 90 even though the message is unfinished", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(u8(0x61, 0xf4)), true);
  assert.equal(v.push(u8(0x90)), false);
  assert.equal(v.failedAt, 0);
});

test("Utf8Validator push accepts truncated input but end reports it", () => {
  for (const [name, bytes] of truncatedCases) {
    const v = new Utf8Validator();
    assert.equal(v.push(u8(...bytes)), true, name);
    assert.equal(v.end(), false, name);
    assert.equal(v.failedAt, -1, name);
    assert.equal(isValidUtf8(u8(...bytes)), false, name);
  }
});

test("Utf8Validator completes a sequence split across pushes", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(u8(0xf0)), true);
  assert.equal(v.push(u8()), true);
  assert.equal(v.push(u8(0x9f, 0x98)), true);
  assert.equal(v.end(), false);
  assert.equal(v.push(u8(0x80)), true);
  assert.equal(v.end(), true);
});

test("Utf8Validator stays failed until reset", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(u8(0x61, 0xff)), false);
  assert.equal(v.failedAt, 1);
  assert.equal(v.push(u8(0x61)), false);
  assert.equal(v.failedAt, 1);
  assert.equal(v.end(), false);
  v.reset();
  assert.equal(v.failedAt, -1);
  assert.equal(v.push(u8(0x61)), true);
  assert.equal(v.end(), true);
});

test("Utf8Validator reset discards an unfinished sequence", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(u8(0xe2, 0x82)), true);
  v.reset();
  // Without the reset this 0x80 would complete nothing valid: E2 82 80 is fine,
  // but a fresh message must not start with a continuation byte.
  assert.equal(v.push(u8(0x80)), false);
});

test("Utf8Validator works on subarrays with an unaligned byteOffset", () => {
  const backing = new TextEncoder().encode("xxxx" + "abcdefgh".repeat(8) + "é€😀" + "abcdefgh".repeat(8));
  for (let start = 0; start < 4; start++) {
    assert.equal(isValidUtf8(backing.subarray(start, backing.length - start)), true);
  }
  const bad = new Uint8Array(80).fill(0x61);
  bad[70] = 0xc0;
  for (let start = 1; start < 5; start++) {
    const v = new Utf8Validator();
    assert.equal(v.push(bad.subarray(start)), false);
    assert.equal(v.failedAt, 70 - start);
  }
});

test("isValidUtf8 agrees with TextDecoder fatal on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.oneof(utf8ishBytes, fc.uint8Array({ maxLength: 64 })), (bytes) => {
      assert.equal(isValidUtf8(bytes), decoderAccepts(bytes));
    }),
    { numRuns: 2000 },
  );
});

test("Utf8Validator verdict agrees with TextDecoder fatal on arbitrary bytes", () => {
  fc.assert(
    fc.property(utf8ishBytes, (bytes) => {
      const v = new Utf8Validator();
      assert.equal(v.push(bytes) && v.end(), decoderAccepts(bytes));
    }),
    { numRuns: 2000 },
  );
});

test("Utf8Validator accepts any valid UTF-8 under any split into chunks", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 40 })),
      fc.array(fc.nat(), { maxLength: 12 }),
      (text, cuts) => {
        const bytes = encoder.encode(text);
        const v = new Utf8Validator();
        for (const chunk of splitAt(bytes, cuts)) assert.equal(v.push(chunk), true);
        assert.equal(v.end(), true);
      },
    ),
    { numRuns: 500 },
  );
});

test("Utf8Validator fails at the same absolute offset however invalid input is split", () => {
  fc.assert(
    fc.property(utf8ishBytes, fc.array(fc.nat(), { maxLength: 12 }), (bytes, cuts) => {
      const whole = absoluteFailure(new Utf8Validator(), [bytes]);
      const split = absoluteFailure(new Utf8Validator(), splitAt(bytes, cuts));
      assert.equal(split, whole);
      // One byte per push is the most demanding split for fail-fast behaviour.
      const bytewise = absoluteFailure(
        new Utf8Validator(),
        Array.from(bytes, (b) => u8(b)),
      );
      assert.equal(bytewise, whole);
    }),
    { numRuns: 1000 },
  );
});

test("Utf8Validator fails at the same byte as a streaming fatal TextDecoder", () => {
  // A WHATWG decoder in stream mode reports an error as soon as the offending
  // byte arrives, so it is an independent reference for the fail-fast offset.
  fc.assert(
    fc.property(utf8ishBytes, (bytes) => {
      const decoder = new TextDecoder("utf-8", { fatal: true });
      let expected = -1;
      for (let i = 0; i < bytes.length; i++) {
        try {
          decoder.decode(bytes.subarray(i, i + 1), { stream: true });
        } catch {
          expected = i;
          break;
        }
      }
      assert.equal(absoluteFailure(new Utf8Validator(), [bytes]), expected);
    }),
    { numRuns: 1000 },
  );
});

test("Utf8Validator handles long mixed text across chunk boundaries", () => {
  const text = "ASCII run then é, €, 😀, 日本語, क्षि ".repeat(500);
  const bytes = new TextEncoder().encode(text);
  for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
    const v = new Utf8Validator();
    for (let i = 0; i < bytes.length; i += size) assert.equal(v.push(bytes.subarray(i, i + size)), true);
    assert.equal(v.end(), true);
  }
  assert.equal(isValidUtf8(bytes), true);
});

test("Utf8Validator with a fast whole-buffer validator agrees with the state machine on any split", () => {
  const fast = (bytes: Uint8Array) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: "binary", maxLength: 200 }).map((s) => new TextEncoder().encode(s)), fc.uint8Array({ maxLength: 300 })),
      fc.array(fc.nat(), { maxLength: 6 }),
      (bytes, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let last = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(last, p));
          last = p;
        }
        const plain = new Utf8Validator();
        const quick = new Utf8Validator(fast);
        for (const chunk of chunks) {
          const a = plain.push(chunk);
          const b = quick.push(chunk);
          assert.equal(b, a);
          assert.equal(quick.failedAt, plain.failedAt);
          if (!a) break;
        }
        assert.equal(quick.end(), plain.end());
      },
    ),
    { numRuns: 3000 },
  );
});

test("Utf8Validator hands the fast validator each chunk up to its last complete code point", () => {
  const seen: number[] = [];
  const validator = new Utf8Validator((bytes) => {
    seen.push(bytes.length);
    return isValidUtf8(bytes);
  });
  const chunk = new Uint8Array([...new Uint8Array(100).fill(0x61), 0xe2, 0x82]);
  assert.equal(validator.push(chunk), true);
  assert.deepEqual(seen, [100], "the unfinished euro sign is left to the state machine");
  assert.equal(validator.end(), false);
  assert.equal(validator.push(new Uint8Array([0xac])), true);
  assert.equal(validator.end(), true);
});
