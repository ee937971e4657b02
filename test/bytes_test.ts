import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { concat, equals, indexOfNeedle } from "../src/core/bytes.ts";

const u8 = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

function naiveIndexOf(source: Uint8Array, needle: Uint8Array, start: number): number {
  if (start < 0) start = Math.max(0, source.length + start);
  if (needle.length === 0) return -1;
  for (let i = start; i + needle.length <= source.length; i++) {
    if (needle.every((b, j) => source[i + j] === b)) return i;
  }
  return -1;
}

// Small alphabet so needles actually occur in sources.
const smallBytes = (maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength }).map((a) => new Uint8Array(a));

test("concat joins arrays in order", () => {
  assert.deepEqual(concat([u8(1, 2), u8(), u8(3), u8(4, 5, 6)]), u8(1, 2, 3, 4, 5, 6));
  assert.deepEqual(concat([]), u8());
});

test("concat returns a fresh array even for a single input", () => {
  const input = u8(1, 2, 3);
  const output = concat([input]);
  assert.deepEqual(output, input);
  assert.notEqual(output.buffer, input.buffer);
  input[0] = 9;
  assert.equal(output[0], 1);
});

test("concat copies only the viewed part of subarrays", () => {
  const backing = u8(0, 1, 2, 3, 4, 5);
  assert.deepEqual(concat([backing.subarray(1, 3), backing.subarray(4)]), u8(1, 2, 4, 5));
});

test("concat equals the naive spread", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 8 }), (arrays) => {
      assert.deepEqual(concat(arrays), new Uint8Array(arrays.flatMap((a) => [...a])));
    }),
  );
});

test("equals compares length and contents", () => {
  assert.equal(equals(u8(), u8()), true);
  assert.equal(equals(u8(1, 2, 3), u8(1, 2, 3)), true);
  assert.equal(equals(u8(1, 2, 3), u8(1, 2, 4)), false);
  assert.equal(equals(u8(1, 2), u8(1, 2, 3)), false);
  assert.equal(equals(u8(1, 2, 3).subarray(1), u8(2, 3)), true);
});

test("equals agrees with an element-wise comparison", () => {
  fc.assert(
    fc.property(smallBytes(6), smallBytes(6), (a, b) => {
      const expected = a.length === b.length && a.every((x, i) => x === b[i]);
      assert.equal(equals(a, b), expected);
      assert.equal(equals(a, a.slice()), true);
    }),
  );
});

test("indexOfNeedle finds the first occurrence at or after start", () => {
  const source = u8(0, 1, 2, 1, 2, 1, 2, 3);
  assert.equal(indexOfNeedle(source, u8(1, 2)), 1);
  assert.equal(indexOfNeedle(source, u8(1, 2), 2), 3);
  assert.equal(indexOfNeedle(source, u8(1, 2), 6), -1);
  assert.equal(indexOfNeedle(source, u8(2, 3)), 6);
  assert.equal(indexOfNeedle(source, u8(5, 0)), -1);
  assert.equal(indexOfNeedle(u8(1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 3), u8(0, 1, 2)), 2);
  assert.equal(indexOfNeedle(u8(0, 0, 1), u8(0, 1)), 1);
});

test("indexOfNeedle handles the CRLFCRLF head terminator", () => {
  const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody");
  assert.equal(indexOfNeedle(head, new TextEncoder().encode("\r\n\r\n")), 23);
});

test("indexOfNeedle follows @std/bytes edge cases", () => {
  const source = u8(1, 2, 3, 1, 2);
  assert.equal(indexOfNeedle(source, u8()), -1, "empty needle is never found");
  assert.equal(indexOfNeedle(source, u8(1, 2), -2), 3, "negative start counts from the end");
  assert.equal(indexOfNeedle(source, u8(1, 2), -100), 0, "very negative start clamps to 0");
  assert.equal(indexOfNeedle(source, u8(1, 2), 99), -1, "start past the end");
  assert.equal(indexOfNeedle(source, u8(1, 2, 3, 1, 2, 3)), -1, "needle longer than source");
  assert.equal(indexOfNeedle(source, u8(2, 3, 1, 2)), 1, "needle touching the end");
  assert.equal(indexOfNeedle(u8(1, 2), u8(2, 9)), -1, "partial match running off the end");
});

test("indexOfNeedle agrees with a naive search", () => {
  fc.assert(
    fc.property(smallBytes(24), smallBytes(4), fc.integer({ min: -30, max: 30 }), (source, needle, start) => {
      assert.equal(indexOfNeedle(source, needle, start), naiveIndexOf(source, needle, start));
    }),
    { numRuns: 2000 },
  );
});
