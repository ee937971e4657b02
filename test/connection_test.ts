import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WebSocketProtocol, WsReadyState, SEND_EOF, type ProtocolOptions } from "../src/core/protocol.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { concat } from "../src/core/bytes.ts";
import type { WsEvent } from "../src/core/events.ts";
import { InvalidStateError } from "../src/core/errors.ts";

// --- helpers ---

const enc = new TextEncoder();
const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** A frame as a client sends it (masked). */
function clientFrame(opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv?: number } = {}): Uint8Array {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  return concat(encodeFrame(opcode, data, { ...options, mask: KEY }));
}

/** A frame as a server sends it (unmasked). */
function serverFrame(opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv?: number } = {}): Uint8Array {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  return concat(encodeFrame(opcode, data, options));
}

function server(options?: ProtocolOptions): WebSocketProtocol {
  return new WebSocketProtocol("server", options);
}

/** The bytes queued for sending, and whether a half-close follows them. */
function sent(conn: WebSocketProtocol): { bytes: Uint8Array; eof: boolean } {
  const items = conn.dataToSend();
  const eof = items.includes(SEND_EOF);
  return { bytes: concat(items.filter((x): x is Uint8Array => x !== SEND_EOF)), eof };
}

/** Parses what a server sent with a client-side connection. */
function decodeServerOutput(bytes: Uint8Array): WsEvent[] {
  return new WebSocketProtocol("client", { autoPong: false }).receiveData(bytes);
}

function closeFrameBytes(code: number): number[] {
  return [0x88, 0x02, code >> 8, code & 0xff];
}

/** Feeds `bytes` to a new server connection and asserts it fails with `code`. */
function assertFails(bytes: Uint8Array, code: number, options?: ProtocolOptions): WsEvent[] {
  const conn = server(options);
  const events = conn.receiveData(bytes);
  const last = events.at(-1);
  assert.equal(last?.type, "error", `expected an error event, got ${JSON.stringify(events.map((e) => e.type))}`);
  if (last?.type !== "error") throw new Error("unreachable");
  assert.equal(last.error.closeCode, code);
  const out = sent(conn);
  assert.deepEqual([...out.bytes.subarray(0, 4)].slice(2), [code >> 8, code & 0xff]);
  assert.equal(out.bytes[0], 0x88);
  assert.deepEqual(out.bytes, last.closeFrame);
  assert.equal(out.eof, true);
  assert.equal(conn.readyState, WsReadyState.CLOSING);
  return events;
}

// --- RFC 6455 5.7 examples ---

test("Connection (server) reads the RFC 6455 5.7 masked Hello", () => {
  const bytes = new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  const copy = bytes.slice();
  assert.deepEqual(server().receiveData(bytes), [{ type: "text", data: "Hello" }]);
  assert.deepEqual(bytes, copy, "the input chunk is not modified");
});

test("Connection (client) reads the RFC 6455 5.7 unmasked and fragmented Hello", () => {
  const client = new WebSocketProtocol("client");
  assert.deepEqual(client.receiveData(new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])), [{ type: "text", data: "Hello" }]);
  assert.deepEqual(client.receiveData(new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c])), []);
  assert.deepEqual(client.receiveData(new Uint8Array([0x80, 0x02, 0x6c, 0x6f])), [{ type: "text", data: "Hello" }]);
});

test("Connection (client) answers the RFC 6455 5.7 ping with a masked pong of the same payload", () => {
  const client = new WebSocketProtocol("client");
  const events = client.receiveData(new Uint8Array([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
  assert.deepEqual(events, [{ type: "ping", data: enc.encode("Hello") }]);
  const pong = sent(client).bytes;
  assert.deepEqual([pong[0], pong[1]], [0x8a, 0x85]);
  const payload = pong.subarray(6).map((b, i) => b ^ pong[2 + (i & 3)]!);
  assert.deepEqual(payload, enc.encode("Hello"));
});

test("Connection (client) reads 256-byte and 64 KiB binary messages (RFC 6455 5.7)", () => {
  const client = new WebSocketProtocol("client");
  const p256 = new Uint8Array(256).map((_, i) => i);
  const p64k = new Uint8Array(65536).map((_, i) => i * 7);
  const events = client.receiveData(concat([new Uint8Array([0x82, 0x7e, 0x01, 0x00]), p256, new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), p64k]));
  assert.deepEqual(events, [{ type: "binary", data: p256 }, { type: "binary", data: p64k }]);
});

// --- sending ---

test("Connection (server) sends unmasked frames with header and payload as separate chunks", () => {
  const conn = server();
  const payload = new Uint8Array(70000).fill(9);
  conn.sendBinary(payload);
  const chunks = conn.dataToSend();
  assert.equal(chunks.length, 2);
  assert.deepEqual(chunks[0], new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x11, 0x70]));
  assert.equal(chunks[1], payload, "the payload is not copied");
  conn.sendText("Hello");
  assert.deepEqual(sent(conn).bytes, new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
});

test("Connection round-trips every opcode and length class in both directions", () => {
  const lengths = [0, 1, 125, 126, 127, 65535, 65536, 70000];
  for (const length of lengths) {
    const payload = new Uint8Array(length).map((_, i) => (i * 31) & 0xff);
    const text = "é".repeat(Math.floor(length / 2)) + "a".repeat(length % 2);
    for (const [from, to] of [[new WebSocketProtocol("client"), server()], [server(), new WebSocketProtocol("client")]] as const) {
      from.sendBinary(payload);
      from.send(text);
      if (length <= 125) {
        from.sendPing(payload);
        from.sendPong(payload);
      }
      const events = to.receiveData(sent(from).bytes);
      const expected: WsEvent[] = [{ type: "binary", data: payload }, { type: "text", data: text }];
      if (length <= 125) expected.push({ type: "ping", data: payload }, { type: "pong", data: payload });
      assert.deepEqual(events, expected, `length ${length}, ${from.side} to ${to.side}`);
    }
  }
});

test("Connection.sendFragment() sends text then continuation frames, with pings between", () => {
  const conn = server();
  conn.sendFragment("Hel", false);
  conn.sendPing("x");
  assert.throws(() => conn.sendText("no"), InvalidStateError);
  conn.sendFragment("lo", true);
  const bytes = sent(conn).bytes;
  assert.deepEqual(bytes, new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x01, 0x78, 0x80, 0x02, 0x6c, 0x6f]));
  assert.deepEqual(decodeServerOutput(bytes), [{ type: "ping", data: enc.encode("x") }, { type: "text", data: "Hello" }]);
  conn.sendText("ok"); // allowed again after fin
});

test("Connection refuses oversized control payloads and unsendable close codes", () => {
  const conn = server();
  assert.throws(() => conn.sendPing(new Uint8Array(126)), RangeError);
  assert.throws(() => conn.sendClose(1005), RangeError);
  assert.throws(() => conn.sendClose(1006), RangeError);
  assert.throws(() => conn.sendClose(999), RangeError);
  assert.throws(() => conn.sendClose(1000, "x".repeat(124)), RangeError);
  assert.throws(() => conn.sendClose(undefined, "reason without code"), TypeError);
  conn.sendClose(4000, "é".repeat(61)); // 122 bytes of reason fits
});

// --- closing handshake ---

test("Connection (server) echoes the peer's close code and reason, then half-closes", () => {
  const conn = server();
  const events = conn.receiveData(clientFrame(Opcode.Close, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65])));
  assert.deepEqual(events, [{ type: "close", code: 1000, reason: "bye", wasClean: true }]);
  const out = sent(conn);
  assert.deepEqual([...out.bytes], [0x88, 0x05, 0x03, 0xe8, 0x62, 0x79, 0x65]);
  assert.equal(out.eof, true);
  assert.equal(conn.readyState, WsReadyState.CLOSED);
  assert.deepEqual(conn.closeReceived, { code: 1000, reason: "bye" });
  assert.deepEqual(conn.closeSent, { code: 1000, reason: "bye" });
});

test("Connection reports 1005 for an empty close frame and echoes an empty one", () => {
  const conn = server();
  assert.deepEqual(conn.receiveData(clientFrame(Opcode.Close, "")), [{ type: "close", code: 1005, reason: "", wasClean: true }]);
  assert.deepEqual([...sent(conn).bytes], [0x88, 0x00]);
});

test("Connection (client) that starts the close expects the server to end TCP", () => {
  const client = new WebSocketProtocol("client");
  client.sendClose(1001, "going");
  assert.equal(client.readyState, WsReadyState.CLOSING);
  assert.equal(client.closeExpected(), false);
  const events = client.receiveData(serverFrame(Opcode.Close, new Uint8Array([0x03, 0xe9])));
  assert.deepEqual(events, [{ type: "close", code: 1001, reason: "", wasClean: true }]);
  assert.equal(client.readyState, WsReadyState.CLOSED);
  assert.equal(client.closeExpected(), true);
  const out = sent(client);
  assert.equal(out.eof, false, "the client waits for the server to close TCP");
  assert.equal(out.bytes[0], 0x88, "only its own close frame was sent");
  assert.equal(out.bytes.length, 2 + 4 + 2 + 5);
});

test("Connection keeps delivering data after sending close, and sends nothing more", () => {
  const conn = server();
  conn.sendClose(1000);
  assert.throws(() => conn.sendText("late"), InvalidStateError);
  assert.throws(() => conn.sendClose(1000), InvalidStateError);
  sent(conn);
  const events = conn.receiveData(concat([clientFrame(Opcode.Text, "still"), clientFrame(Opcode.Ping, "p")]));
  assert.deepEqual(events, [{ type: "text", data: "still" }, { type: "ping", data: enc.encode("p") }]);
  assert.equal(sent(conn).bytes.length, 0, "no pong after close was sent");
});

test("Connection ignores everything after a close frame", () => {
  const conn = server();
  const events = conn.receiveData(concat([clientFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])), clientFrame(Opcode.Text, "after"), new Uint8Array([0xff, 0xff])]));
  assert.deepEqual(events.map((e) => e.type), ["close"]);
  assert.deepEqual(conn.receiveData(clientFrame(Opcode.Text, "later")), []);
});

test("Connection fails with 1002 on a 1-byte close payload", () => {
  assertFails(clientFrame(Opcode.Close, new Uint8Array([0x03])), 1002);
});

test("Connection fails with 1002 on every close code that is invalid on the wire", () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    assertFails(clientFrame(Opcode.Close, new Uint8Array([code >> 8, code & 0xff])), 1002);
  }
});

test("Connection accepts every close code that is valid on the wire", () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    const conn = server();
    const events = conn.receiveData(clientFrame(Opcode.Close, new Uint8Array([code >> 8, code & 0xff])));
    assert.deepEqual(events, [{ type: "close", code, reason: "", wasClean: true }]);
    assert.deepEqual([...sent(conn).bytes], closeFrameBytes(code));
  }
});

test("Connection fails with 1007 on a close reason that is not UTF-8", () => {
  assertFails(clientFrame(Opcode.Close, new Uint8Array([0x03, 0xe8, 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64])), 1007);
});

test("Connection.receiveEof() reports 1006 when no close frame arrived, and only then", () => {
  const conn = server();
  conn.receiveData(clientFrame(Opcode.Text, "par", { fin: false }));
  assert.deepEqual(conn.receiveEof(), [{ type: "close", code: 1006, reason: "", wasClean: false }]);
  assert.equal(conn.readyState, WsReadyState.CLOSED);
  assert.equal(sent(conn).eof, true);
  assert.deepEqual(conn.receiveEof(), []);
  const closed = server();
  closed.receiveData(clientFrame(Opcode.Close, ""));
  assert.deepEqual(closed.receiveEof(), []);
});

// --- framing errors ---

test("Connection fails with 1002 on RSV bits no extension negotiated", () => {
  for (const rsv of [0x40, 0x20, 0x10]) assertFails(clientFrame(Opcode.Text, "x", { rsv }), 1002);
});

test("Connection fails with 1002 on reserved opcodes", () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) assertFails(clientFrame(opcode, "x"), 1002);
});

test("Connection fails with 1002 on fragmented or oversized control frames", () => {
  assertFails(clientFrame(Opcode.Ping, "x", { fin: false }), 1002);
  const conn = server();
  // The header alone is enough: 126 bytes announced for a ping.
  const events = conn.receiveData(new Uint8Array([0x89, 0xfe, 0x00, 0x7e]));
  assert.equal(events[0]?.type === "error" && events[0].error.closeCode, 1002);
});

test("Connection fails with 1002 on an unmasked client frame and on a masked server frame", () => {
  assertFails(serverFrame(Opcode.Text, "x"), 1002);
  const client = new WebSocketProtocol("client");
  const events = client.receiveData(clientFrame(Opcode.Text, "x"));
  assert.equal(events[0]?.type === "error" && events[0].error.closeCode, 1002);
  assert.equal(client.closeExpected(), true);
  const out = sent(client);
  assert.equal(out.bytes[0], 0x88);
  assert.equal(out.bytes[1]! & 0x80, 0x80, "a client's close frame is masked");
});

test("Connection fails with 1002 on continuation frames out of order", () => {
  assertFails(clientFrame(Opcode.Continuation, "x"), 1002);
  assertFails(concat([clientFrame(Opcode.Text, "a", { fin: false }), clientFrame(Opcode.Binary, "b")]), 1002);
});

test("Connection fails with 1002 when the 64-bit length has its top bit set", () => {
  assertFails(new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]), 1002);
});

test("Connection fails with 1009 on lengths above 2^53 - 1 and above the limit, before the payload arrives", () => {
  assertFails(new Uint8Array([0x82, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), 1009);
  const events = assertFails(new Uint8Array([0x82, 0xfe, 0x04, 0x01, 1, 2, 3, 4]), 1009, { maxMessageSize: 1024 });
  const error = events[0]?.type === "error" ? events[0].error : undefined;
  assert.equal(error?.code, "WS_ERR_MESSAGE_TOO_BIG");
  assert.deepEqual(server({ maxMessageSize: 1024 }).receiveData(clientFrame(Opcode.Binary, new Uint8Array(1024))).map((e) => e.type), ["binary"]);
});

test("Connection fails with 1009 when fragments together pass the limit", () => {
  const conn = server({ maxMessageSize: 1000, fragmentOverhead: 0 });
  assert.deepEqual(conn.receiveData(clientFrame(Opcode.Binary, new Uint8Array(600), { fin: false })), []);
  const events = conn.receiveData(clientFrame(Opcode.Continuation, new Uint8Array(401)));
  assert.equal(events[0]?.type === "error" && events[0].error.closeCode, 1009);
});

test("Connection accepts a message of 65,536 fragments of 64 bytes under the default limit", () => {
  const conn = server();
  const parts: Uint8Array[] = [clientFrame(Opcode.Binary, new Uint8Array(64).fill(1), { fin: false })];
  const middle = clientFrame(Opcode.Continuation, new Uint8Array(64).fill(1), { fin: false });
  for (let i = 1; i < 65535; i++) parts.push(middle);
  parts.push(clientFrame(Opcode.Continuation, new Uint8Array(64).fill(1)));
  const events = conn.receiveData(concat(parts));
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type, "binary");
  assert.equal(events[0]?.type === "binary" && events[0].data.length, 65536 * 64);
});

test("Connection ends a flood of empty fragments with 1009 through per-fragment accounting", () => {
  const conn = server({ maxMessageSize: 64 * 1024 });
  const empty = clientFrame(Opcode.Continuation, new Uint8Array(0), { fin: false });
  const events = conn.receiveData(concat([clientFrame(Opcode.Binary, new Uint8Array(0), { fin: false }), ...Array(2000).fill(empty)]));
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type === "error" && events[0].error.closeCode, 1009);
});

// --- UTF-8 ---

test("Connection fails with 1007 at the first invalid byte, before the frame is complete", () => {
  const conn = server();
  const frame = clientFrame(Opcode.Text, new Uint8Array([0x48, 0x69, 0xf4, 0x90, 0x80, 0x80, 0x21, 0x21]));
  assert.deepEqual(conn.receiveData(frame.subarray(0, 6 + 2)), []);
  const events = conn.receiveData(frame.subarray(8, 6 + 4)); // up to 0x90: never valid after 0xF4
  assert.equal(events[0]?.type === "error" && events[0].error.closeCode, 1007);
});

test("Connection fails with 1007 on invalid UTF-8 split across fragments, at the fragment that breaks it", () => {
  const conn = server();
  assert.deepEqual(conn.receiveData(clientFrame(Opcode.Text, new Uint8Array([0x61, 0xed]), { fin: false })), []);
  const events = conn.receiveData(clientFrame(Opcode.Continuation, new Uint8Array([0xa0, 0x80]), { fin: false }));
  assert.equal(events[0]?.type === "error" && events[0].error.closeCode, 1007);
});

test("Connection fails with 1007 on a text message that ends inside a code point", () => {
  assertFails(clientFrame(Opcode.Text, new Uint8Array([0x61, 0xe2, 0x82])), 1007);
});

test("Connection accepts a code point split across fragments", () => {
  const conn = server();
  const euro = [0xe2, 0x82, 0xac];
  const events = conn.receiveData(concat([
    clientFrame(Opcode.Text, new Uint8Array(euro.slice(0, 1)), { fin: false }),
    clientFrame(Opcode.Continuation, new Uint8Array(euro.slice(1, 2)), { fin: false }),
    clientFrame(Opcode.Continuation, new Uint8Array(euro.slice(2))),
  ]));
  assert.deepEqual(events, [{ type: "text", data: "€" }]);
});

// --- behaviour ---

test("Connection delivers control frames interleaved with a fragmented message", () => {
  const conn = server();
  const events = conn.receiveData(concat([
    clientFrame(Opcode.Text, "Hel", { fin: false }),
    clientFrame(Opcode.Ping, "1"),
    clientFrame(Opcode.Pong, "2"),
    clientFrame(Opcode.Continuation, "lo"),
  ]));
  assert.deepEqual(events, [
    { type: "ping", data: enc.encode("1") },
    { type: "pong", data: enc.encode("2") },
    { type: "text", data: "Hello" },
  ]);
  assert.deepEqual(decodeServerOutput(sent(conn).bytes), [{ type: "pong", data: enc.encode("1") }]);
});

test("Connection with autoPong off reports pings without answering", () => {
  const conn = server({ autoPong: false });
  assert.equal(conn.receiveData(clientFrame(Opcode.Ping, "x"))[0]?.type, "ping");
  assert.equal(sent(conn).bytes.length, 0);
});

test("Connection reports one error and then ignores all input", () => {
  const conn = server();
  const events = conn.receiveData(concat([clientFrame(Opcode.Text, "ok"), new Uint8Array([0x83, 0x80, 0, 0, 0, 0]), clientFrame(Opcode.Text, "lost")]));
  assert.deepEqual(events.map((e) => e.type), ["text", "error"]);
  assert.deepEqual(conn.receiveData(clientFrame(Opcode.Text, "later")), []);
  assert.deepEqual(conn.receiveEof(), []);
});

test("Connection.fail() sends the given close code and stops reading", () => {
  const conn = server();
  conn.fail(1008, "policy");
  const out = sent(conn);
  assert.deepEqual([...out.bytes], [0x88, 0x08, 0x03, 0xf0, ...enc.encode("policy")]);
  assert.equal(out.eof, true);
  assert.deepEqual(conn.receiveData(clientFrame(Opcode.Text, "x")), []);
  assert.throws(() => server().fail(1005), RangeError);
});

test("Connection.bufferedAmount counts queued bytes until dataToSend()", () => {
  const conn = server();
  conn.sendBinary(new Uint8Array(1000));
  assert.equal(conn.bufferedAmount, 1004);
  conn.dataToSend();
  assert.equal(conn.bufferedAmount, 0);
});

// --- properties ---

const validClientStream = fc
  .array(
    fc.oneof(
      fc.record({ kind: fc.constant("text" as const), data: fc.string({ unit: "grapheme", maxLength: 40 }), pieces: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant("binary" as const), data: fc.uint8Array({ maxLength: 300 }), pieces: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant("ping" as const), data: fc.uint8Array({ maxLength: 125 }), pieces: fc.constant(1) }),
    ),
    { maxLength: 8 },
  )
  .map((messages) => {
    const frames: Uint8Array[] = [];
    for (const m of messages) {
      const bytes = typeof m.data === "string" ? enc.encode(m.data) : m.data;
      if (m.kind === "ping") {
        frames.push(clientFrame(Opcode.Ping, bytes));
        continue;
      }
      const step = Math.ceil(bytes.length / m.pieces) || 1;
      for (let at = 0, first = true; first || at < bytes.length; at += step, first = false) {
        const opcode = first ? (m.kind === "text" ? Opcode.Text : Opcode.Binary) : Opcode.Continuation;
        frames.push(clientFrame(opcode, bytes.subarray(at, at + step), { fin: at + step >= bytes.length }));
      }
    }
    frames.push(clientFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])));
    return concat(frames);
  });

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(bytes.slice(last, p));
    last = p;
  }
  chunks.push(bytes.slice(last));
  return chunks;
}

test("Connection gives the same events and output for any split of a valid stream", () => {
  fc.assert(
    fc.property(validClientStream, fc.array(fc.nat(), { maxLength: 20 }), (stream, cuts) => {
      const whole = server();
      const expected = whole.receiveData(stream);
      const expectedOut = sent(whole);
      const split = server();
      const events = splitAt(stream, cuts).flatMap((chunk) => split.receiveData(chunk));
      assert.deepEqual(events, expected);
      assert.deepEqual(sent(split), expectedOut);
      assert.equal(expected.at(-1)?.type, "close");
    }),
    { numRuns: 300 },
  );
});

test("Connection never throws on random bytes and ends in at most one close", () => {
  fc.assert(
    fc.property(fc.constantFrom("server" as const, "client" as const), fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), (side, chunks) => {
      const conn = new WebSocketProtocol(side, { maxMessageSize: 4096 });
      const events = chunks.flatMap((chunk) => conn.receiveData(chunk)).concat(conn.receiveEof());
      const terminal = events.filter((e) => e.type === "close" || e.type === "error");
      assert.ok(terminal.length <= 1);
      const out = conn.dataToSend().filter((x): x is Uint8Array => x !== SEND_EOF);
      const closes = out.filter((chunk) => (chunk[0]! & 0x0f) === Opcode.Close);
      assert.ok(closes.length <= 1, "at most one close frame sent");
    }),
    { numRuns: 2000 },
  );
});

test("Connection never throws on mutated valid streams", () => {
  fc.assert(
    fc.property(validClientStream, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (stream, edits) => {
      const bytes = stream.slice();
      for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
      const conn = server();
      const events = conn.receiveData(bytes).concat(conn.receiveEof());
      assert.ok(events.filter((e) => e.type === "close" || e.type === "error").length <= 1);
    }),
    { numRuns: 1000 },
  );
});

test("Connection reassembles large frames split into any pieces, preallocated or not (masked and unmasked)", () => {
  // 300 KiB is over the preallocation limit: the buffer is made once a quarter of the frame has arrived.
  for (const size of [200 * 1024, 300 * 1024, 1024 * 1024 + 3]) {
    const payload = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
    for (const [side, frame] of [["server", clientFrame(Opcode.Binary, payload)], ["client", serverFrame(Opcode.Binary, payload)]] as const) {
      for (const piece of [1000, 65536, 100_003]) {
        const conn = new WebSocketProtocol(side);
        const events: WsEvent[] = [];
        for (let at = 0; at < frame.length; at += piece) events.push(...conn.receiveData(frame.slice(at, at + piece)));
        assert.equal(events.length, 1, `${side} ${size} in pieces of ${piece}`);
        const event = events[0]!;
        assert.equal(event.type, "binary");
        if (event.type === "binary") assert.deepEqual(event.data, payload, `${side} ${size} in pieces of ${piece}`);
      }
    }
  }
});

test("Connection keeps large split text frames failing at the first invalid byte", () => {
  const text = enc.encode("é".repeat(200 * 1024)); // 400 KiB, over the preallocation limit
  text[1000] = 0xff;
  const frame = clientFrame(Opcode.Text, text);
  const conn = server();
  // The bad byte is in the first piece, long before the quarter that makes the buffer.
  const events = conn.receiveData(frame.subarray(0, 4096));
  assert.equal(events.at(-1)?.type, "error");
  if (events.at(-1)?.type === "error") assert.equal((events.at(-1) as { error: { closeCode: number } }).error.closeCode, 1007);
});
