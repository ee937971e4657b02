// WriteQueue and coalesce (src/transport/write_queue.ts): what a transport
// could not write yet, handed to the socket in buffers of a useful size.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { coalesce, COALESCE_LIMIT, NO_WRITEV_COALESCE_LIMIT, WriteQueue } from "../src/transport/write_queue.ts";

const filled = (length: number, value: number) => new Uint8Array(length).fill(value);
const join = (chunks: readonly Uint8Array[]) => Uint8Array.from(chunks.flatMap((c) => Array.from(c)));

test("write_queue: coalesce() joins small chunks, keeps large ones as they are, drops empty ones", () => {
  const large = filled(COALESCE_LIMIT, 9);
  const out = coalesce([filled(3, 1), new Uint8Array(0), filled(2, 2), large, filled(1, 3)]);
  assert.equal(out.length, 3);
  assert.deepEqual(Array.from(out[0]!), [1, 1, 1, 2, 2]);
  assert.equal(out[1], large, "a large chunk is not copied");
  assert.deepEqual(Array.from(out[2]!), [3]);
  const single = filled(4, 4);
  assert.equal(coalesce([single])[0], single, "one chunk alone is not copied");
  // Small chunks stop joining at the limit.
  const many = coalesce(Array.from({ length: 5 }, () => filled(COALESCE_LIMIT / 2, 5)));
  assert.deepEqual(many.map((c) => c.length), [COALESCE_LIMIT, COALESCE_LIMIT, COALESCE_LIMIT / 2]);
});

test("write_queue: peek() offers the front (small chunks joined), consume() takes what the socket accepted, partial writes included", () => {
  const queue = new WriteQueue();
  assert.equal(queue.empty, true);
  assert.equal(queue.peek(), undefined);
  queue.push([filled(2, 1), new Uint8Array(0), filled(3, 2)]);
  assert.equal(queue.length, 5);
  assert.deepEqual(Array.from(queue.peek()!), [1, 1, 2, 2, 2]);
  queue.consume(3); // the socket took 3 of 5
  assert.equal(queue.length, 2);
  assert.deepEqual(Array.from(queue.peek()!), [2, 2]);
  queue.consume(2);
  assert.equal(queue.empty, true);
});

test("write_queue: a large chunk is never copied and never joined", () => {
  const queue = new WriteQueue();
  const large = filled(COALESCE_LIMIT * 2, 7);
  queue.push([filled(1, 1), large, filled(1, 2)]);
  assert.deepEqual(Array.from(queue.peek()!), [1]);
  queue.consume(1);
  assert.equal(queue.peek(), large);
  queue.consume(100);
  assert.equal(queue.peek()!.length, large.length - 100);
  assert.equal(queue.peek()!.buffer, large.buffer, "the rest is a view");
  queue.clear();
  assert.equal(queue.length, 0);
  assert.equal(queue.peek(), undefined);
});

test("write_queue: whatever the socket takes each time, the bytes come out in order, once (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: COALESCE_LIMIT + 10 }), { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: COALESCE_LIMIT + 20 }), { minLength: 1, maxLength: 30 }),
      (chunks, takes) => {
        const queue = new WriteQueue();
        queue.push(chunks);
        const written: Uint8Array[] = [];
        let i = 0;
        while (!queue.empty) {
          const front = queue.peek()!;
          const count = Math.min(front.length, takes[i++ % takes.length]!);
          written.push(front.slice(0, count));
          queue.consume(count);
        }
        assert.deepEqual(join(written), join(chunks));
      },
    ),
  );
});

test("WriteQueue with a larger limit joins a header and a payload under it into one write (runtimes without writev)", () => {
  const header = new Uint8Array([0x82, 0x7e, 0x00, 0x00]);
  const payload = new Uint8Array(64 * 1024).fill(7);
  const joined = new WriteQueue(NO_WRITEV_COALESCE_LIMIT);
  joined.push([header, payload]);
  assert.equal(joined.peek()!.length, header.length + payload.length);
  const apart = new WriteQueue();
  apart.push([header, payload]);
  assert.equal(apart.peek()!.length, header.length, "the default limit leaves a 64 KiB payload on its own");
});
