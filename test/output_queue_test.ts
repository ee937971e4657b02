// OutputQueue (src/core/output_queue.ts): a connection's ordered output,
// with places held for frames an asynchronous extension is still encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { OutputQueue, SEND_EOF, type OutgoingData } from "../src/core/output_queue.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

/** The queue's output as arrays of numbers (EOF as "EOF"). */
function plain(items: OutgoingData[]): (number[] | "EOF")[] {
  return items.map((item) => (item === SEND_EOF ? "EOF" : Array.from(item)));
}

test("output_queue: chunks come out in order, once; bufferedAmount counts what was not taken", () => {
  const queue = new OutputQueue();
  queue.push(bytes(1, 2));
  queue.push(bytes(3));
  assert.equal(queue.bufferedAmount, 3);
  assert.deepEqual(plain(queue.take()), [[1, 2], [3]]);
  assert.equal(queue.bufferedAmount, 0);
  assert.deepEqual(queue.take(), []);
});

test("output_queue: adjacent views of one buffer are joined without copying", () => {
  const pool = new Uint8Array(8).map((_, i) => i);
  const queue = new OutputQueue();
  queue.push(pool.subarray(0, 3));
  queue.push(pool.subarray(3, 5));
  queue.push(pool.subarray(6, 8)); // not adjacent: a gap at 5
  const out = queue.take() as Uint8Array[];
  assert.equal(out.length, 2);
  assert.equal(out[0]!.buffer, pool.buffer, "a view, not a copy");
  assert.deepEqual(Array.from(out[0]!), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(out[1]!), [6, 7]);
});

test("output_queue: the half-close is queued once, after what precedes it", () => {
  const queue = new OutputQueue();
  queue.push(bytes(1));
  queue.pushEof();
  queue.pushEof();
  assert.deepEqual(plain(queue.take()), [[1], "EOF"]);
  queue.pushEof();
  assert.deepEqual(queue.take(), [], "never twice");
});

test("output_queue: everything behind a frame being encoded waits for it, then follows it in order", () => {
  const queue = new OutputQueue();
  queue.push(bytes(1));
  const pending = queue.hold(100);
  queue.push(bytes(9)); // e.g. a ping sent after the message
  queue.pushEof();
  assert.equal(queue.bufferedAmount, 1 + 100 + 1, "the pending frame counts at its input size");
  assert.deepEqual(plain(queue.take()), [[1]]);
  assert.equal(queue.settle(), undefined, "not done yet: still held");
  assert.deepEqual(queue.take(), []);
  pending.chunks = [bytes(5, 5), bytes(6)];
  assert.equal(queue.settle(), undefined);
  assert.deepEqual(plain(queue.take()), [[5, 5], [6], [9], "EOF"]);
  assert.equal(queue.bufferedAmount, 0);
});

test("output_queue: frames finish out of order but leave in order", () => {
  const queue = new OutputQueue();
  const first = queue.hold(10);
  const second = queue.hold(20);
  second.chunks = [bytes(2)];
  assert.equal(queue.settle(), undefined);
  assert.deepEqual(queue.take(), [], "the second waits for the first");
  assert.equal(queue.bufferedAmount, 30);
  first.chunks = [bytes(1)];
  queue.settle();
  assert.deepEqual(plain(queue.take()), [[1], [2]]);
});

test("output_queue: a frame that failed to encode stops the output there and reports its error", () => {
  const queue = new OutputQueue();
  queue.push(bytes(1));
  const bad = queue.hold(10);
  queue.push(bytes(2));
  bad.error = new Error("deflate failed");
  const error = queue.settle();
  assert.ok(error instanceof Error && error.message === "deflate failed");
  assert.deepEqual(plain(queue.take()), [[1]], "nothing after the gap goes out");
  assert.equal(queue.bufferedAmount, 0);
  queue.push(bytes(3));
  assert.deepEqual(plain(queue.take()), [[3]], "later output (the close of the failure) goes out");
});
