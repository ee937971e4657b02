// readFrameHeader (src/core/frame_reader.ts): one frame header off a byte
// queue, with the rules a header alone can break (RFC 6455 5.2-5.5).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteQueue } from "../src/core/byte_queue.ts";
import { MessageTooBigError, type ProtocolError } from "../src/core/errors.ts";
import { encodeFrameHeader, Opcode } from "../src/core/frame.ts";
import { emptyHeader, type ReadHeader, readFrameHeader, type Side } from "../src/core/frame_reader.ts";

const MAX = 16 * 1024 * 1024;
const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function fresh(): ReadHeader {
  return emptyHeader();
}

/** The header's fields (without the buffer its key is read into). */
function fields(header: ReadHeader): Omit<ReadHeader, "key"> {
  const { key: _key, ...rest } = header;
  return rest;
}

function read(bytes: number[] | Uint8Array, side: Side = "server", allowedRsv = 0, max = MAX): { result: boolean | ProtocolError; header: Omit<ReadHeader, "key">; left: number } {
  const queue = new ByteQueue();
  queue.push(Uint8Array.from(bytes));
  const header = fresh();
  const result = readFrameHeader(queue, side, allowedRsv, max, header);
  return { result, header: fields(header), left: queue.length };
}

function code(result: boolean | ProtocolError): string | boolean {
  return typeof result === "boolean" ? result : result.code;
}

test("frame_reader: the RFC 6455 5.7 headers: 7-bit, 16-bit and 64-bit lengths, masked and not", () => {
  // A single-frame unmasked text message "Hello" (client side reads it).
  let r = read([0x81, 0x05, 0x48], "client");
  assert.equal(r.result, true);
  assert.deepEqual(r.header, { fin: true, rsv: 0, opcode: Opcode.Text, mask: null, length: 5 });
  assert.equal(r.left, 1, "only the header is taken");
  // The same, masked (server side).
  r = read([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f], "server");
  assert.equal(r.result, true);
  assert.deepEqual(r.header.mask, KEY);
  assert.equal(r.header.length, 5);
  // 256 bytes binary in one unmasked frame: 126 + 16-bit length.
  r = read([0x82, 0x7e, 0x01, 0x00], "client");
  assert.deepEqual(r.header, { fin: true, rsv: 0, opcode: Opcode.Binary, mask: null, length: 256 });
  // 64 KiB: 127 + 64-bit length.
  r = read([0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00], "client");
  assert.equal(r.header.length, 65536);
  // A first fragment (FIN clear) and a continuation.
  assert.equal(read([0x01, 0x03], "client").header.fin, false);
  assert.equal(read([0x80, 0x02], "client").header.opcode, Opcode.Continuation);
});

test("frame_reader: an incomplete header needs more bytes at every cut, and takes nothing", () => {
  const full = [0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, ...KEY];
  for (let cut = 0; cut < full.length; cut++) {
    const r = read(full.slice(0, cut), "server");
    assert.equal(r.result, false, `cut at ${cut}`);
    assert.equal(r.left, cut, "nothing consumed");
  }
  assert.equal(read(full, "server").result, true);
});

test("frame_reader: RSV bits fail unless an extension owns them", () => {
  for (const rsv of [0x40, 0x20, 0x10, 0x70]) {
    assert.equal(code(read([0x81 | rsv, 0x80, ...KEY]).result), "WS_ERR_UNEXPECTED_RSV");
  }
  const owned = read([0xc1, 0x80, ...KEY], "server", 0x40);
  assert.equal(owned.result, true);
  assert.equal(owned.header.rsv, 0x40);
  assert.equal(code(read([0xe1, 0x80, ...KEY], "server", 0x40).result), "WS_ERR_UNEXPECTED_RSV", "RSV2 is not owned");
});

test("frame_reader: reserved opcodes fail with 1002, decided from the first two bytes", () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    const r = read([0x80 | opcode, 0x80]); // no mask key yet: decided anyway
    assert.equal(code(r.result), "WS_ERR_INVALID_OPCODE", `opcode ${opcode}`);
    assert.equal((r.result as ProtocolError).closeCode, 1002);
  }
});

test("frame_reader: control frames must be final and at most 125 bytes", () => {
  for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
    assert.equal(code(read([opcode, 0x80, ...KEY]).result), "WS_ERR_FRAGMENTED_CONTROL");
    assert.equal(code(read([0x80 | opcode, 0x80 | 126, 0, 126, ...KEY]).result), "WS_ERR_CONTROL_TOO_LONG");
    assert.equal(read([0x80 | opcode, 0x80 | 125, ...KEY]).result, true);
  }
});

test("frame_reader: a server requires masked frames, a client unmasked ones", () => {
  assert.equal(code(read([0x81, 0x00], "server").result), "WS_ERR_EXPECTED_MASK");
  assert.equal(code(read([0x81, 0x80, ...KEY], "client").result), "WS_ERR_UNEXPECTED_MASK");
});

test("frame_reader: a 64-bit length with its top bit set fails; lengths are checked against the limit before any payload", () => {
  assert.equal(code(read([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], "client").result), "WS_ERR_INVALID_LENGTH");
  const huge = read([0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], "client");
  assert.ok(huge.result instanceof MessageTooBigError);
  assert.equal(huge.result.closeCode, 1009);
  const over = read([0x82, 0x7e, 0x04, 0x01], "client", 0, 1024);
  assert.ok(over.result instanceof MessageTooBigError, "1025 bytes over a limit of 1024");
  assert.equal(read([0x82, 0x7e, 0x04, 0x00], "client", 0, 1024).result, true, "1024 is allowed");
});

test("frame_reader: the mask key is a copy: the received chunk may be reused", () => {
  const chunk = Uint8Array.from([0x81, 0x85, ...KEY]);
  const queue = new ByteQueue();
  queue.push(chunk);
  const header = fresh();
  assert.equal(readFrameHeader(queue, "server", 0, MAX, header), true);
  chunk.fill(0);
  assert.deepEqual(header.mask, KEY);
});

test("frame_reader: any header encodeFrameHeader writes reads back the same, however the bytes are split (property)", () => {
  fc.assert(
    fc.property(
      fc.record({
        fin: fc.boolean(),
        rsv: fc.constantFrom(0, 0x40, 0x20, 0x10, 0x70),
        opcode: fc.constantFrom(0, 1, 2),
        length: fc.oneof(fc.integer({ min: 0, max: 125 }), fc.integer({ min: 126, max: 65535 }), fc.integer({ min: 65536, max: 2 ** 40 })),
        masked: fc.boolean(),
        key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
        cut: fc.nat(),
      }),
      ({ fin, rsv, opcode, length, masked, key, cut }) => {
        const bytes = encodeFrameHeader({ fin, rsv, opcode, length, mask: masked ? key : undefined });
        const queue = new ByteQueue();
        const at = cut % (bytes.length + 1);
        queue.push(bytes.slice(0, at));
        const header = fresh();
        const side: Side = masked ? "server" : "client";
        const first = readFrameHeader(queue, side, 0x70, 2 ** 41, header);
        if (at < bytes.length) {
          assert.equal(first, false);
          queue.push(bytes.slice(at));
          assert.equal(readFrameHeader(queue, side, 0x70, 2 ** 41, header), true);
        } else {
          assert.equal(first, true);
        }
        assert.deepEqual(fields(header), { fin, rsv, opcode, length, mask: masked ? key : null });
        assert.equal(queue.length, 0);
      },
    ),
  );
});

test("frame_reader: random bytes never throw (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 20 }), fc.constantFrom<Side>("server", "client"), (bytes, side) => {
      const queue = new ByteQueue();
      queue.push(bytes);
      const result = readFrameHeader(queue, side, 0, 1024, fresh());
      assert.ok(typeof result === "boolean" || typeof result.closeCode === "number");
    }),
  );
});
