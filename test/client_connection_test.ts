import { test } from "node:test";
import assert from "node:assert/strict";
import { asText, drain, latin1 } from "./helpers.ts";
import { plain, splitAt } from "./helpers.ts";
import { concat } from "../src/core/bytes.ts";
import fc from "fast-check";
import { ClientProtocol, type ClientProtocolOptions } from "../src/core/client_protocol.ts";
import { WsReadyState, SEND_EOF } from "../src/core/protocol.ts";
import { HandshakeError, InvalidStateError } from "../src/core/errors.ts";
import type { WsEvent } from "../src/core/events.ts";
import {
  acceptKey,
  acceptResponse,
  type AcceptOptions,
  buildRequest,
  checkRequest,
  type HandshakeRequest,
  rejectResponse,
} from "../src/core/handshake.ts";
import { RequestHeadParser } from "../src/core/http/head.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";

// --- helpers (local to this file) ---

function only<T extends WsEvent["type"]>(events: WsEvent[], type: T): Extract<WsEvent, { type: T }> {
  assert.equal(events.length, 1, `expected one event, got ${JSON.stringify(events.map((e) => e.type))}`);
  const event = events[0]!;
  assert.equal(event.type, type);
  return event as Extract<WsEvent, { type: T }>;
}

/** An unmasked server frame built by hand (independent of src/frame.ts). */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const n = payload.length;
  if (n < 126) head.push(n);
  else if (n < 0x10000) head.push(126, n >>> 8, n & 0xff);
  else head.push(127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  return concat([Uint8Array.from(head), payload]);
}

/** RFC 6455 5.7: the unmasked "Hello" a server sends. */
const UNMASKED_HELLO = Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
/** RFC 6455 5.7: the masked "Hello" a client sends; wrong in this direction. */
const MASKED_HELLO = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);

/** Decodes one client frame (must be masked) from the start of `bytes`. */
function readMaskedFrame(bytes: Uint8Array): { b0: number; key: Uint8Array; payload: Uint8Array; size: number } {
  assert.ok(bytes.length >= 2);
  const b1 = bytes[1]!;
  assert.equal(b1 & 0x80, 0x80, "client frames must have the mask bit set");
  let length = b1 & 0x7f;
  let at = 2;
  if (length === 126) {
    length = (bytes[2]! << 8) | bytes[3]!;
    at = 4;
  } else if (length === 127) {
    length = (bytes[6]! << 24 >>> 0) + (bytes[7]! << 16) + (bytes[8]! << 8) + bytes[9]!;
    at = 10;
  }
  const key = bytes.slice(at, at + 4);
  const payload = bytes.slice(at + 4, at + 4 + length);
  assert.equal(payload.length, length);
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i % 4]!;
  return { b0: bytes[0]!, key, payload, size: at + 4 + length };
}

const FIXED_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const OPTIONS: ClientProtocolOptions = {
  host: "server.example.com",
  path: "/chat",
  origin: "http://example.com",
  protocols: ["chat", "superchat"],
};

/** A client plus the HandshakeRequest a server sees from its request bytes. */
function startClient(options: ClientProtocolOptions = OPTIONS): { client: ClientProtocol; request: HandshakeRequest } {
  const client = new ClientProtocol(options);
  const out = drain(client);
  assert.equal(out.eof, false);
  const parsed = new RequestHeadParser().push(out.bytes);
  assert.equal(parsed.state, "done");
  if (parsed.state !== "done") throw new Error("unreachable");
  assert.equal(parsed.rest.length, 0);
  const request = checkRequest(parsed.head);
  if (request instanceof HandshakeError) assert.fail(`client request refused: ${request.code} ${request.message}`);
  return { client, request };
}

function response101(request: HandshakeRequest, options?: AcceptOptions): Uint8Array {
  return acceptResponse(request, options);
}

function assertHandshakeFailed(client: ClientProtocol, events: WsEvent[], code: string, status: number): HandshakeError {
  const { error } = only(events, "handshake-error");
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.code, code, error.message);
  assert.equal(error.status, status);
  assert.equal(client.readyState, WsReadyState.CLOSED);
  assert.equal(client.handshake, undefined);
  assert.deepEqual(client.dataToSend(), [SEND_EOF]);
  // Nothing more comes out of it.
  assert.deepEqual(client.receiveData(UNMASKED_HELLO), []);
  assert.deepEqual(client.dataToSend(), []);
  assert.throws(() => client.sendText("x"), InvalidStateError);
  return error;
}

// --- the request ---

test("ClientConnection queues a valid request at construction", () => {
  const client = new ClientProtocol(OPTIONS);
  assert.equal(client.readyState, WsReadyState.CONNECTING);
  assert.equal(client.handshake, undefined);
  const out = drain(client);
  assert.equal(out.eof, false);
  const parsed = new RequestHeadParser().push(out.bytes);
  assert.equal(parsed.state, "done");
  if (parsed.state !== "done") return;
  assert.equal(parsed.rest.length, 0);
  const request = checkRequest(parsed.head);
  assert.ok(!(request instanceof HandshakeError), request instanceof HandshakeError ? request.message : "");
  assert.equal(request.path, "/chat");
  assert.equal(request.host, "server.example.com");
  assert.equal(request.origin, "http://example.com");
  assert.deepEqual(request.protocols, ["chat", "superchat"]);
  assert.deepEqual(request.extensions, []);
  // Nothing else is queued until the handshake completes.
  assert.deepEqual(client.dataToSend(), []);
});

test("ClientConnection with a fixed key queues exactly the buildRequest() bytes", () => {
  const options = { ...OPTIONS, key: FIXED_KEY, headers: [["Authorization", "Bearer t"]] as Array<[string, string]> };
  const client = new ClientProtocol(options);
  const out = drain(client);
  assert.deepEqual(out.bytes, buildRequest({ ...options, extensions: undefined }).bytes);
  assert.equal(
    asText(out.bytes),
    "GET /chat HTTP/1.1\r\n" +
      "Host: server.example.com\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${FIXED_KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      "Origin: http://example.com\r\n" +
      "Sec-WebSocket-Protocol: chat, superchat\r\n" +
      "Authorization: Bearer t\r\n" +
      "\r\n",
  );
});

test("two ClientConnections send different keys", () => {
  assert.notEqual(startClient().request.key, startClient().request.key);
});

test("ClientConnection throws TypeError for a malformed extensions offer", () => {
  assert.throws(() => new ClientProtocol({ host: "example.com", extensions: "permessage-deflate; =" }), TypeError);
});

test("sendText() before the response throws InvalidStateError", () => {
  const { client } = startClient();
  assert.throws(() => client.sendText("early"), InvalidStateError);
  assert.throws(() => client.sendPing(), InvalidStateError);
  assert.deepEqual(client.dataToSend(), []);
});

// --- a valid response ---

test("a valid 101 yields a response event with the protocol and opens the connection", () => {
  const { client, request } = startClient();
  const bytes = response101(request, { protocol: "chat" });
  const events = client.receiveData(bytes);
  const event = only(events, "response");
  assert.equal(event.protocol, "chat");
  assert.equal(event.response.status, 101);
  assert.equal(event.response.reason, "Switching Protocols");
  assert.deepEqual([...event.response.headers], [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", acceptKey(request.key)],
    ["Sec-WebSocket-Protocol", "chat"],
  ]);
  assert.equal(client.readyState, WsReadyState.OPEN);
  assert.deepEqual(client.handshake, { protocol: "chat", extensions: [] });
  assert.deepEqual(client.dataToSend(), []);
});

test("a 101 without a subprotocol yields protocol \"\"", () => {
  const { client, request } = startClient();
  assert.equal(only(client.receiveData(response101(request)), "response").protocol, "");
  assert.deepEqual(client.handshake, { protocol: "", extensions: [] });
});

test("an accepted extension the client offered is reported in handshake.extensions", () => {
  const { client, request } = startClient({ host: "example.com", extensions: "x-foo; a=1, x-bar" });
  assert.deepEqual(request.extensions, [{ name: "x-foo", params: [["a", "1"]] }, { name: "x-bar", params: [] }]);
  only(client.receiveData(response101(request, { extensions: "x-bar" })), "response");
  assert.deepEqual(client.handshake, { protocol: "", extensions: [{ name: "x-bar", params: [] }] });
});

test("server frames in the same chunk as the 101 come out after the response event", () => {
  const { client, request } = startClient();
  const chunk = concat([
    response101(request, { protocol: "superchat" }),
    UNMASKED_HELLO,
    serverFrame(0x2, Uint8Array.of(1, 2, 3)),
    serverFrame(0x9, latin1("p")),
  ]);
  const events = client.receiveData(chunk);
  assert.deepEqual(events.map((e) => e.type), ["response", "text", "binary", "ping"]);
  assert.equal(events[0]?.type === "response" && events[0].protocol, "superchat");
  assert.deepEqual(events.slice(1), [
    { type: "text", data: "Hello" },
    { type: "binary", data: Uint8Array.of(1, 2, 3) },
    { type: "ping", data: latin1("p") },
  ]);
  // The automatic pong is masked and carries "p".
  const pong = readMaskedFrame(drain(client).bytes);
  assert.equal(pong.b0, 0x8a);
  assert.deepEqual(pong.payload, latin1("p"));
});

test("a 101 fed one byte at a time yields one response event on the last byte", () => {
  const { client, request } = startClient();
  const bytes = response101(request, { protocol: "chat" });
  for (let i = 0; i < bytes.length - 1; i++) {
    assert.deepEqual(client.receiveData(bytes.subarray(i, i + 1)), [], `event before the last byte (at ${i})`);
    assert.equal(client.readyState, WsReadyState.CONNECTING);
  }
  assert.equal(only(client.receiveData(bytes.subarray(bytes.length - 1)), "response").protocol, "chat");
  assert.equal(client.readyState, WsReadyState.OPEN);
  assert.deepEqual(client.receiveData(UNMASKED_HELLO), [{ type: "text", data: "Hello" }]);
});

// --- bad responses ---

test("a 200 response yields handshake-error WS_ERR_UNEXPECTED_STATUS with status 200", () => {
  const { client } = startClient();
  const events = client.receiveData(latin1("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  assertHandshakeFailed(client, events, "WS_ERR_UNEXPECTED_STATUS", 200);
});

test("a 403 rejection yields handshake-error WS_ERR_UNEXPECTED_STATUS with status 403", () => {
  const { client } = startClient();
  const events = client.receiveData(rejectResponse(403, "nope"));
  assertHandshakeFailed(client, events, "WS_ERR_UNEXPECTED_STATUS", 403);
});

test("a 101 with a wrong accept yields handshake-error WS_ERR_INVALID_ACCEPT with status 101", () => {
  const { client, request } = startClient();
  const wrong = asText(response101(request)).replace(acceptKey(request.key), acceptKey(FIXED_KEY));
  assert.notEqual(request.key, FIXED_KEY);
  assertHandshakeFailed(client, client.receiveData(latin1(wrong)), "WS_ERR_INVALID_ACCEPT", 101);
});

test("a 101 with an unoffered subprotocol yields handshake-error WS_ERR_INVALID_SUBPROTOCOL", () => {
  const { client, request } = startClient();
  const text = asText(response101(request)).replace(/\r\n\r\n$/, "\r\nSec-WebSocket-Protocol: v2\r\n\r\n");
  assertHandshakeFailed(client, client.receiveData(latin1(text)), "WS_ERR_INVALID_SUBPROTOCOL", 101);
});

test("a 101 with a subprotocol when none was offered yields handshake-error WS_ERR_INVALID_SUBPROTOCOL", () => {
  const { client, request } = startClient({ host: "example.com" });
  const text = asText(response101(request)).replace(/\r\n\r\n$/, "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
  assertHandshakeFailed(client, client.receiveData(latin1(text)), "WS_ERR_INVALID_SUBPROTOCOL", 101);
});

test("a 101 with an unoffered extension yields handshake-error WS_ERR_INVALID_EXTENSION", () => {
  const { client, request } = startClient();
  assertHandshakeFailed(
    client,
    client.receiveData(response101(request, { extensions: "permessage-deflate" })),
    "WS_ERR_INVALID_EXTENSION",
    101,
  );
});

test("a 101 without Upgrade: websocket yields handshake-error WS_ERR_INVALID_UPGRADE", () => {
  const { client, request } = startClient();
  const text = asText(response101(request)).replace("Upgrade: websocket\r\n", "");
  assertHandshakeFailed(client, client.receiveData(latin1(text)), "WS_ERR_INVALID_UPGRADE", 101);
});

test("a malformed response head yields handshake-error WS_ERR_INVALID_HEAD", () => {
  const { client } = startClient();
  const { error } = only(client.receiveData(latin1("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\n\r\n")), "handshake-error");
  assert.equal(error.code, "WS_ERR_INVALID_HEAD");
  // No status was received (HandshakeError: "0 when no response arrived").
  assert.equal(error.status, 0);
  assert.equal(client.readyState, WsReadyState.CLOSED);
  assert.deepEqual(client.dataToSend(), [SEND_EOF]);
});

test("a response head over headLimits.maxHeadSize yields handshake-error WS_ERR_HEAD_TOO_LARGE", () => {
  const { client, request } = startClient({ ...OPTIONS, headLimits: { maxHeadSize: 256 } });
  const text = asText(response101(request)).replace(/\r\n\r\n$/, `\r\nX-Pad: ${"a".repeat(300)}\r\n\r\n`);
  const { error } = only(client.receiveData(latin1(text)), "handshake-error");
  assert.equal(error.code, "WS_ERR_HEAD_TOO_LARGE");
  assert.equal(error.status, 0);
  assert.equal(client.readyState, WsReadyState.CLOSED);
  assert.deepEqual(client.dataToSend(), [SEND_EOF]);
});

test("receiveEof() before the response yields handshake-error WS_ERR_HANDSHAKE_EOF with status 0", () => {
  const { client } = startClient();
  const { error } = only(client.receiveEof(), "handshake-error");
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.code, "WS_ERR_HANDSHAKE_EOF");
  assert.equal(error.status, 0);
  assert.equal(client.readyState, WsReadyState.CLOSED);
  assert.deepEqual(client.dataToSend(), [SEND_EOF]);
  assert.deepEqual(client.receiveData(UNMASKED_HELLO), []);
});

test("receiveEof() in the middle of the response head yields WS_ERR_HANDSHAKE_EOF", () => {
  const { client, request } = startClient();
  const bytes = response101(request);
  assert.deepEqual(client.receiveData(bytes.subarray(0, bytes.length - 1)), []);
  assert.equal(only(client.receiveEof(), "handshake-error").error.code, "WS_ERR_HANDSHAKE_EOF");
  assert.equal(client.readyState, WsReadyState.CLOSED);
  assert.deepEqual(client.receiveData(bytes.subarray(bytes.length - 1)), []);
  assert.equal(client.handshake, undefined);
});

// --- frames after the handshake ---

function openClient(): ClientProtocol {
  const { client, request } = startClient();
  only(client.receiveData(response101(request)), "response");
  return client;
}

test("client frames are masked and carry the payload under the key", () => {
  const client = openClient();
  client.sendText("Hello");
  const out = drain(client);
  assert.equal(out.eof, false);
  const frame = readMaskedFrame(out.bytes);
  assert.equal(frame.b0, 0x81);
  assert.equal(out.bytes[1], 0x85);
  assert.equal(frame.size, out.bytes.length);
  assert.equal(new TextDecoder().decode(frame.payload), "Hello");
});

test("two client sends use different masking keys", () => {
  const client = openClient();
  client.sendText("Hello");
  client.sendBinary(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0));
  const out = drain(client).bytes;
  const first = readMaskedFrame(out);
  const second = readMaskedFrame(out.subarray(first.size));
  assert.equal(first.size + second.size, out.length);
  assert.equal(second.b0, 0x82);
  assert.deepEqual(second.payload, new Uint8Array(8));
  assert.notDeepEqual(first.key, second.key);
  // An all-zero payload goes out as the key itself, twice.
  const masked = out.subarray(first.size + 6);
  assert.deepEqual(masked, concat([second.key, second.key]));
});

test("client frames decode on a ServerConnection as what was sent", () => {
  const client = new ClientProtocol({ ...OPTIONS, key: FIXED_KEY });
  const server = new ServerProtocol();
  only(server.receiveData(drain(client).bytes), "request");
  server.accept({ protocol: "chat" });
  assert.equal(only(client.receiveData(drain(server).bytes), "response").protocol, "chat");
  client.sendText("héllo");
  client.sendBinary(Uint8Array.of(9, 8, 7));
  client.sendPing("x");
  assert.deepEqual(server.receiveData(drain(client).bytes), [
    { type: "text", data: "héllo" },
    { type: "binary", data: Uint8Array.of(9, 8, 7) },
    { type: "ping", data: latin1("x") },
  ]);
});

test("a masked frame from the server fails the client with close code 1002", () => {
  const client = openClient();
  const event = only(client.receiveData(MASKED_HELLO), "error");
  assert.equal(event.error.closeCode, 1002);
  assert.equal(event.error.code, "WS_ERR_UNEXPECTED_MASK");
  // The client's close frame is itself masked and carries 1002; the client waits for the server to close TCP.
  const out = drain(client);
  assert.equal(out.eof, false);
  assert.deepEqual(out.bytes, event.closeFrame);
  const close = readMaskedFrame(out.bytes);
  assert.equal(close.b0, 0x88);
  assert.deepEqual(Array.from(close.payload.subarray(0, 2)), [0x03, 0xea]);
  assert.equal(client.readyState, WsReadyState.CLOSING);
  assert.equal(client.closeExpected(), true);
  assert.deepEqual(client.receiveData(UNMASKED_HELLO), []);
});

test("a masked frame in the same chunk as the 101 fails the client after the response event", () => {
  const { client, request } = startClient();
  const events = client.receiveData(concat([response101(request), MASKED_HELLO]));
  assert.deepEqual(events.map((e) => e.type), ["response", "error"]);
  assert.equal(events[1]?.type === "error" && events[1].error.closeCode, 1002);
});

// --- property ---

type ServerOp =
  | { kind: "text"; data: string }
  | { kind: "binary"; data: Uint8Array }
  | { kind: "ping"; data: Uint8Array }
  | { kind: "fragments"; parts: string[] };

const serverOpArb: fc.Arbitrary<ServerOp> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }).map((data): ServerOp => ({ kind: "text", data })),
  fc.uint8Array({ maxLength: 400 }).map((data): ServerOp => ({ kind: "binary", data })),
  fc.uint8Array({ maxLength: 125 }).map((data): ServerOp => ({ kind: "ping", data })),
  fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 4 }).map((parts): ServerOp => ({ kind: "fragments", parts })),
);

/** The server side: feeds the client's request in chunks, accepts on the request event, then sends `ops`. */
function runServer(chunks: readonly Uint8Array[], ops: readonly ServerOp[], closeAtEnd: boolean) {
  const server = new ServerProtocol();
  const events: WsEvent[] = [];
  for (const chunk of chunks) {
    for (const event of server.receiveData(chunk)) {
      events.push(event);
      if (event.type === "request") events.push(...server.accept({ protocol: "superchat" }));
    }
  }
  for (const op of ops) {
    if (op.kind === "text") server.sendText(op.data);
    else if (op.kind === "binary") server.sendBinary(op.data);
    else if (op.kind === "ping") server.sendPing(op.data);
    else op.parts.forEach((part, i) => server.sendFragment(part, i === op.parts.length - 1));
  }
  if (closeAtEnd) server.sendClose(1000, "bye");
  return { events, out: drain(server) };
}

function runClient(chunks: readonly Uint8Array[]): WsEvent[] {
  const client = new ClientProtocol({ ...OPTIONS, key: FIXED_KEY });
  drain(client);
  const events: WsEvent[] = [];
  for (const chunk of chunks) events.push(...client.receiveData(chunk));
  return events;
}

test("any split of the request and of the 101 plus server frames gives the same events as whole feeding", () => {
  const request = drain(new ClientProtocol({ ...OPTIONS, key: FIXED_KEY })).bytes;
  fc.assert(
    fc.property(
      fc.array(serverOpArb, { maxLength: 6 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 16 }),
      (ops, closeAtEnd, requestCuts, responseCuts) => {
        // Server side: the request whole vs split.
        const wholeServer = runServer([request], ops, closeAtEnd);
        const splitServer = runServer(splitAt(request, requestCuts), ops, closeAtEnd);
        assert.deepEqual(wholeServer.events.map((e) => e.type), ["request"]);
        assert.deepEqual(plain(splitServer.events), plain(wholeServer.events));
        assert.deepEqual(splitServer.out, wholeServer.out);

        // Client side: the 101 and the frames whole vs split.
        const stream = wholeServer.out.bytes;
        const whole = runClient([stream]);
        const split = runClient(splitAt(stream, responseCuts));
        const expectedTypes = [
          "response",
          ...ops.map((op) => op.kind === "fragments" ? "text" : op.kind),
          ...(closeAtEnd ? ["close"] : []),
        ];
        assert.deepEqual(whole.map((e) => e.type), expectedTypes);
        assert.deepEqual(plain(split), plain(whole));
      },
    ),
    { numRuns: 150 },
  );
});
