// MessageReader (src/core/message_reader.ts): data frames' payloads into
// messages, with the size limit charged from each header, text validated as
// it arrives, and streaming as chunks.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteQueue } from "../src/core/byte_queue.ts";
import { concat, equals } from "../src/core/bytes.ts";
import type { WsEvent } from "../src/core/events.ts";
import { Opcode } from "../src/core/frame.ts";
import type { ReadHeader } from "../src/core/frame_reader.ts";
import { applyMask } from "../src/core/mask.ts";
import { MessageReader, type MessageReaderOptions, unmasked, useUninitializedAllocation } from "../src/core/message_reader.ts";

const enc = new TextEncoder();
const KEY = new Uint8Array([1, 2, 3, 4]);

function reader(options: Partial<MessageReaderOptions> = {}): MessageReader {
  return new MessageReader({ maxMessageSize: 1024, fragmentOverhead: 0, streaming: false, isUtf8: undefined, inPlace: false, ...options });
}

function header(opcode: number, length: number, fin = true, mask: Uint8Array | null = null): ReadHeader {
  return { fin, rsv: 0, opcode, mask, length, key: mask ?? new Uint8Array(4) };
}

/** Feeds one frame's payload (masked with the header's key), in the given pieces; returns progress and events. */
function frame(r: MessageReader, h: ReadHeader, payload: Uint8Array, pieces = 1): { progress: unknown; events: WsEvent[] } {
  const start = r.startFrame(h);
  if (start) return { progress: start, events: [] };
  const wire = payload.slice();
  if (h.mask) applyMask(wire, h.mask, 0, wire.length, 0);
  const queue = new ByteQueue();
  const events: WsEvent[] = [];
  let progress: unknown = false;
  const size = Math.max(1, Math.ceil(wire.length / pieces));
  if (wire.length === 0) progress = r.read(queue, h, events);
  for (let at = 0; at < wire.length; at += size) {
    queue.push(wire.slice(at, at + size));
    progress = r.read(queue, h, events);
    if (progress !== false && progress !== true) break;
  }
  return { progress, events };
}

test("message_reader: whole text and binary messages, masked or not, in one piece or many", () => {
  for (const mask of [null, KEY]) {
    for (const pieces of [1, 3, 11]) {
      const r = reader();
      const text = frame(r, header(Opcode.Text, 11, true, mask), enc.encode("héllo wörld").subarray(0, 11), pieces);
      assert.equal(text.progress, true);
      const binary = frame(r, header(Opcode.Binary, 5, true, mask), Uint8Array.from([1, 2, 3, 4, 5]), pieces);
      assert.deepEqual(binary.events, [{ type: "binary", data: Uint8Array.from([1, 2, 3, 4, 5]) }]);
    }
  }
  const r = reader();
  assert.deepEqual(frame(r, header(Opcode.Text, 5), enc.encode("Hello")).events, [{ type: "text", data: "Hello" }]);
  assert.deepEqual(frame(r, header(Opcode.Binary, 0), new Uint8Array(0)).events, [{ type: "binary", data: new Uint8Array(0) }]);
});

test("message_reader: fragments join into one message; continuation rules", () => {
  const r = reader();
  assert.deepEqual(frame(r, header(Opcode.Text, 3, false), enc.encode("Hel")).events, []);
  assert.equal(r.isText, true);
  assert.equal(r.startFrame(header(Opcode.Text, 1))?.code, "WS_ERR_EXPECTED_CONTINUATION", "a new message inside one");
  assert.deepEqual(frame(r, header(Opcode.Continuation, 2), enc.encode("lo")).events, [{ type: "text", data: "Hello" }]);
  assert.equal(r.startFrame(header(Opcode.Continuation, 1))?.code, "WS_ERR_UNEXPECTED_CONTINUATION", "nothing to continue");
});

test("message_reader: the size limit is charged from headers, fragments included, before any payload", () => {
  const r = reader({ maxMessageSize: 10, fragmentOverhead: 2 });
  assert.equal(r.startFrame(header(Opcode.Binary, 11))?.code, "WS_ERR_MESSAGE_TOO_BIG");
  const ok = reader({ maxMessageSize: 10, fragmentOverhead: 2 });
  assert.equal(frame(ok, header(Opcode.Binary, 4, false), new Uint8Array(4)).progress, true);
  // 4 + (2 overhead + 4) = 10: at the limit; the next fragment, even empty, costs 2 more.
  assert.equal(frame(ok, header(Opcode.Continuation, 4, false), new Uint8Array(4)).progress, true);
  const over = ok.startFrame(header(Opcode.Continuation, 0));
  assert.equal(over?.code, "WS_ERR_MESSAGE_TOO_BIG");
  assert.equal(over?.closeCode, 1009);
});

test("message_reader: invalid UTF-8 fails at its first bad byte, also across fragments; a truncated character at the end fails", () => {
  const r = reader({ maxMessageSize: 1 << 20 });
  // 0xc3 0x28: an invalid continuation, found in the first piece while the rest of the frame is still to come.
  const h = header(Opcode.Text, 4000, false);
  assert.equal(r.startFrame(h), undefined);
  const queue = new ByteQueue();
  queue.push(Uint8Array.from([0x41, 0xc3, 0x28]));
  const progress = r.read(queue, h, []);
  assert.equal(typeof progress === "object" && progress.code, "WS_ERR_INVALID_UTF8");
  const split = reader();
  assert.equal(frame(split, header(Opcode.Text, 1, false), Uint8Array.from([0xc3])).progress, true, "half a character is fine mid-message");
  assert.deepEqual(frame(split, header(Opcode.Continuation, 1), Uint8Array.from([0xa9])).events, [{ type: "text", data: "é" }]);
  const truncated = reader();
  assert.equal((frame(truncated, header(Opcode.Text, 1), Uint8Array.from([0xc3])).progress as { closeCode: number }).closeCode, 1007);
});

test("message_reader: streaming reports chunks with what is left of the frame, and the last one", () => {
  const r = reader({ streaming: true });
  const first = frame(r, header(Opcode.Binary, 6, false), Uint8Array.from([1, 2, 3, 4, 5, 6]), 2);
  assert.deepEqual(first.events.map((e) => e.type === "chunk" && [Array.from(e.data), e.frameRemaining, e.last]), [[[1, 2, 3], 3, false], [[4, 5, 6], 0, false]]);
  const last = frame(r, header(Opcode.Continuation, 0), new Uint8Array(0));
  assert.deepEqual(last.events, [{ type: "chunk", messageType: "binary", data: new Uint8Array(0), frameRemaining: 0, last: true }]);
  const text = reader({ streaming: true });
  const events = frame(text, header(Opcode.Text, 2, true, KEY), enc.encode("é"), 2).events;
  assert.deepEqual(events.map((e) => e.type === "chunk" && e.messageType), ["text", "text"], "bytes of one character may come in two chunks");
});

test("message_reader: collect() hands over the unmasked payload for the extensions; acceptDecoded() joins decoded data", () => {
  const r = reader();
  const h = header(Opcode.Text, 5, true, KEY);
  assert.equal(r.startFrame(h), undefined);
  const wire = enc.encode("Hello");
  applyMask(wire, KEY, 0, 5, 0);
  const queue = new ByteQueue();
  queue.push(wire.subarray(0, 2));
  const pieces: Uint8Array[] = [];
  assert.equal(r.collect(queue, h, pieces), false);
  queue.push(wire.subarray(2));
  assert.equal(r.collect(queue, h, pieces), true);
  assert.equal(new TextDecoder().decode(Uint8Array.from(pieces.flatMap((p) => Array.from(p)))), "Hello");
  const events: WsEvent[] = [];
  assert.equal(r.acceptDecoded(enc.encode("Hello, inflated"), 0, true, events), undefined);
  assert.deepEqual(events, [{ type: "text", data: "Hello, inflated" }]);
  assert.equal(r.acceptDecoded(enc.encode("x"), 0x40, true, [])?.code, "WS_ERR_UNEXPECTED_RSV", "an RSV bit no extension consumed");
  const small = reader({ maxMessageSize: 4 });
  small.startFrame(header(Opcode.Binary, 2));
  assert.equal(small.acceptDecoded(new Uint8Array(5), 0, true, [])?.code, "WS_ERR_MESSAGE_TOO_BIG", "decoded data is charged too");
});

test("message_reader: unmasked() copies masked bytes and leaves the input alone", () => {
  const input = Uint8Array.from([1, 2, 3, 4, 5]);
  const out = unmasked(input, header(Opcode.Binary, 5, true, KEY), 0);
  assert.deepEqual(Array.from(input), [1, 2, 3, 4, 5]);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0, 4]);
  assert.equal(unmasked(input, header(Opcode.Binary, 5), 0), input, "unmasked input is returned as is");
});

test("message_reader: a message read in any pieces is the same message (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 50 }), fc.boolean(), (payload, pieces, masked) => {
      const r = reader();
      const { progress, events } = frame(r, header(Opcode.Binary, payload.length, true, masked ? KEY : null), payload, pieces);
      assert.equal(progress, true);
      assert.deepEqual(events, [{ type: "binary", data: payload }]);
    }),
  );
});

test("message_reader: small received messages share a pool, yet each keeps its own bytes (kept messages are never overwritten)", () => {
  // Sizes around the byte-loop limit, the 4 KiB pool limit and a 64 KiB pool's end, whole and in pieces.
  const sizes = [1, 3, 127, 128, 129, 1000, 1024, 4095, 4096, 4097, 5000];
  const kept: { data: Uint8Array; expected: Uint8Array }[] = [];
  for (let round = 0; round < 40; round++) {
    for (const size of sizes) {
      const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + round + size) & 0xff);
      const r = reader({ maxMessageSize: 1 << 20 });
      const { events } = frame(r, header(Opcode.Binary, size, true, KEY), payload, round % 3 === 0 ? 2 : 1);
      const event = events[0];
      assert.equal(event?.type, "binary");
      if (event?.type === "binary") kept.push({ data: event.data, expected: payload });
    }
  }
  for (const { data, expected } of kept) assert.deepEqual(data, expected);
  const pooled = kept.filter(({ data }) => data.buffer.byteLength > data.length);
  assert.ok(pooled.length > 0, "small messages come from a shared pool");
  for (let i = 1; i < pooled.length; i++) {
    const a = pooled[i - 1]!.data, b = pooled[i]!.data;
    if (a.buffer === b.buffer) assert.ok(a.byteOffset + a.length <= b.byteOffset, "pooled messages never overlap");
  }
});

/** Feeds one masked frame from the given wire bytes, in pieces of `size`, keeping the pieces; returns the events. */
function feedWire(r: MessageReader, h: ReadHeader, wire: Uint8Array, size: number): { progress: unknown; events: WsEvent[]; pieces: Uint8Array[] } {
  const start = r.startFrame(h);
  if (start) return { progress: start, events: [], pieces: [] };
  const queue = new ByteQueue();
  const events: WsEvent[] = [];
  const pieces: Uint8Array[] = [];
  let progress: unknown = false;
  for (let at = 0; at < wire.length; at += size) {
    const piece = wire.slice(at, at + size);
    pieces.push(piece);
    queue.push(piece);
    progress = r.read(queue, h, events);
    if (progress !== false && progress !== true) break;
  }
  return { progress, events, pieces };
}

const patterned = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed + (i >> 8)) & 0xff);

test("message_reader: with an uninitialised allocator every byte of a large message is still the peer's (no garbage leaks)", () => {
  // The allocator hands out memory full of 0xAA, as reused memory would be; any byte the reader
  // forgot to write would show. Sizes: over the pool, at and around the 256 KiB preallocation
  // rule, in one piece, in pieces of every kind, masked and not, in fragments.
  let calls = 0;
  useUninitializedAllocation((size) => {
    calls++;
    return new Uint8Array(size).fill(0xaa);
  });
  try {
    for (const size of [4097, 65536, 262144, 262145, 1 << 20]) {
      const payload = patterned(size, size);
      for (const mask of [KEY, null]) {
        for (const pieces of [1, 2, 7, 64]) {
          const r = reader({ maxMessageSize: 4 << 20 });
          const { progress, events } = frame(r, header(Opcode.Binary, size, true, mask), payload, pieces);
          assert.equal(progress, true);
          assert.equal(events.length, 1);
          assert.ok(events[0]!.type === "binary" && equals(events[0].data, payload), `${size} B, ${pieces} pieces, ${mask ? "masked" : "unmasked"}`);
        }
      }
      // Two fragments, the second split in pieces.
      const r = reader({ maxMessageSize: 4 << 20 });
      const half = size >> 1;
      assert.equal(frame(r, header(Opcode.Binary, half, false, KEY), payload.subarray(0, half), 3).progress, true);
      const { events } = frame(r, header(Opcode.Continuation, size - half, true, KEY), payload.subarray(half), 5);
      assert.ok(events[0]?.type === "binary" && equals(events[0].data, payload), `${size} B in two fragments`);
    }
    assert.ok(calls > 0, "the installed allocator was used");
  } finally {
    useUninitializedAllocation(undefined);
  }
});

test("message_reader: a large binary frame's first pieces wait masked and are unmasked once into its buffer; the caller's pieces stay as sent", () => {
  const size = 1 << 20;
  const payload = patterned(size, 3);
  const wire = payload.slice();
  applyMask(wire, KEY, 0, wire.length, 0);
  for (const pieceSize of [1000, 65536, 100_003]) {
    const r = reader({ maxMessageSize: 2 << 20 });
    const { progress, events, pieces } = feedWire(r, header(Opcode.Binary, size, true, KEY), wire, pieceSize);
    assert.equal(progress, true);
    assert.ok(events[0]?.type === "binary" && equals(events[0].data, payload), `pieces of ${pieceSize}`);
    // Without unmaskInPlace the input is never modified: the pieces still hold masked bytes.
    assert.ok(equals(concat(pieces), wire), "pieces unchanged");
  }
});

test("message_reader: inPlace unmasks a large whole payload where it lies (the message views the chunk); small ones and inPlace=false copy", () => {
  for (const size of [16 * 1024, 64 * 1024, 70_000]) {
    const payload = patterned(size, 9);
    const wire = payload.slice();
    applyMask(wire, KEY, 0, size, 0);
    const chunk = new Uint8Array(size + 10);
    chunk.set(wire, 5);
    const queue = new ByteQueue();
    queue.push(chunk);
    queue.skip(5);
    const r = reader({ maxMessageSize: 1 << 20, inPlace: true });
    const h = header(Opcode.Binary, size, true, KEY);
    assert.equal(r.startFrame(h), undefined);
    const events: WsEvent[] = [];
    assert.equal(r.read(queue, h, events), true);
    const data = events[0]?.type === "binary" ? events[0].data : undefined;
    assert.ok(data && equals(data, payload));
    assert.equal(data!.buffer, chunk.buffer, "the message is a view of the received chunk");
    assert.equal(data!.byteOffset, 5);
  }
  // Below 16 KiB, and without the option, the chunk is left as received.
  for (const [size, inPlace] of [[16 * 1024 - 1, true], [64 * 1024, false]] as const) {
    const payload = patterned(size, 1);
    const wire = payload.slice();
    applyMask(wire, KEY, 0, size, 0);
    const sent = wire.slice();
    const queue = new ByteQueue();
    queue.push(wire);
    const r = reader({ maxMessageSize: 1 << 20, inPlace });
    const h = header(Opcode.Binary, size, true, KEY);
    r.startFrame(h);
    const events: WsEvent[] = [];
    assert.equal(r.read(queue, h, events), true);
    assert.ok(events[0]?.type === "binary" && equals(events[0].data, payload));
    assert.notEqual(events[0].data.buffer, wire.buffer);
    assert.ok(equals(wire, sent), `${size} B, inPlace ${inPlace}: the chunk is unchanged`);
  }
  // Large text is unmasked in place too, and still checked: bad UTF-8 fails.
  const bad = new Uint8Array(20_000).fill(0x61);
  bad[19_000] = 0xff;
  applyMask(bad, KEY, 0, bad.length, 0);
  const queue = new ByteQueue();
  queue.push(bad);
  const r = reader({ maxMessageSize: 1 << 20, inPlace: true });
  const h = header(Opcode.Text, bad.length, true, KEY);
  r.startFrame(h);
  const progress = r.read(queue, h, []);
  assert.ok(progress instanceof Error && /UTF-8/i.test(progress.message), String(progress));
});
