import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyMask, randomMaskKey, WORD_MASK_THRESHOLD } from "../src/core/mask.ts";

function byteMask(data: Uint8Array, key: Uint8Array, offset = 0): Uint8Array {
  const out = data.slice();
  for (let i = 0; i < out.length; i++) out[i]! ^= key[(i + offset) & 3]!;
  return out;
}

test("applyMask() unmasks the RFC 6455 5.7 example", () => {
  const data = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
  assert.equal(new TextDecoder().decode(data), "Hello");
});

test("applyMask() with an all-zero key leaves the data unchanged", () => {
  const data = new Uint8Array(100).fill(7);
  applyMask(data, new Uint8Array(4));
  assert.deepEqual(data, new Uint8Array(100).fill(7));
});

test("applyMask() word path equals the byte loop at every alignment, length and key offset", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.nat(7),
      fc.nat(3),
      (bytes, key, shift, keyOffset) => {
        // Place the data at an odd byte offset to exercise the alignment prologue.
        const backing = new Uint8Array(bytes.length + shift);
        backing.set(bytes, shift);
        const view = backing.subarray(shift);
        applyMask(view, key, 0, view.length, keyOffset);
        assert.deepEqual(view, byteMask(bytes, key, keyOffset));
        assert.deepEqual(backing.subarray(0, shift), new Uint8Array(shift)); // bytes before the view untouched
      },
    ),
    { numRuns: 500 },
  );
});

test("applyMask() masks only [start, end) and continues the key stream", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  const data = new Uint8Array(WORD_MASK_THRESHOLD * 3).fill(0);
  applyMask(data, key, 5, 80, 5);
  assert.deepEqual(data.subarray(0, 5), new Uint8Array(5));
  assert.deepEqual(data.subarray(80), new Uint8Array(data.length - 80));
  for (let i = 5; i < 80; i++) assert.equal(data[i], key[i & 3]);
});

test("applyMask() applied twice restores the input", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes, key) => {
      const copy = bytes.slice();
      applyMask(copy, key);
      applyMask(copy, key);
      assert.deepEqual(copy, bytes);
    }),
  );
});

test("randomMaskKey() returns distinct 4-byte keys across pool refills", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const key = randomMaskKey();
    assert.equal(key.length, 4);
    seen.add(key.join(","));
  }
  // 5000 draws from 2^32 values: collisions are possible but more than a handful means a broken pool.
  assert.ok(seen.size > 4990, `only ${seen.size} distinct keys`);
});
