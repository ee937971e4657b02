import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFrame, encodeFrameHeader, encodeTextFrame, isControlOpcode, isKnownOpcode, Opcode } from "../src/core/frame.ts";
import { concat } from "../src/core/bytes.ts";

const hello = new TextEncoder().encode("Hello");

test("encodeFrame() writes the RFC 6455 5.7 unmasked text frame", () => {
  assert.deepEqual(concat(encodeFrame(Opcode.Text, hello)), new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
});

test("encodeFrame() writes the RFC 6455 5.7 masked text frame without touching the payload", () => {
  const payload = hello.slice();
  const frame = concat(encodeFrame(Opcode.Text, payload, { mask: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]) }));
  assert.deepEqual(frame, new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
  assert.deepEqual(payload, hello);
});

test("encodeFrame() writes the RFC 6455 5.7 fragmented frames", () => {
  assert.deepEqual(
    concat(encodeFrame(Opcode.Text, hello.subarray(0, 3), { fin: false })),
    new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c]),
  );
  assert.deepEqual(
    concat(encodeFrame(Opcode.Continuation, hello.subarray(3))),
    new Uint8Array([0x80, 0x02, 0x6c, 0x6f]),
  );
});

test("encodeFrame() writes the RFC 6455 5.7 ping and masked pong", () => {
  assert.deepEqual(concat(encodeFrame(Opcode.Ping, hello)), new Uint8Array([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
  assert.deepEqual(
    concat(encodeFrame(Opcode.Pong, hello, { mask: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]) })),
    new Uint8Array([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
  );
});

test("encodeFrameHeader() uses 16-bit lengths for 256 bytes and 64-bit for 64 KiB (RFC 6455 5.7)", () => {
  const h256 = encodeFrameHeader({ fin: true, rsv: 0, opcode: Opcode.Binary, mask: undefined, length: 256 });
  assert.deepEqual(h256, new Uint8Array([0x82, 0x7e, 0x01, 0x00]));
  const h64k = encodeFrameHeader({ fin: true, rsv: 0, opcode: Opcode.Binary, mask: undefined, length: 65536 });
  assert.deepEqual(h64k, new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]));
});

test("encodeFrameHeader() picks the shortest length form at each boundary", () => {
  const size = (length: number) =>
    encodeFrameHeader({ fin: true, rsv: 0, opcode: Opcode.Binary, mask: undefined, length }).length;
  assert.deepEqual([0, 125, 126, 65535, 65536].map(size), [2, 2, 4, 4, 10]);
  const big = encodeFrameHeader({ fin: true, rsv: 0, opcode: 2, mask: undefined, length: Number.MAX_SAFE_INTEGER });
  assert.deepEqual(big.subarray(2), new Uint8Array([0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.throws(() => encodeFrameHeader({ fin: true, rsv: 0, opcode: 2, mask: undefined, length: 2 ** 53 }), RangeError);
  assert.throws(() => encodeFrameHeader({ fin: true, rsv: 0, opcode: 2, mask: undefined, length: -1 }), RangeError);
});

test("encodeFrame() sets RSV bits and clears FIN as asked", () => {
  const [header] = encodeFrame(Opcode.Text, hello, { fin: false, rsv: 0x40 });
  assert.equal(header![0], 0x41);
});

test("encodeFrame() returns an unmasked payload without copying it", () => {
  const payload = new Uint8Array(4096);
  const chunks = encodeFrame(Opcode.Binary, payload);
  assert.equal(chunks.length, 2);
  assert.equal(chunks[1], payload);
});

test("encodeFrame() masks a large payload into a copy", () => {
  const payload = new Uint8Array(40_000).fill(1);
  const chunks = encodeFrame(Opcode.Binary, payload, { mask: new Uint8Array([1, 1, 1, 1]) });
  assert.equal(chunks.length, 2);
  assert.notEqual(chunks[1], payload);
  assert.deepEqual(chunks[1], new Uint8Array(40_000));
  assert.deepEqual(payload, new Uint8Array(40_000).fill(1));
});

test("encodeFrame() puts small payloads behind their header in one chunk, masked or not", () => {
  const payload = new Uint8Array(1000).fill(5);
  assert.equal(encodeFrame(Opcode.Binary, payload).length, 1);
  const [masked] = encodeFrame(Opcode.Binary, payload, { mask: new Uint8Array([5, 5, 5, 5]) });
  assert.deepEqual(masked!.subarray(8), new Uint8Array(1000));
  assert.deepEqual(payload, new Uint8Array(1000).fill(5), "the caller's bytes are untouched");
});

test("frames encoded one after another never overlap, even when adjacent in memory", () => {
  const frames: Uint8Array[] = [];
  const copies: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) {
    const [frame] = i % 2 ? encodeTextFrame("é".repeat(i % 50)) : encodeFrame(Opcode.Binary, new Uint8Array(i % 300).fill(i & 0xff));
    frames.push(frame!);
    copies.push(frame!.slice());
  }
  frames.forEach((frame, i) => assert.deepEqual(frame, copies[i], `frame ${i} was overwritten`));
});

test("isControlOpcode() and isKnownOpcode() classify all 16 opcodes", () => {
  const known = [];
  const control = [];
  for (let op = 0; op < 16; op++) {
    if (isKnownOpcode(op)) known.push(op);
    if (isControlOpcode(op)) control.push(op);
  }
  assert.deepEqual(known, [0, 1, 2, 8, 9, 10]);
  assert.deepEqual(control, [8, 9, 10, 11, 12, 13, 14, 15]);
});

test("encodeTextFrame() writes header and UTF-8 in one chunk, for every length class", () => {
  for (const text of ["", "Hello", "x".repeat(125), "x".repeat(126), "é".repeat(100), "€".repeat(3000), "y".repeat(70000), "😀".repeat(40000)]) {
    const bytes = new TextEncoder().encode(text);
    assert.deepEqual(concat(encodeTextFrame(text)), concat(encodeFrame(Opcode.Text, bytes)), `length ${text.length}`);
    const key = new Uint8Array([9, 8, 7, 6]);
    assert.deepEqual(
      concat(encodeTextFrame(text, Opcode.Continuation, { mask: key, fin: false })),
      concat(encodeFrame(Opcode.Continuation, bytes, { mask: key, fin: false })),
    );
  }
  assert.equal(encodeTextFrame("x".repeat(70000)).length, 1, "ASCII text needs no second chunk");
});
