import { test } from "node:test";
import assert from "node:assert/strict";
import { asText, drain, latin1 } from "./helpers.ts";
import { plain, splitAt, RFC_KEY, RFC_REQUEST_TEXT as REQUEST_TEXT } from "./helpers.ts";
import { concat } from "../src/core/bytes.ts";
import fc from "fast-check";
import { WsReadyState, SEND_EOF } from "../src/core/protocol.ts";
import { HandshakeError, InvalidStateError } from "../src/core/errors.ts";
import type { WsEvent } from "../src/core/events.ts";
import { acceptResponse, checkRequest, type HandshakeRequest, rejectResponse } from "../src/core/handshake.ts";
import { RequestHeadParser } from "../src/core/http/head.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";

// --- helpers (local to this file) ---


const REQUEST = latin1(REQUEST_TEXT);

const RFC_101_TEXT = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
  "\r\n";

/** RFC 6455 5.7: a single-frame masked text message containing "Hello". */
const MASKED_HELLO = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
/** RFC 6455 5.7: the unmasked "Hello" a server sends. */
const UNMASKED_HELLO = Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);

/** A client frame built by hand (independent of src/frame.ts). */
function maskedFrame(opcode: number, payload: Uint8Array, key: readonly number[] = [0x37, 0xfa, 0x21, 0x3d], fin = true): Uint8Array {
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const n = payload.length;
  if (n < 126) head.push(0x80 | n);
  else if (n < 0x10000) head.push(0x80 | 126, n >>> 8, n & 0xff);
  else head.push(0x80 | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  head.push(...key);
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  for (let i = 0; i < n; i++) out[head.length + i] = payload[i]! ^ key[i % 4]!;
  return out;
}

function maskedText(text: string, key?: readonly number[]): Uint8Array {
  return maskedFrame(0x1, new TextEncoder().encode(text), key);
}

/** The request text with `X-Pad` making the whole head exactly `size` bytes. */
function requestOfSize(size: number): Uint8Array {
  const base = REQUEST_TEXT.length + "X-Pad: ".length + 2;
  assert.ok(size >= base);
  const text = REQUEST_TEXT.slice(0, -2) + "X-Pad: " + "a".repeat(size - base) + "\r\n\r\n";
  assert.equal(text.length, size);
  return latin1(text);
}

function requestWith(edit: (text: string) => string): Uint8Array {
  return latin1(edit(REQUEST_TEXT));
}

function only<T extends WsEvent["type"]>(events: WsEvent[], type: T): Extract<WsEvent, { type: T }> {
  assert.equal(events.length, 1, `expected one event, got ${JSON.stringify(events.map((e) => e.type))}`);
  const event = events[0]!;
  assert.equal(event.type, type);
  return event as Extract<WsEvent, { type: T }>;
}

function assertRfcRequest(request: HandshakeRequest, extraLines: Array<[string, string]> = []): void {
  assert.equal(request.path, "/chat");
  assert.equal(request.host, "server.example.com");
  assert.equal(request.origin, "http://example.com");
  assert.equal(request.key, RFC_KEY);
  assert.deepEqual(request.protocols, ["chat", "superchat"]);
  assert.deepEqual(request.extensions, []);
  assert.equal(request.head.method, "GET");
  assert.equal(request.head.target, "/chat");
  assert.equal(request.head.version, "HTTP/1.1");
  assert.deepEqual([...request.head.headers], [
    ["Host", "server.example.com"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", RFC_KEY],
    ["Origin", "http://example.com"],
    ["Sec-WebSocket-Protocol", "chat, superchat"],
    ["Sec-WebSocket-Version", "13"],
    ...extraLines,
  ]);
}

/** A server that has received the RFC request and accepted it, with its output drained. */
function openServer(): ServerProtocol {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  assert.deepEqual(server.accept(), []);
  drain(server);
  return server;
}

// --- the opening handshake ---

test("ServerConnection reports one request event for a request fed whole", () => {
  const server = new ServerProtocol();
  assert.equal(server.readyState, WsReadyState.CONNECTING);
  assert.equal(server.request, undefined);
  const event = only(server.receiveData(REQUEST), "request");
  assertRfcRequest(event.request);
  assert.equal(server.request, event.request);
  assert.equal(server.readyState, WsReadyState.CONNECTING);
  // Nothing is written before accept() or reject().
  assert.deepEqual(server.dataToSend(), []);
});

test("ServerConnection reports one request event for a request fed one byte at a time", () => {
  const server = new ServerProtocol();
  const events: WsEvent[] = [];
  for (let i = 0; i < REQUEST.length; i++) {
    const got = server.receiveData(REQUEST.subarray(i, i + 1));
    if (i < REQUEST.length - 1) assert.deepEqual(got, [], `event before the last byte (at ${i})`);
    events.push(...got);
  }
  assertRfcRequest(only(events, "request").request);
  assert.equal(server.readyState, WsReadyState.CONNECTING);
});

test("ServerConnection request event matches checkRequest() on the same head", () => {
  const server = new ServerProtocol();
  const { request } = only(server.receiveData(REQUEST), "request");
  const parsed = new RequestHeadParser().push(REQUEST);
  assert.equal(parsed.state, "done");
  if (parsed.state !== "done") return;
  const expected = checkRequest(parsed.head);
  assert.ok(!(expected instanceof HandshakeError));
  assert.deepEqual(
    { ...request, head: [...request.head.headers] },
    { ...expected, head: [...expected.head.headers] },
  );
});

test("accept() queues the exact 101 response and moves CONNECTING to OPEN", () => {
  const server = new ServerProtocol();
  const { request } = only(server.receiveData(REQUEST), "request");
  assert.equal(server.readyState, WsReadyState.CONNECTING);
  assert.deepEqual(server.accept(), []);
  assert.equal(server.readyState, WsReadyState.OPEN);
  const out = drain(server);
  assert.equal(out.eof, false);
  assert.deepEqual(out.bytes, acceptResponse(request));
  assert.equal(asText(out.bytes), RFC_101_TEXT);
});

test("accept({ protocol }) queues the 101 with the chosen subprotocol", () => {
  const server = new ServerProtocol();
  const { request } = only(server.receiveData(REQUEST), "request");
  server.accept({ protocol: "superchat", headers: [["Set-Cookie", "s=1"]] });
  const out = drain(server);
  assert.deepEqual(out.bytes, acceptResponse(request, { protocol: "superchat", headers: [["Set-Cookie", "s=1"]] }));
  assert.equal(
    asText(out.bytes),
    RFC_101_TEXT.slice(0, -2) + "Sec-WebSocket-Protocol: superchat\r\nSet-Cookie: s=1\r\n\r\n",
  );
});

test("accept() with an unoffered subprotocol throws TypeError and leaves the request pending", () => {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  assert.throws(() => server.accept({ protocol: "v2" }), TypeError);
  assert.equal(server.readyState, WsReadyState.CONNECTING);
  assert.deepEqual(server.dataToSend(), []);
  server.accept({ protocol: "chat" });
  assert.equal(server.readyState, WsReadyState.OPEN);
});

test("a frame in the same chunk as the request head comes out of accept()", () => {
  const server = new ServerProtocol();
  const events = server.receiveData(concat([REQUEST, MASKED_HELLO]));
  only(events, "request");
  assert.deepEqual(server.accept(), [{ type: "text", data: "Hello" }]);
  assert.equal(asText(drain(server).bytes), RFC_101_TEXT);
});

test("bytes received between the request event and accept() come out of accept() in order", () => {
  const server = new ServerProtocol();
  const first = maskedText("one");
  const second = maskedText("two", [1, 2, 3, 4]);
  // The head plus half of the first frame, then the rest of it, then the second frame.
  only(server.receiveData(concat([REQUEST, first.subarray(0, 4)])), "request");
  assert.deepEqual(server.receiveData(first.subarray(4)), []);
  assert.deepEqual(server.receiveData(new Uint8Array(0)), []);
  assert.deepEqual(server.receiveData(second), []);
  assert.deepEqual(server.dataToSend(), []);
  assert.deepEqual(server.accept(), [{ type: "text", data: "one" }, { type: "text", data: "two" }]);
  // Later bytes go straight to the frame parser.
  assert.deepEqual(server.receiveData(MASKED_HELLO), [{ type: "text", data: "Hello" }]);
});

test("a ping received before accept() is answered after the 101", () => {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  server.receiveData(maskedFrame(0x9, latin1("hi")));
  const events = server.accept();
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type, "ping");
  const out = drain(server);
  // The 101 first, then the pong (0x8a, unmasked, payload "hi").
  assert.equal(asText(out.bytes), RFC_101_TEXT + "\x8a\x02hi");
});

// --- bad requests ---

test("a bad request yields handshake-error, its response, SEND_EOF and CLOSED", () => {
  const server = new ServerProtocol();
  const bad = requestWith((t) => t.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));
  const { error } = only(server.receiveData(bad), "handshake-error");
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.status, 426);
  assert.equal(error.code, "WS_ERR_INVALID_WS_VERSION");
  assert.equal(server.readyState, WsReadyState.CLOSED);
  const out = drain(server);
  assert.equal(out.eof, true);
  assert.deepEqual(out.bytes, rejectResponse(426, error.message, [["Sec-WebSocket-Version", "13"]]));
  assert.ok(asText(out.bytes).startsWith("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"));
});

test("a POST request is answered 405 with Allow: GET", () => {
  const server = new ServerProtocol();
  const { error } = only(server.receiveData(requestWith((t) => t.replace("GET", "POST"))), "handshake-error");
  assert.equal(error.status, 405);
  const out = drain(server);
  assert.equal(out.eof, true);
  assert.deepEqual(out.bytes, rejectResponse(405, error.message, [["Allow", "GET"]]));
});

test("a request with a bare LF is answered 400", () => {
  const server = new ServerProtocol();
  const { error } = only(server.receiveData(latin1("GET / HTTP/1.1\nHost: a\r\n\r\n")), "handshake-error");
  assert.equal(error.status, 400);
  assert.equal(error.code, "WS_ERR_INVALID_HEAD");
  assert.equal(server.readyState, WsReadyState.CLOSED);
  const out = drain(server);
  assert.equal(out.eof, true);
  assert.deepEqual(out.bytes, rejectResponse(400, error.message));
});

test("after a handshake error later bytes yield no events and queue nothing", () => {
  const server = new ServerProtocol();
  const bad = requestWith((t) => t.replace("Host: server.example.com\r\n", ""));
  const { error } = only(server.receiveData(concat([bad, MASKED_HELLO])), "handshake-error");
  assert.equal(error.status, 400);
  assert.equal(error.code, "WS_ERR_INVALID_HOST");
  drain(server);
  assert.deepEqual(server.receiveData(MASKED_HELLO), []);
  assert.deepEqual(server.receiveData(REQUEST), []);
  assert.deepEqual(server.dataToSend(), []);
  assert.equal(server.readyState, WsReadyState.CLOSED);
  assert.throws(() => server.accept(), InvalidStateError);
});

test("a head over 8 KiB is answered 431, and a head of exactly 8 KiB is accepted", () => {
  const atLimit = new ServerProtocol();
  const { request } = only(atLimit.receiveData(requestOfSize(8192)), "request");
  assertRfcRequest(request, [["X-Pad", "a".repeat(8192 - REQUEST_TEXT.length - 9)]]);

  const server = new ServerProtocol();
  const { error } = only(server.receiveData(requestOfSize(8193)), "handshake-error");
  assert.equal(error.status, 431);
  assert.equal(error.code, "WS_ERR_HEAD_TOO_LARGE");
  const out = drain(server);
  assert.equal(out.eof, true);
  assert.deepEqual(out.bytes, rejectResponse(431, error.message));
  assert.ok(asText(out.bytes).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  assert.equal(server.readyState, WsReadyState.CLOSED);
});

test("an oversized head is refused as soon as the limit is passed, before its end arrives", () => {
  const server = new ServerProtocol();
  const big = requestOfSize(20000);
  assert.deepEqual(server.receiveData(big.subarray(0, 8192)), []);
  const { error } = only(server.receiveData(big.subarray(8192, 8193)), "handshake-error");
  assert.equal(error.status, 431);
});

test("headLimits: { maxHeadSize: 1024 } applies to the request head", () => {
  const ok = new ServerProtocol({ headLimits: { maxHeadSize: 1024 } });
  only(ok.receiveData(requestOfSize(1024)), "request");

  const server = new ServerProtocol({ headLimits: { maxHeadSize: 1024 } });
  const { error } = only(server.receiveData(requestOfSize(1025)), "handshake-error");
  assert.equal(error.status, 431);
  assert.equal(error.code, "WS_ERR_HEAD_TOO_LARGE");
  assert.ok(asText(drain(server).bytes).startsWith("HTTP/1.1 431 "));

  // The default limit accepts the same head.
  only(new ServerProtocol().receiveData(requestOfSize(1025)), "request");
});

test("a request line alone over the head limit is answered 414", () => {
  const server = new ServerProtocol({ headLimits: { maxHeadSize: 100 } });
  const { error } = only(server.receiveData(latin1(`GET /${"a".repeat(200)} HTTP/1.1\r\n`)), "handshake-error");
  assert.equal(error.status, 414);
  assert.equal(error.code, "WS_ERR_URI_TOO_LONG");
  assert.ok(asText(drain(server).bytes).startsWith("HTTP/1.1 414 URI Too Long\r\n"));
});

// --- reject(), misuse ---

test("reject(403, \"nope\") queues the exact 403 response then SEND_EOF", () => {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  server.reject(403, "nope");
  assert.equal(server.readyState, WsReadyState.CLOSED);
  const out = server.dataToSend();
  assert.equal(out.at(-1), SEND_EOF);
  const bytes = concat(out.filter((x): x is Uint8Array => x !== SEND_EOF));
  assert.equal(
    asText(bytes),
    "HTTP/1.1 403 Forbidden\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      "Content-Length: 4\r\n" +
      "Connection: close\r\n" +
      "\r\n" +
      "nope",
  );
});

test("reject() drops frames received before it", () => {
  const server = new ServerProtocol();
  only(server.receiveData(concat([REQUEST, MASKED_HELLO])), "request");
  server.receiveData(MASKED_HELLO);
  server.reject(403);
  assert.deepEqual(server.receiveData(MASKED_HELLO), []);
  const out = drain(server);
  assert.equal(out.eof, true);
  assert.deepEqual(out.bytes, rejectResponse(403, ""));
});

test("accept() twice throws InvalidStateError", () => {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  server.accept();
  drain(server);
  assert.throws(() => server.accept(), InvalidStateError);
  assert.throws(() => server.reject(403), InvalidStateError);
  assert.equal(server.readyState, WsReadyState.OPEN);
  assert.deepEqual(server.dataToSend(), []);
});

test("reject() twice, or accept() after reject(), throws InvalidStateError", () => {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  server.reject(403);
  drain(server);
  assert.throws(() => server.reject(403), InvalidStateError);
  assert.throws(() => server.accept(), InvalidStateError);
  assert.deepEqual(server.dataToSend(), []);
});

test("accept() or reject() before a request throws InvalidStateError", () => {
  const server = new ServerProtocol();
  assert.throws(() => server.accept(), (e: unknown) => e instanceof InvalidStateError && e.code === "WS_ERR_INVALID_STATE");
  assert.throws(() => server.reject(400), InvalidStateError);
  // Also with a partial head received.
  server.receiveData(REQUEST.subarray(0, 20));
  assert.throws(() => server.accept(), InvalidStateError);
  assert.throws(() => server.reject(400), InvalidStateError);
  assert.equal(server.readyState, WsReadyState.CONNECTING);
  assert.deepEqual(server.dataToSend(), []);
});

test("sendText() before accept() throws InvalidStateError", () => {
  const server = new ServerProtocol();
  assert.throws(() => server.sendText("early"), InvalidStateError);
  only(server.receiveData(REQUEST), "request");
  assert.throws(() => server.sendText("early"), InvalidStateError);
  assert.throws(() => server.sendBinary(new Uint8Array(1)), InvalidStateError);
  assert.throws(() => server.sendPing(), InvalidStateError);
  assert.deepEqual(server.dataToSend(), []);
});

test("receiveEof() during the handshake closes, queues SEND_EOF and does not throw", () => {
  const server = new ServerProtocol();
  server.receiveData(REQUEST.subarray(0, 30));
  assert.deepEqual(server.receiveEof(), []);
  assert.equal(server.readyState, WsReadyState.CLOSED);
  assert.deepEqual(server.dataToSend(), [SEND_EOF]);
  assert.deepEqual(server.receiveData(REQUEST.subarray(30)), []);
  assert.throws(() => server.accept(), InvalidStateError);
});

test("receiveEof() after the request event but before accept() takes effect after accept(), behind the earlier bytes", () => {
  const server = new ServerProtocol();
  only(server.receiveData(concat([REQUEST, MASKED_HELLO])), "request");
  assert.deepEqual(server.receiveEof(), []);
  assert.equal(server.readyState, WsReadyState.CONNECTING, "the decision is still pending");
  assert.deepEqual(server.accept(), [
    { type: "text", data: "Hello" },
    { type: "close", code: 1006, reason: "", wasClean: false },
  ]);
  assert.equal(server.readyState, WsReadyState.CLOSED);
  assert.equal(server.dataToSend().at(-1), SEND_EOF);
});

test("receiveEof() after the request event still lets reject() answer and close", () => {
  const server = new ServerProtocol();
  only(server.receiveData(REQUEST), "request");
  assert.deepEqual(server.receiveEof(), []);
  server.reject(403, "no");
  const out = server.dataToSend();
  assert.equal(out.at(-1), SEND_EOF);
  assert.match(new TextDecoder().decode(out[0] as Uint8Array), /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.throws(() => server.accept(), InvalidStateError);
});

// --- after accept ---

test("after accept() the RFC 6455 5.7 masked frame is the text Hello", () => {
  const server = openServer();
  assert.deepEqual(server.receiveData(MASKED_HELLO), [{ type: "text", data: "Hello" }]);
});

test("server sendText(\"Hello\") queues the RFC 6455 5.7 unmasked frame", () => {
  const server = openServer();
  server.sendText("Hello");
  const out = drain(server);
  assert.equal(out.eof, false);
  assert.deepEqual(out.bytes, UNMASKED_HELLO);
});

test("after accept() an unmasked client frame fails the connection with 1002", () => {
  const server = openServer();
  const events = server.receiveData(UNMASKED_HELLO);
  const event = only(events, "error");
  assert.equal(event.error.closeCode, 1002);
  assert.equal(event.error.code, "WS_ERR_EXPECTED_MASK");
  const out = drain(server);
  // The server's close frame (unmasked, code 1002), then it closes the transport.
  assert.equal(out.eof, true);
  assert.equal(out.bytes[0], 0x88);
  assert.equal(out.bytes[1], out.bytes.length - 2); // unmasked, short length
  assert.deepEqual(Array.from(out.bytes.subarray(2, 4)), [0x03, 0xea]);
  assert.deepEqual(out.bytes, event.closeFrame);
});

test("a close frame received before accept() is reported by accept() and echoed after the 101", () => {
  const server = new ServerProtocol();
  only(server.receiveData(concat([REQUEST, maskedFrame(0x8, Uint8Array.of(0x03, 0xe8))])), "request");
  assert.deepEqual(server.accept(), [{ type: "close", code: 1000, reason: "", wasClean: true }]);
  const out = drain(server);
  assert.equal(out.eof, true);
  assert.equal(asText(out.bytes), RFC_101_TEXT + "\x88\x02\x03\xe8");
  assert.equal(server.readyState, WsReadyState.CLOSED);
});

// --- property ---

/** Feeds chunks, accepting as soon as the request event arrives; returns every event in order. */
function runServer(chunks: readonly Uint8Array[]): { events: WsEvent[]; out: { bytes: Uint8Array; eof: boolean } } {
  const server = new ServerProtocol();
  const events: WsEvent[] = [];
  for (const chunk of chunks) {
    for (const event of server.receiveData(chunk)) {
      events.push(event);
      if (event.type === "request") events.push(...server.accept({ protocol: "chat" }));
    }
  }
  return { events, out: drain(server) };
}

const clientFrameArb = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => maskedFrame(0x1, new TextEncoder().encode(s), [9, 8, 7, 6])),
  fc.uint8Array({ maxLength: 300 }).map((b) => maskedFrame(0x2, b, [0xff, 0, 0x80, 1])),
  fc.uint8Array({ maxLength: 125 }).map((b) => maskedFrame(0x9, b)),
  fc.uint8Array({ maxLength: 125 }).map((b) => maskedFrame(0xa, b)),
);

test("ServerConnection gives the same events and output for any split of request plus frames", () => {
  fc.assert(
    fc.property(
      fc.array(clientFrameArb, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (frames, cuts) => {
        const all = concat([REQUEST, ...frames]);
        const whole = runServer([all]);
        const split = runServer(splitAt(all, cuts));
        assert.equal(whole.events[0]?.type, "request");
        assert.equal(whole.events.length, 1 + frames.length);
        assert.deepEqual(plain(split.events), plain(whole.events));
        assert.deepEqual(split.out, whole.out);
      },
    ),
    { numRuns: 150 },
  );
});

test("ServerConnection reports no close event after a refused handshake ends", () => {
  const conn = new ServerProtocol();
  const events = conn.receiveData(new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.equal(events[0]?.type, "handshake-error");
  assert.deepEqual(conn.receiveEof(), []);
});

test("ServerConnection.reject() refuses statuses that cannot refuse a handshake", () => {
  for (const status of [101, 200, 299, 600]) {
    const conn = new ServerProtocol();
    conn.receiveData(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
    assert.throws(() => conn.reject(status), RangeError);
  }
});
