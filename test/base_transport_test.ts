// The shared transport state machine, driven by a fake runtime: every rule
// the adapters rely on, without a socket (the contract suite runs the same
// rules over real sockets through each adapter).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BaseTransport, type ReleaseReason } from "../src/transport/base_transport.ts";
import type { TransportEvents } from "../src/transport/transport.ts";

/** A runtime whose writes take `capacity` bytes at a time, synchronously or later. */
class FakeTransport extends BaseTransport {
  readonly raw = null;
  readonly remoteAddress = "fake";
  readonly remotePort = 1;
  readonly localAddress = "fake";
  readonly localPort = 2;
  written: number[] = [];
  shutdowns = 0;
  released: ReleaseReason[] = [];
  reads: string[] = [];
  pendingWrite: ((count: number) => void) | undefined;

  constructor(public capacity = Infinity, public async = false) {
    super();
  }
  protected writeSome(chunk: Uint8Array): number | Promise<number> {
    const take = Math.min(chunk.length, this.capacity);
    if (!this.async) {
      for (let i = 0; i < take; i++) this.written.push(chunk[i]!);
      return take;
    }
    return new Promise((resolve) => {
      this.pendingWrite = (count) => {
        for (let i = 0; i < count; i++) this.written.push(chunk[i]!);
        resolve(count);
      };
    });
  }
  protected shutdownWrite(): void {
    this.shutdowns++;
  }
  protected stopReading(): void {
    this.reads.push("stop");
  }
  protected startReading(): void {
    this.reads.push("start");
  }
  protected release(reason: ReleaseReason): void {
    this.released.push(reason);
  }
  // The runtime's side, made callable.
  give(bytes: number[]): void {
    this.received(new Uint8Array(bytes));
  }
  giveEnd(): void {
    this.receivedEnd();
  }
  canWrite(): void {
    this.writable();
  }
  fail(error: Error): void {
    this.failed(error);
  }
}

function recorder(): TransportEvents & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    data: (chunk) => log.push(`data ${[...chunk].join(",")}`),
    drain: () => log.push("drain"),
    end: () => log.push("end"),
    close: (error) => log.push(error ? `close ${error.message}` : "close"),
  };
}

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

test("BaseTransport: bytes before start and while paused are held, then delivered in order with the EOF", async () => {
  const t = new FakeTransport();
  const events = recorder();
  t.give([1]);
  t.start(events);
  assert.deepEqual(events.log, ["data 1"]);
  assert.deepEqual(t.reads, ["start"]);
  t.pause();
  t.give([2]);
  t.give([3]);
  t.giveEnd();
  assert.deepEqual(events.log, ["data 1"], "nothing while paused");
  t.resume();
  assert.deepEqual(events.log, ["data 1"], "resume delivers later, not in the caller's stack");
  await tick();
  assert.deepEqual(events.log, ["data 1", "data 2", "data 3", "end"]);
  assert.deepEqual(t.reads, ["start", "stop"], "no more reading after the EOF");
});

test("BaseTransport: a runtime that takes part of a write keeps the rest queued, counted, and drains once empty", () => {
  const t = new FakeTransport(2);
  const events = recorder();
  t.start(events);
  t.write([new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
  assert.deepEqual(t.written, [1, 2]);
  assert.equal(t.bufferedAmount, 3);
  t.canWrite();
  assert.deepEqual(t.written, [1, 2, 3, 4]);
  assert.equal(t.bufferedAmount, 1);
  assert.deepEqual(events.log, []);
  t.canWrite();
  assert.deepEqual(t.written, [1, 2, 3, 4, 5]);
  assert.deepEqual(events.log, ["drain"]);
  t.write([new Uint8Array([6])]);
  assert.deepEqual(events.log, ["drain"], "no drain for a write taken at once");
});

test("BaseTransport: asynchronous writes go one at a time, in order, and end() waits for them", async () => {
  const t = new FakeTransport(Infinity, true);
  const events = recorder();
  t.start(events);
  t.write([new Uint8Array([1])]);
  t.write([new Uint8Array([2])]);
  t.end();
  t.write([new Uint8Array([9])]); // after end(): ignored
  assert.equal(t.shutdowns, 0, "the shutdown waits for the queue");
  t.pendingWrite!(1);
  await tick();
  await tick();
  t.pendingWrite!(1);
  await tick();
  await tick();
  assert.deepEqual(t.written, [1, 2]);
  assert.equal(t.shutdowns, 1);
  assert.deepEqual(events.log, [], "no drain once ending");
  t.giveEnd();
  await tick();
  assert.deepEqual(events.log, ["end", "close"], "closed once both directions ended");
  assert.deepEqual(t.released, ["done"]);
});

test("BaseTransport: close is reported once; destroy, failure and the runtime's own close all end it", async () => {
  const destroyed = new FakeTransport();
  const a = recorder();
  destroyed.start(a);
  destroyed.destroy();
  destroyed.destroy();
  destroyed.give([1]);
  assert.deepEqual(a.log, ["close"]);
  assert.deepEqual(destroyed.released, ["destroy"]);

  const failed = new FakeTransport();
  const b = recorder();
  failed.start(b);
  failed.fail(new Error("reset"));
  failed.fail(new Error("again"));
  assert.deepEqual(b.log, ["close reset"]);

  const early = new FakeTransport();
  early.destroy();
  const c = recorder();
  early.start(c);
  assert.deepEqual(c.log, [], "closed before start: reported later");
  await tick();
  assert.deepEqual(c.log, ["close"]);
});

test("BaseTransport: a half-closed transport keeps reading and writing the other way", async () => {
  const t = new FakeTransport();
  const events = recorder();
  t.start(events);
  t.giveEnd();
  t.write([new Uint8Array([7])]);
  assert.deepEqual(t.written, [7], "writes still go out after the peer's EOF");
  assert.deepEqual(events.log, ["end"]);
  t.end();
  await tick();
  assert.deepEqual(events.log, ["end", "close"]);
});
