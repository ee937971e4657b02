import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyMask, hasNativeMask, maskInto, randomMaskKey, useNativeMask, WORD_MASK_THRESHOLD } from "../src/core/mask.ts";
import { loadBufferutil } from "../src/transport/native_mask.ts";

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

// --- native masking ---

/** A stand-in native routine with bufferutil's contract that records its calls. */
function recordingNative(calls: number[]): (source: Uint8Array, key: Uint8Array, output: Uint8Array, offset: number, length: number) => void {
  return (source, key, output, offset, length) => {
    calls.push(length);
    const copy = source.slice(0, length); // source and output may overlap (in place)
    for (let i = 0; i < length; i++) output[offset + i] = copy[i]! ^ key[i & 3]!;
  };
}

test("applyMask() and maskInto() hand payloads from the threshold to the native routine, with the key rotated to the phase", () => {
  const calls: number[] = [];
  useNativeMask(recordingNative(calls), 100);
  try {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 99 }), fc.uint8Array({ minLength: 100, maxLength: 400 })), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(7), (data, key, phase) => {
        const expected = byteMask(data, key, phase);
        const inPlace = data.slice();
        applyMask(inPlace, key, 0, inPlace.length, phase);
        assert.deepEqual(inPlace, (key[0]! | key[1]! | key[2]! | key[3]!) === 0 ? data : expected);
        const out = new Uint8Array(data.length + 3);
        maskInto(data, key, phase, out, 3);
        assert.deepEqual(out.subarray(3), expected);
      }),
    );
    assert.ok(calls.some((n) => n >= 100), "large payloads went native");
    assert.ok(calls.every((n) => n >= 100), "small payloads stayed in JavaScript");
    assert.equal(hasNativeMask(), true);
  } finally {
    useNativeMask(undefined);
  }
  assert.equal(hasNativeMask(), false);
});

test("maskInto() without a native routine copies and masks like applyMask()", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(7), (data, key, phase) => {
      const out = new Uint8Array(data.length);
      maskInto(data, key, phase, out, 0);
      assert.deepEqual(out, byteMask(data, key, phase));
    }),
  );
});

test("bufferutil, where it loads, masks as the JavaScript loops do on this runtime", async () => {
  const native = await loadBufferutil(0);
  if (native === undefined) return; // bufferutil is an optional peer; a devDependency here, so it normally loads
  useNativeMask(native.mask, 0);
  try {
    for (const size of [1, 5, 64, 1000, 70_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
      for (const phase of [0, 1, 2, 3]) {
        const out = new Uint8Array(size + 1);
        maskInto(data, key, phase, out, 1);
        assert.deepEqual(out.subarray(1), byteMask(data, key, phase), `size ${size} phase ${phase}`);
      }
    }
  } finally {
    useNativeMask(undefined);
  }
});
