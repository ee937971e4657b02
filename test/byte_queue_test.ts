import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteQueue } from "../src/core/byte_queue.ts";

test("ByteQueue.take() returns a view when the bytes lie in one chunk", () => {
  const queue = new ByteQueue();
  const chunk = new Uint8Array([1, 2, 3, 4]);
  queue.push(chunk);
  const taken = queue.take(2);
  assert.equal(taken.buffer, chunk.buffer);
  assert.deepEqual(taken, new Uint8Array([1, 2]));
  assert.equal(queue.length, 2);
});

test("ByteQueue.take() copies across chunks in order", () => {
  const queue = new ByteQueue();
  queue.push(new Uint8Array([1, 2]));
  queue.push(new Uint8Array([3]));
  queue.push(new Uint8Array([4, 5, 6]));
  assert.deepEqual(queue.take(5), new Uint8Array([1, 2, 3, 4, 5]));
  assert.equal(queue.peek(0), 6);
  assert.equal(queue.length, 1);
});

test("ByteQueue.takeUpTo() never crosses a chunk", () => {
  const queue = new ByteQueue();
  queue.push(new Uint8Array([1, 2]));
  queue.push(new Uint8Array([3, 4]));
  assert.deepEqual(queue.takeUpTo(10), new Uint8Array([1, 2]));
  assert.deepEqual(queue.takeUpTo(1), new Uint8Array([3]));
  assert.deepEqual(queue.takeUpTo(10), new Uint8Array([4]));
  assert.equal(queue.takeUpTo(10).length, 0);
});

test("ByteQueue reads equal the concatenated input for any chunking and read sizes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 30 }),
      fc.array(fc.nat(25), { maxLength: 60 }),
      (chunks, reads) => {
        const all = chunks.flatMap((c) => [...c]);
        const queue = new ByteQueue();
        for (const c of chunks) queue.push(c);
        const got: number[] = [];
        for (const n of reads) {
          const want = Math.min(n, queue.length);
          if (want > 0) assert.equal(queue.peek(want - 1), all[got.length + want - 1]);
          got.push(...queue.take(want));
        }
        got.push(...queue.take(queue.length));
        assert.deepEqual(got, all);
      },
    ),
  );
});

test("ByteQueue stays correct through many chunks (compaction)", () => {
  const queue = new ByteQueue();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 5000; round++) {
    queue.push(new Uint8Array([next++ & 0xff, next++ & 0xff]));
    if (round % 3 === 0) {
      const b = queue.take(Math.min(3, queue.length));
      for (const v of b) assert.equal(v, expected++ & 0xff);
    }
  }
  const rest = queue.take(queue.length);
  for (const v of rest) assert.equal(v, expected++ & 0xff);
  assert.equal(expected, next);
});
