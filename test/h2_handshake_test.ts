// The RFC 8441 handshake in the core: the extended CONNECT's checks and
// answers, the client's fields and response check, and the two sans-IO
// protocols carrying frames over a stream's DATA, byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError } from "../src/core/errors.ts";
import {
  buildExtendedConnect,
  checkExtendedConnect,
  checkExtendedConnectResponse,
  extendedConnectResponse,
  type HeaderFields,
  http2Fields,
  http2Refusal,
  HTTP2_VERSION,
  isExtendedConnect,
} from "../src/core/h2_handshake.ts";
import { Http2ClientProtocol } from "../src/core/h2_client_protocol.ts";
import { Http2ServerProtocol } from "../src/core/h2_server_protocol.ts";
import { checkRequest, type HandshakeRequest } from "../src/core/handshake.ts";
import { RequestHeadParser } from "../src/core/http/head.ts";
import { perMessageDeflate } from "../src/core/extensions/permessage_deflate.ts";
import { pakoCodec } from "../src/core/extensions/pako_codec.ts";
import { WsReadyState, SEND_EOF, type OutgoingData } from "../src/core/protocol.ts";
import { InvalidStateError } from "../src/core/errors.ts";

// RFC 8441 section 5.1, the example request.
const RFC_8441_REQUEST: HeaderFields = [
  [":method", "CONNECT"],
  [":protocol", "websocket"],
  [":scheme", "https"],
  [":path", "/chat"],
  [":authority", "server.example.com"],
  ["sec-websocket-protocol", "chat, superchat"],
  ["sec-websocket-extensions", "permessage-deflate"],
  ["sec-websocket-version", "13"],
  ["origin", "http://www.example.com"],
];

function edited(edit: (fields: [string, string][]) => [string, string][]): HeaderFields {
  return edit(RFC_8441_REQUEST.map(([n, v]) => [n, v] as [string, string]));
}

function refusal(fields: HeaderFields): HandshakeError {
  const result = checkExtendedConnect(fields);
  assert.ok(result instanceof HandshakeError, `expected a refusal, got ${JSON.stringify(result)}`);
  return result;
}

function bytesOf(items: OutgoingData[]): Uint8Array[] {
  return items.filter((item): item is Uint8Array => item !== SEND_EOF);
}

test("checkExtendedConnect() accepts RFC 8441's example as the same HandshakeRequest an upgrade gives", () => {
  const request = checkExtendedConnect(RFC_8441_REQUEST);
  assert.ok(!(request instanceof HandshakeError));
  assert.equal(request.path, "/chat");
  assert.equal(request.host, "server.example.com");
  assert.equal(request.origin, "http://www.example.com");
  assert.deepEqual(request.protocols, ["chat", "superchat"]);
  assert.deepEqual(request.extensions, [{ name: "permessage-deflate", params: [] }]);
  assert.equal(request.key, "");
  assert.equal(request.head.method, "CONNECT");
  assert.equal(request.head.version, HTTP2_VERSION);
  assert.equal(request.head.headers.get("sec-websocket-version"), "13");
  assert.equal(request.head.headers.has(":path"), false, "pseudo-headers are not headers");

  // The HTTP/1.1 upgrade of the same request settles the same offers.
  const upgrade = new RequestHeadParser().push(new TextEncoder().encode(
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://www.example.com\r\n" +
      "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Version: 13\r\n\r\n",
  ));
  assert.equal(upgrade.state, "done");
  const h1 = checkRequest((upgrade as { head: HandshakeRequest["head"] }).head) as HandshakeRequest;
  for (const key of ["path", "host", "origin", "protocols", "extensions"] as const) assert.deepEqual(request[key], h1[key], key);
});

test("checkExtendedConnect() refuses what RFC 8441 refuses, each with its status and code", () => {
  const cases: [string, HeaderFields, number, string][] = [
    ["another :protocol (RFC 9220 3: 501)", edited((f) => f.map(([n, v]) => [n, n === ":protocol" ? "webtransport" : v])), 501, "WS_ERR_UNSUPPORTED_PROTOCOL"],
    ["no :protocol", edited((f) => f.filter(([n]) => n !== ":protocol")), 400, "WS_ERR_INVALID_PSEUDO_HEADER"],
    ["no :scheme", edited((f) => f.filter(([n]) => n !== ":scheme")), 400, "WS_ERR_INVALID_PSEUDO_HEADER"],
    ["a :scheme other than http(s)", edited((f) => f.map(([n, v]) => [n, n === ":scheme" ? "ftp" : v])), 400, "WS_ERR_INVALID_PSEUDO_HEADER"],
    ["no :path", edited((f) => f.filter(([n]) => n !== ":path")), 400, "WS_ERR_INVALID_PSEUDO_HEADER"],
    ["a :path not starting with /", edited((f) => f.map(([n, v]) => [n, n === ":path" ? "chat" : v])), 400, "WS_ERR_INVALID_PSEUDO_HEADER"],
    ["no :authority", edited((f) => f.filter(([n]) => n !== ":authority")), 400, "WS_ERR_INVALID_HOST"],
    ["an empty :authority", edited((f) => f.map(([n, v]) => [n, n === ":authority" ? "" : v])), 400, "WS_ERR_INVALID_HOST"],
    ["a repeated pseudo-header", edited((f) => [...f, [":path", "/other"]]), 400, "WS_ERR_INVALID_PSEUDO_HEADER"],
    ["GET with :protocol", edited((f) => f.map(([n, v]) => [n, n === ":method" ? "GET" : v])), 405, "WS_ERR_INVALID_METHOD"],
    ["a malformed subprotocol list", edited((f) => f.map(([n, v]) => [n, n === "sec-websocket-protocol" ? "chat,,super chat" : v])), 400, "WS_ERR_INVALID_PROTOCOL_HEADER"],
    ["a malformed extension offer", edited((f) => f.map(([n, v]) => [n, n === "sec-websocket-extensions" ? "permessage-deflate; =x" : v])), 400, "WS_ERR_INVALID_EXTENSIONS_HEADER"],
  ];
  for (const [what, fields, status, code] of cases) {
    const error = refusal(fields);
    assert.equal(error.status, status, what);
    assert.equal(error.code, code, what);
  }
});

test("checkExtendedConnect() answers a missing or other version with 400 and sec-websocket-version: 13 (no 426 without Upgrade)", () => {
  for (const fields of [
    edited((f) => f.filter(([n]) => n !== "sec-websocket-version")),
    edited((f) => f.map(([n, v]) => [n, n === "sec-websocket-version" ? "8" : v])),
    edited((f) => [...f, ["sec-websocket-version", "13"]]),
  ]) {
    const error = refusal(fields);
    assert.equal(error.status, 400);
    assert.equal(error.code, "WS_ERR_INVALID_WS_VERSION");
    assert.deepEqual(error.headers, [["sec-websocket-version", "13"]]);
  }
});

test("checkExtendedConnect() applies the head limits to the fields (431) and joins cookie crumbs with '; '", () => {
  const many = edited((f) => [...f, ...Array.from({ length: 70 }, (_, i) => [`x-${i}`, "1"] as [string, string])]);
  assert.equal(refusal(many).status, 431);
  const big = edited((f) => [...f, ["x-big", "a".repeat(9000)]]);
  assert.equal(refusal(big).status, 431);
  assert.ok(!(checkExtendedConnect(big, { maxHeadSize: 16384 }) instanceof HandshakeError), "a larger limit lets it in");
  const request = checkExtendedConnect(edited((f) => [...f, ["cookie", "a=1"], ["cookie", "b=2"]])) as HandshakeRequest;
  assert.equal(request.head.headers.get("cookie"), "a=1; b=2");
});

test("checkExtendedConnect() ignores a sec-websocket-key: the :protocol replaced it", () => {
  const request = checkExtendedConnect(edited((f) => [...f, ["sec-websocket-key", "not base64!"]]));
  assert.ok(!(request instanceof HandshakeError));
});

test("isExtendedConnect() tells an extended CONNECT from plain requests", () => {
  assert.equal(isExtendedConnect(RFC_8441_REQUEST), true);
  assert.equal(isExtendedConnect([[":method", "CONNECT"], [":authority", "x:443"]]), false);
  assert.equal(isExtendedConnect([[":method", "GET"], [":path", "/"], [":protocol", "websocket"]]), false);
});

test("extendedConnectResponse() is a 200 with the subprotocol and extensions, and no connection-specific fields", () => {
  const request = checkExtendedConnect(RFC_8441_REQUEST) as HandshakeRequest;
  const head = extendedConnectResponse(request, {
    protocol: "chat",
    extensions: "permessage-deflate",
    headers: [["Set-Cookie", "a=1"], ["Connection", "Upgrade"], ["Upgrade", "websocket"]],
  });
  assert.deepEqual(head, {
    status: 200,
    headers: [["sec-websocket-protocol", "chat"], ["sec-websocket-extensions", "permessage-deflate"], ["set-cookie", "a=1"]],
  });
  assert.throws(() => extendedConnectResponse(request, { protocol: "other" }), TypeError);
  assert.deepEqual(http2Fields([["Keep-Alive", "5"], ["Transfer-Encoding", "chunked"], ["Host", "x"], [":status", "1"], ["X-A", "b"]]), [["x-a", "b"]]);
});

test("http2Refusal() carries the status, a text body and its length", () => {
  const { head, body } = http2Refusal(403, "not you", [["Sec-WebSocket-Version", "13"]]);
  assert.equal(head.status, 403);
  assert.deepEqual(head.headers, [["sec-websocket-version", "13"], ["content-type", "text/plain; charset=utf-8"], ["content-length", "7"]]);
  assert.equal(new TextDecoder().decode(body), "not you");
});

test("buildExtendedConnect() writes RFC 8441's example fields, pseudo-headers first", () => {
  const fields = buildExtendedConnect({
    authority: "server.example.com",
    path: "/chat",
    protocols: ["chat", "superchat"],
    origin: "http://www.example.com",
    headers: [["Authorization", "Bearer x"], ["Connection", "keep-alive"], ["Host", "elsewhere"]],
  });
  assert.deepEqual(fields, [
    [":method", "CONNECT"],
    [":protocol", "websocket"],
    [":scheme", "https"],
    [":path", "/chat"],
    [":authority", "server.example.com"],
    ["sec-websocket-version", "13"],
    ["origin", "http://www.example.com"],
    ["sec-websocket-protocol", "chat, superchat"],
    ["authorization", "Bearer x"],
  ]);
  assert.throws(() => buildExtendedConnect({ authority: "x", protocols: ["a b"] }), TypeError);
  assert.throws(() => buildExtendedConnect({ authority: "x", protocols: ["a", "a"] }), TypeError);
  assert.ok(!(checkExtendedConnect(fields) instanceof HandshakeError), "the server accepts what the client builds");
});

test("checkExtendedConnectResponse() wants 200 and checks the subprotocol and extensions against the offer", () => {
  const sent = { protocols: ["chat"], extensions: ["permessage-deflate"] };
  assert.deepEqual(checkExtendedConnectResponse(200, [[":status", "200"], ["sec-websocket-protocol", "chat"]], sent), { protocol: "chat", extensions: [] });
  const cases: [number, HeaderFields, string][] = [
    [101, [], "WS_ERR_UNEXPECTED_STATUS"],
    [204, [], "WS_ERR_UNEXPECTED_STATUS"],
    [403, [], "WS_ERR_UNEXPECTED_STATUS"],
    [200, [["sec-websocket-protocol", "other"]], "WS_ERR_INVALID_SUBPROTOCOL"],
    [200, [["sec-websocket-extensions", "x-unknown"]], "WS_ERR_INVALID_EXTENSION"],
    [200, [["sec-websocket-extensions", "permessage-deflate, permessage-deflate"]], "WS_ERR_INVALID_EXTENSION"],
  ];
  for (const [status, fields, code] of cases) {
    const result = checkExtendedConnectResponse(status, fields, sent);
    assert.ok(result instanceof HandshakeError, `${status} ${JSON.stringify(fields)}`);
    assert.equal(result.code, code);
    assert.equal(result.status, status);
  }
});

test("Http2ServerProtocol and Http2ClientProtocol: a handshake, then RFC 6455 frames as the stream's DATA, byte for byte", () => {
  const client = new Http2ClientProtocol({ authority: "example.com", path: "/chat", protocols: ["chat"] });
  assert.deepEqual(client.dataToSend(), [], "the request is fields, not bytes");
  const server = new Http2ServerProtocol();
  const [event] = server.receiveRequest(client.requestFields);
  assert.equal(event?.type, "request");
  // DATA that arrives before the decision waits for it.
  assert.equal(client.readyState, WsReadyState.CONNECTING);
  server.accept({ protocol: "chat" });
  const head = server.takeResponse()!;
  assert.deepEqual(head, { status: 200, headers: [["sec-websocket-protocol", "chat"]] });
  assert.equal(server.takeResponse(), undefined, "taken once");
  const [response] = client.receiveResponse(head.status, head.headers);
  assert.equal(response?.type, "response");
  assert.equal(client.readyState, WsReadyState.OPEN);
  assert.equal(client.handshake?.protocol, "chat");

  // Server frames are unmasked: "Hello" is RFC 6455 5.7's 81 05 48 65 6c 6c 6f.
  server.sendText("Hello");
  const [frame] = bytesOf(server.dataToSend());
  assert.deepEqual([...frame!], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  assert.deepEqual(client.receiveData(frame!), [{ type: "text", data: "Hello" }]);
  client.sendBinary(new Uint8Array([1, 2, 3]));
  const [masked] = bytesOf(client.dataToSend());
  assert.equal(masked![0], 0x82);
  assert.equal(masked![1], 0x80 | 3, "client frames are masked, as over HTTP/1.1");
  assert.deepEqual(server.receiveData(masked!), [{ type: "binary", data: new Uint8Array([1, 2, 3]) }]);

  // The closing handshake: the server ends its side (END_STREAM) after the echo.
  client.sendClose(1000, "bye");
  const closeEvents = server.receiveData(bytesOf(client.dataToSend())[0]!);
  assert.deepEqual(closeEvents, [{ type: "close", code: 1000, reason: "bye", wasClean: true }]);
  const out = server.dataToSend();
  assert.equal(out.at(-1), SEND_EOF, "END_STREAM follows the echo");
});

test("Http2ServerProtocol keeps DATA and END_STREAM that come before accept() and processes them in order", () => {
  const server = new Http2ServerProtocol();
  server.receiveRequest(RFC_8441_REQUEST);
  const client = new Http2ClientProtocol({ authority: "x" });
  client.receiveResponse(200, []);
  client.sendText("early");
  const frame = bytesOf(client.dataToSend())[0]!;
  assert.deepEqual(server.receiveData(frame), []);
  assert.deepEqual(server.receiveEof(), []);
  const events = server.accept({});
  assert.deepEqual(events.map((e) => e.type), ["text", "close"]);
  assert.deepEqual(events[1], { type: "close", code: 1006, reason: "", wasClean: false });
});

test("Http2ServerProtocol: refusals queue a head, a text body and END_STREAM; misuse throws", () => {
  const bad = new Http2ServerProtocol();
  const [event] = bad.receiveRequest(edited((f) => f.filter(([n]) => n !== "sec-websocket-version")));
  assert.equal(event?.type, "handshake-error");
  assert.equal(bad.takeResponse()?.status, 400);
  const out = bad.dataToSend();
  assert.equal(out.at(-1), SEND_EOF);
  assert.equal(bad.readyState, WsReadyState.CLOSED);

  const refused = new Http2ServerProtocol();
  refused.receiveRequest(RFC_8441_REQUEST);
  refused.reject(403, "not you", [["x-why", "policy"]]);
  const head = refused.takeResponse()!;
  assert.equal(head.status, 403);
  assert.deepEqual(head.headers[0], ["x-why", "policy"]);
  assert.equal(new TextDecoder().decode(bytesOf(refused.dataToSend())[0]!), "not you");
  assert.throws(() => refused.accept(), InvalidStateError);
  assert.throws(() => refused.receiveRequest(RFC_8441_REQUEST), InvalidStateError);
  const fresh = new Http2ServerProtocol();
  fresh.receiveRequest(RFC_8441_REQUEST);
  assert.throws(() => fresh.reject(200), RangeError);
});

test("Http2 protocols negotiate permessage-deflate as over HTTP/1.1, and compressed frames flow", () => {
  const client = new Http2ClientProtocol({ authority: "x", extensions: [perMessageDeflate({ codec: pakoCodec, threshold: 0 })] });
  assert.ok(client.requestFields.some(([n, v]) => n === "sec-websocket-extensions" && v.startsWith("permessage-deflate")));
  const server = new Http2ServerProtocol();
  server.receiveRequest(client.requestFields);
  server.accept({ extensions: [perMessageDeflate({ codec: pakoCodec, threshold: 0 })] });
  assert.match(server.extensionsHeader, /^permessage-deflate/);
  const head = server.takeResponse()!;
  const [opened] = client.receiveResponse(head.status, head.headers);
  assert.equal(opened?.type, "response");
  server.sendText("compress me ".repeat(20));
  const frame = bytesOf(server.dataToSend())[0]!;
  assert.equal(frame[0]! & 0x40, 0x40, "RSV1: compressed");
  assert.ok(frame.length < 100);
  assert.deepEqual(client.receiveData(frame), [{ type: "text", data: "compress me ".repeat(20) }]);
});

test("Http2ClientProtocol: a refusal, a bad answer, or an early end are handshake errors carrying the status", () => {
  const refused = new Http2ClientProtocol({ authority: "x" });
  const [event] = refused.receiveResponse(403, [["content-type", "text/plain"]]);
  assert.equal(event?.type, "handshake-error");
  assert.equal((event as { error: HandshakeError }).error.status, 403);
  assert.equal(refused.readyState, WsReadyState.CLOSED);
  assert.throws(() => refused.receiveResponse(200, []), InvalidStateError);

  const ended = new Http2ClientProtocol({ authority: "x" });
  const [eof] = ended.receiveEof();
  assert.equal((eof as { error: HandshakeError }).error.code, "WS_ERR_HANDSHAKE_EOF");

  const answeredWrongly = new Http2ClientProtocol({ authority: "x", extensions: [perMessageDeflate()] });
  const [bad] = answeredWrongly.receiveResponse(200, [["sec-websocket-extensions", "permessage-deflate; server_max_window_bits=99"]]);
  assert.equal(bad?.type, "handshake-error");
  // The 200 opened it: the client says why with 1010 before ending the stream.
  const out = answeredWrongly.dataToSend();
  const close = bytesOf(out)[0]!;
  assert.equal(close[0], 0x88);
  assert.equal(out.at(-1), SEND_EOF);
});

test("checkExtendedConnect() never throws on arbitrary fields and answers only with its statuses (property)", () => {
  const name = fc.oneof(
    fc.constantFrom(":method", ":protocol", ":scheme", ":path", ":authority", "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions", "origin", "cookie"),
    fc.string({ maxLength: 12 }),
  );
  const value = fc.oneof(fc.constantFrom("CONNECT", "websocket", "https", "/", "13", "chat", "permessage-deflate"), fc.string({ maxLength: 40 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value), { maxLength: 80 }), (fields) => {
      const result = checkExtendedConnect(fields);
      if (result instanceof HandshakeError) assert.ok([400, 405, 431, 501].includes(result.status), String(result.status));
      else {
        assert.ok(result.path.startsWith("/"));
        assert.ok(result.host.length > 0);
      }
    }),
    { numRuns: 2000 },
  );
});

test("a valid extended CONNECT with shuffled fields is accepted the same (property)", () => {
  fc.assert(
    fc.property(fc.shuffledSubarray([...RFC_8441_REQUEST], { minLength: RFC_8441_REQUEST.length }), (fields) => {
      const request = checkExtendedConnect(fields) as HandshakeRequest;
      assert.ok(!(request instanceof HandshakeError));
      assert.deepEqual(request.protocols, ["chat", "superchat"]);
    }),
  );
});
