import { test } from "node:test";
import assert from "node:assert/strict";
import { asText, latin1 } from "./helpers.ts";
import { RFC_KEY, RFC_REQUEST_TEXT } from "./helpers.ts";
import { concat } from "../src/core/bytes.ts";
import { decodeBase64 } from "../src/core/base64.ts";
import { HandshakeError } from "../src/core/errors.ts";
import {
  acceptKey,
  acceptResponse,
  buildRequest,
  checkRequest,
  checkResponse,
  generateKey,
  type HandshakeRequest,
  rejectResponse,
  WEBSOCKET_GUID,
  WEBSOCKET_VERSION,
} from "../src/core/handshake.ts";
import {
  HeaderMap,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
} from "../src/core/http/head.ts";

// --- helpers (local to this file) ---

function parseRequestBytes(bytes: Uint8Array): RequestHead {
  const result = new RequestHeadParser().push(bytes);
  assert.equal(result.state, "done");
  if (result.state !== "done") throw new Error("unreachable");
  assert.equal(result.rest.length, 0);
  return result.head;
}

function parseResponseBytes(bytes: Uint8Array): ResponseHead {
  const result = new ResponseHeadParser().push(bytes);
  assert.equal(result.state, "done");
  if (result.state !== "done") throw new Error("unreachable");
  assert.equal(result.rest.length, 0);
  return result.head;
}

const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// RFC 6455 sections 1.3 / 4.2.1: the example opening handshake.

const RFC_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["Host", "server.example.com"],
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Key", RFC_KEY],
  ["Origin", "http://example.com"],
  ["Sec-WebSocket-Protocol", "chat, superchat"],
  ["Sec-WebSocket-Version", "13"],
];

interface RequestEdit {
  method?: string;
  version?: string;
  target?: string;
  /** Header names (any case) to drop from the RFC example. */
  without?: string[];
  /** Replace the value of an existing header (keeps its position). */
  set?: Record<string, string>;
  /** Lines to append. */
  add?: Array<[string, string]>;
}

/** The RFC example request head, edited. Built directly, so the parser is not under test here. */
function requestHead(edit: RequestEdit = {}): RequestHead {
  const drop = new Set((edit.without ?? []).map((n) => n.toLowerCase()));
  const set = new Map(Object.entries(edit.set ?? {}).map(([n, v]) => [n.toLowerCase(), v] as const));
  const lines: Array<[string, string]> = [];
  for (const [name, value] of RFC_HEADERS) {
    const key = name.toLowerCase();
    if (drop.has(key)) continue;
    lines.push([name, set.get(key) ?? value]);
  }
  lines.push(...(edit.add ?? []));
  return {
    method: edit.method ?? "GET",
    target: edit.target ?? "/chat",
    version: edit.version ?? "HTTP/1.1",
    headers: new HeaderMap(lines),
  };
}

function expectHandshakeError(
  result: unknown,
  status: number,
  code: string,
  headers?: ReadonlyArray<readonly [string, string]>,
): HandshakeError {
  assert.ok(result instanceof HandshakeError, `expected a HandshakeError, got ${JSON.stringify(result)}`);
  assert.equal(result.code, code, result.message);
  assert.equal(result.status, status, result.message);
  if (headers !== undefined) {
    assert.deepEqual(result.headers.map(([n, v]) => [n, v]), headers.map(([n, v]) => [n, v]));
  }
  return result;
}

function expectRequest(result: HandshakeRequest | HandshakeError): HandshakeRequest {
  if (result instanceof HandshakeError) assert.fail(`unexpected HandshakeError ${result.code}: ${result.message}`);
  return result;
}

const UPGRADE_426: Array<[string, string]> = [["Upgrade", "websocket"], ["Connection", "Upgrade"]];
const VERSION_13: Array<[string, string]> = [["Sec-WebSocket-Version", "13"]];

function keyOf(length: number): string {
  const raw = new Uint8Array(length);
  for (let i = 0; i < length; i++) raw[i] = (i * 37 + 11) & 0xff;
  return btoa(String.fromCharCode(...raw));
}

// --- acceptKey / generateKey ---

test("acceptKey() computes the RFC 6455 1.3 example accept value", () => {
  assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  assert.equal(acceptKey(RFC_KEY), RFC_ACCEPT);
});

test("acceptKey() depends on every character of the key", () => {
  assert.notEqual(acceptKey("dGhlIHNhbXBsZSBub25jZR=="), RFC_ACCEPT);
  // The example pair from the Wikipedia WebSocket article, checked with node:crypto.
  assert.equal(acceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
});

test("generateKey() returns base64 of 16 bytes and two keys differ", () => {
  const a = generateKey();
  const b = generateKey();
  assert.equal(a.length, 24);
  assert.equal(decodeBase64(a)?.length, 16);
  assert.equal(decodeBase64(b)?.length, 16);
  assert.notEqual(a, b);
});

// --- checkRequest ---

test("checkRequest() accepts the RFC 6455 example request and reports its parameters", () => {
  const head = parseRequestBytes(latin1(RFC_REQUEST_TEXT));
  const request = expectRequest(checkRequest(head));
  assert.equal(request.path, "/chat");
  assert.equal(request.host, "server.example.com");
  assert.equal(request.origin, "http://example.com");
  assert.equal(request.key, RFC_KEY);
  assert.deepEqual(request.protocols, ["chat", "superchat"]);
  assert.deepEqual(request.extensions, []);
  assert.equal(request.head, head);
});

test("checkRequest() reports origin undefined and no protocols when those headers are absent", () => {
  const request = expectRequest(checkRequest(requestHead({ without: ["Origin", "Sec-WebSocket-Protocol"] })));
  assert.equal(request.origin, undefined);
  assert.deepEqual(request.protocols, []);
});

test("checkRequest() keeps the query in path and parses offered extensions in order", () => {
  const request = expectRequest(checkRequest(requestHead({
    target: "/chat?room=1",
    add: [["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-foo; a=1"]],
  })));
  assert.equal(request.path, "/chat?room=1");
  assert.deepEqual(request.extensions, [
    { name: "permessage-deflate", params: [["client_max_window_bits", true]] },
    { name: "x-foo", params: [["a", "1"]] },
  ]);
});

test("checkRequest() joins Sec-WebSocket-Protocol lines in order", () => {
  const request = expectRequest(checkRequest(requestHead({
    without: ["Sec-WebSocket-Protocol"],
    add: [["Sec-WebSocket-Protocol", "chat"], ["Sec-WebSocket-Protocol", "superchat, v2"]],
  })));
  assert.deepEqual(request.protocols, ["chat", "superchat", "v2"]);
});

test("checkRequest() answers 405 with Allow: GET for method POST", () => {
  expectHandshakeError(checkRequest(requestHead({ method: "POST" })), 405, "WS_ERR_INVALID_METHOD", [["Allow", "GET"]]);
});

test("checkRequest() treats the method case-sensitively (get is not GET)", () => {
  expectHandshakeError(checkRequest(requestHead({ method: "get" })), 405, "WS_ERR_INVALID_METHOD", [["Allow", "GET"]]);
});

test("checkRequest() answers 505 for HTTP/1.0", () => {
  expectHandshakeError(checkRequest(requestHead({ version: "HTTP/1.0" })), 505, "WS_ERR_INVALID_VERSION", []);
});

test("checkRequest() answers 426 with Upgrade: websocket when Upgrade is missing", () => {
  expectHandshakeError(checkRequest(requestHead({ without: ["Upgrade"] })), 426, "WS_ERR_INVALID_UPGRADE", UPGRADE_426);
});

test("checkRequest() answers 426 with Upgrade: websocket for Upgrade: h2c", () => {
  expectHandshakeError(checkRequest(requestHead({ set: { Upgrade: "h2c" } })), 426, "WS_ERR_INVALID_UPGRADE", UPGRADE_426);
});

test("checkRequest() accepts Upgrade: WebSocket case-insensitively and within a list", () => {
  expectRequest(checkRequest(requestHead({ set: { Upgrade: "WebSocket" } })));
  expectRequest(checkRequest(requestHead({ set: { Upgrade: "h2c, websocket" } })));
});

test("checkRequest() answers 426 when Connection is missing or lacks upgrade", () => {
  expectHandshakeError(checkRequest(requestHead({ without: ["Connection"] })), 426, "WS_ERR_INVALID_UPGRADE", UPGRADE_426);
  expectHandshakeError(
    checkRequest(requestHead({ set: { Connection: "keep-alive" } })),
    426,
    "WS_ERR_INVALID_UPGRADE",
    UPGRADE_426,
  );
  // "upgraded" is not the token "upgrade".
  expectHandshakeError(
    checkRequest(requestHead({ set: { Connection: "upgraded" } })),
    426,
    "WS_ERR_INVALID_UPGRADE",
    UPGRADE_426,
  );
});

test("checkRequest() accepts Connection: keep-alive, Upgrade in any case", () => {
  expectRequest(checkRequest(requestHead({ set: { Connection: "keep-alive, Upgrade" } })));
  expectRequest(checkRequest(requestHead({ set: { Connection: "keep-alive, upgrade" } })));
  expectRequest(checkRequest(requestHead({ set: { Connection: "UPGRADE" } })));
  // Split over two lines (RFC 7230 3.2.2).
  expectRequest(checkRequest(requestHead({
    without: ["Connection"],
    add: [["Connection", "keep-alive"], ["Connection", "Upgrade"]],
  })));
});

test("checkRequest() answers 400 for a missing Host", () => {
  expectHandshakeError(checkRequest(requestHead({ without: ["Host"] })), 400, "WS_ERR_INVALID_HOST", []);
});

test("checkRequest() answers 400 for two Host headers", () => {
  expectHandshakeError(
    checkRequest(requestHead({ add: [["Host", "evil.example.com"]] })),
    400,
    "WS_ERR_INVALID_HOST",
    [],
  );
});

test("checkRequest() answers 400 with Sec-WebSocket-Version: 13 when the version is missing", () => {
  expectHandshakeError(
    checkRequest(requestHead({ without: ["Sec-WebSocket-Version"] })),
    400,
    "WS_ERR_INVALID_WS_VERSION",
    VERSION_13,
  );
});

test("checkRequest() answers 426 with Sec-WebSocket-Version: 13 for version 8", () => {
  assert.equal(WEBSOCKET_VERSION, "13");
  expectHandshakeError(
    checkRequest(requestHead({ set: { "Sec-WebSocket-Version": "8" } })),
    426,
    "WS_ERR_INVALID_WS_VERSION",
    VERSION_13,
  );
});

test("checkRequest() answers 426 for two Sec-WebSocket-Version headers", () => {
  expectHandshakeError(
    checkRequest(requestHead({ add: [["Sec-WebSocket-Version", "8"]] })),
    426,
    "WS_ERR_INVALID_WS_VERSION",
    VERSION_13,
  );
});

test("checkRequest() answers 400 for a Sec-WebSocket-Key that is not base64", () => {
  for (const key of ["not base64 at all!!!!!!!", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=!", ""]) {
    expectHandshakeError(
      checkRequest(requestHead({ set: { "Sec-WebSocket-Key": key } })),
      400,
      "WS_ERR_INVALID_KEY",
      [],
    );
  }
});

test("checkRequest() answers 400 for a key of 15 or 17 bytes and accepts 16", () => {
  expectHandshakeError(checkRequest(requestHead({ set: { "Sec-WebSocket-Key": keyOf(15) } })), 400, "WS_ERR_INVALID_KEY", []);
  // 17 bytes encode to 24 characters, like 16: only decoding tells them apart.
  assert.equal(keyOf(17).length, 24);
  expectHandshakeError(checkRequest(requestHead({ set: { "Sec-WebSocket-Key": keyOf(17) } })), 400, "WS_ERR_INVALID_KEY", []);
  assert.equal(expectRequest(checkRequest(requestHead({ set: { "Sec-WebSocket-Key": keyOf(16) } }))).key, keyOf(16));
});

test("checkRequest() answers 400 for a missing key or two keys", () => {
  expectHandshakeError(checkRequest(requestHead({ without: ["Sec-WebSocket-Key"] })), 400, "WS_ERR_INVALID_KEY", []);
  expectHandshakeError(
    checkRequest(requestHead({ add: [["Sec-WebSocket-Key", keyOf(16)]] })),
    400,
    "WS_ERR_INVALID_KEY",
    [],
  );
});

test("checkRequest() answers 400 for a malformed Sec-WebSocket-Protocol", () => {
  for (const value of ["chat superchat", "chat; v=1", "chat/1"]) {
    expectHandshakeError(
      checkRequest(requestHead({ set: { "Sec-WebSocket-Protocol": value } })),
      400,
      "WS_ERR_INVALID_PROTOCOL_HEADER",
      [],
    );
  }
});

test("checkRequest() answers 400 for a malformed Sec-WebSocket-Extensions", () => {
  for (const value of ["permessage-deflate; =1", "a b", 'x; p="two words"', "x;"]) {
    expectHandshakeError(
      checkRequest(requestHead({ add: [["Sec-WebSocket-Extensions", value]] })),
      400,
      "WS_ERR_INVALID_EXTENSIONS_HEADER",
      [],
    );
  }
});

// --- acceptResponse / rejectResponse ---

test("acceptResponse() writes the exact RFC 6455 101 head", () => {
  const request = expectRequest(checkRequest(requestHead()));
  assert.equal(
    asText(acceptResponse(request)),
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
      "\r\n",
  );
});

test("acceptResponse() adds the chosen Sec-WebSocket-Protocol, extensions and extra headers in order", () => {
  const request = expectRequest(checkRequest(requestHead()));
  assert.equal(
    asText(acceptResponse(request, {
      protocol: "chat",
      extensions: "x-foo",
      headers: [["Set-Cookie", "a=1"]],
    })),
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
      "Sec-WebSocket-Protocol: chat\r\n" +
      "Sec-WebSocket-Extensions: x-foo\r\n" +
      "Set-Cookie: a=1\r\n" +
      "\r\n",
  );
});

test("acceptResponse() throws TypeError for a subprotocol the client did not offer", () => {
  const request = expectRequest(checkRequest(requestHead()));
  assert.throws(() => acceptResponse(request, { protocol: "v2" }), TypeError);
  // Subprotocol names are case-sensitive.
  assert.throws(() => acceptResponse(request, { protocol: "Chat" }), TypeError);
});

test("acceptResponse() throws TypeError for an extra header value containing CRLF", () => {
  const request = expectRequest(checkRequest(requestHead()));
  assert.throws(() => acceptResponse(request, { headers: [["Set-Cookie", "a=1\r\nX-Evil: 1"]] }), TypeError);
});

test("rejectResponse(400, \"bad\") writes the exact head and body", () => {
  assert.equal(
    asText(rejectResponse(400, "bad")),
    "HTTP/1.1 400 Bad Request\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      "Content-Length: 3\r\n" +
      "Connection: close\r\n" +
      "\r\n" +
      "bad",
  );
});

test("rejectResponse() puts extra headers first and counts the body in UTF-8 bytes", () => {
  const body = "déjà vu";
  const expected = concat([
    latin1(
      "HTTP/1.1 426 Upgrade Required\r\n" +
        "Sec-WebSocket-Version: 13\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        "Content-Length: 9\r\n" +
        "Connection: close\r\n" +
        "\r\n",
    ),
    new TextEncoder().encode(body),
  ]);
  assert.deepEqual(rejectResponse(426, body, [["Sec-WebSocket-Version", "13"]]), expected);
});

test("rejectResponse() uses the standard reason phrases and Error for unknown statuses", () => {
  const statusLine = (status: number) => asText(rejectResponse(status, "")).split("\r\n")[0];
  assert.equal(statusLine(403), "HTTP/1.1 403 Forbidden");
  assert.equal(statusLine(405), "HTTP/1.1 405 Method Not Allowed");
  assert.equal(statusLine(431), "HTTP/1.1 431 Request Header Fields Too Large");
  assert.equal(statusLine(505), "HTTP/1.1 505 HTTP Version Not Supported");
  assert.equal(statusLine(418), "HTTP/1.1 418 Error");
});

// --- buildRequest ---

test("buildRequest() with a fixed key writes the exact minimal request", () => {
  const { bytes, key } = buildRequest({ host: "example.com", key: RFC_KEY });
  assert.equal(key, RFC_KEY);
  assert.equal(
    asText(bytes),
    "GET / HTTP/1.1\r\n" +
      "Host: example.com\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      "\r\n",
  );
});

test("buildRequest() writes path, origin, protocols, extensions and extra headers in order", () => {
  const { bytes } = buildRequest({
    host: "server.example.com:8080",
    path: "/chat?room=1",
    origin: "http://example.com",
    protocols: ["chat", "superchat"],
    extensions: "permessage-deflate; client_max_window_bits",
    headers: [["Authorization", "Bearer abc"]],
    key: RFC_KEY,
  });
  assert.equal(
    asText(bytes),
    "GET /chat?room=1 HTTP/1.1\r\n" +
      "Host: server.example.com:8080\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      "Origin: http://example.com\r\n" +
      "Sec-WebSocket-Protocol: chat, superchat\r\n" +
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
      "Authorization: Bearer abc\r\n" +
      "\r\n",
  );
});

test("buildRequest() without a key uses a fresh 16-byte key and returns it", () => {
  const a = buildRequest({ host: "example.com" });
  const b = buildRequest({ host: "example.com" });
  assert.equal(decodeBase64(a.key)?.length, 16);
  assert.notEqual(a.key, b.key);
  assert.ok(asText(a.bytes).includes(`\r\nSec-WebSocket-Key: ${a.key}\r\n`));
});

test("buildRequest() output passes checkRequest()", () => {
  const { bytes, key } = buildRequest({ host: "h.example", path: "/x", protocols: ["a", "b"], origin: "https://o.example" });
  const request = expectRequest(checkRequest(parseRequestBytes(bytes)));
  assert.equal(request.key, key);
  assert.equal(request.path, "/x");
  assert.equal(request.host, "h.example");
  assert.equal(request.origin, "https://o.example");
  assert.deepEqual(request.protocols, ["a", "b"]);
});

test("buildRequest() throws TypeError for invalid subprotocol names", () => {
  for (const name of ["", "two words", "a,b", "chat\r\nX-Evil: 1", "ch\"at", "tab\there"]) {
    assert.throws(() => buildRequest({ host: "example.com", protocols: [name] }), TypeError, JSON.stringify(name));
  }
});

test("buildRequest() throws TypeError for subprotocol names that are a token plus list syntax", () => {
  for (const name of ["chat,", " chat", "chat ", ",chat"]) {
    assert.throws(() => buildRequest({ host: "example.com", protocols: [name] }), TypeError, JSON.stringify(name));
  }
});

test("buildRequest() throws TypeError for duplicate subprotocol names", () => {
  assert.throws(() => buildRequest({ host: "example.com", protocols: ["chat", "superchat", "chat"] }), TypeError);
});

test("buildRequest() throws TypeError for header injection", () => {
  assert.throws(() => buildRequest({ host: "example.com", headers: [["X-Foo", "a\r\nX-Evil: 1"]] }), TypeError);
  assert.throws(() => buildRequest({ host: "example.com", headers: [["X-Foo", "a\nb"]] }), TypeError);
  assert.throws(() => buildRequest({ host: "example.com\r\nX-Evil: 1" }), TypeError);
  assert.throws(() => buildRequest({ host: "example.com", origin: "http://a\r\nX-Evil: 1" }), TypeError);
  assert.throws(() => buildRequest({ host: "example.com", headers: [["X Foo", "a"]] }), TypeError);
  assert.throws(() => buildRequest({ host: "example.com", path: "/a b" }), TypeError);
});

// --- checkResponse ---

interface ResponseEdit {
  status?: number;
  reason?: string;
  without?: string[];
  set?: Record<string, string>;
  add?: Array<[string, string]>;
}

function responseHead(edit: ResponseEdit = {}): ResponseHead {
  const base: Array<[string, string]> = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", RFC_ACCEPT],
  ];
  const drop = new Set((edit.without ?? []).map((n) => n.toLowerCase()));
  const set = new Map(Object.entries(edit.set ?? {}).map(([n, v]) => [n.toLowerCase(), v] as const));
  const lines: Array<[string, string]> = [];
  for (const [name, value] of base) {
    const key = name.toLowerCase();
    if (!drop.has(key)) lines.push([name, set.get(key) ?? value]);
  }
  lines.push(...(edit.add ?? []));
  return {
    version: "HTTP/1.1",
    status: edit.status ?? 101,
    reason: edit.reason ?? "Switching Protocols",
    headers: new HeaderMap(lines),
  };
}

const SENT = { key: RFC_KEY, protocols: ["chat", "superchat"], extensions: ["permessage-deflate"] } as const;

test("checkResponse() accepts the RFC 6455 example response and reports the subprotocol", () => {
  const text = "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
    "Sec-WebSocket-Protocol: chat\r\n" +
    "\r\n";
  const result = checkResponse(parseResponseBytes(latin1(text)), SENT);
  assert.deepEqual(result, { protocol: "chat", extensions: [] });
});

test("checkResponse() reports protocol \"\" when the server picks none, and the accepted extensions", () => {
  assert.deepEqual(checkResponse(responseHead(), SENT), { protocol: "", extensions: [] });
  assert.deepEqual(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=10"]] }), SENT),
    { protocol: "", extensions: [{ name: "permessage-deflate", params: [["server_max_window_bits", "10"]] }] },
  );
});

test("checkResponse() accepts Upgrade and Connection case-insensitively", () => {
  assert.deepEqual(
    checkResponse(responseHead({ set: { Upgrade: "WebSocket", Connection: "upgrade" } }), SENT),
    { protocol: "", extensions: [] },
  );
});

test("checkResponse() reports a non-101 status as WS_ERR_UNEXPECTED_STATUS with that status", () => {
  for (const status of [200, 301, 403, 426, 500]) {
    expectHandshakeError(checkResponse(responseHead({ status, reason: "X" }), SENT), status, "WS_ERR_UNEXPECTED_STATUS");
  }
});

test("checkResponse() reports a wrong, missing or repeated accept as WS_ERR_INVALID_ACCEPT", () => {
  expectHandshakeError(
    checkResponse(responseHead({ set: { "Sec-WebSocket-Accept": acceptKey(keyOf(16)) } }), SENT),
    101,
    "WS_ERR_INVALID_ACCEPT",
  );
  expectHandshakeError(checkResponse(responseHead({ without: ["Sec-WebSocket-Accept"] }), SENT), 101, "WS_ERR_INVALID_ACCEPT");
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Accept", RFC_ACCEPT]] }), SENT),
    101,
    "WS_ERR_INVALID_ACCEPT",
  );
  // The accept of the key itself, not the key echoed.
  expectHandshakeError(
    checkResponse(responseHead({ set: { "Sec-WebSocket-Accept": RFC_KEY } }), SENT),
    101,
    "WS_ERR_INVALID_ACCEPT",
  );
});

test("checkResponse() reports a subprotocol that was not offered as WS_ERR_INVALID_SUBPROTOCOL", () => {
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Protocol", "v2"]] }), SENT),
    101,
    "WS_ERR_INVALID_SUBPROTOCOL",
  );
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Protocol", "Chat"]] }), SENT),
    101,
    "WS_ERR_INVALID_SUBPROTOCOL",
  );
});

test("checkResponse() reports two subprotocol values as WS_ERR_INVALID_SUBPROTOCOL", () => {
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Protocol", "chat, superchat"]] }), SENT),
    101,
    "WS_ERR_INVALID_SUBPROTOCOL",
  );
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Protocol", "chat"], ["Sec-WebSocket-Protocol", "chat"]] }), SENT),
    101,
    "WS_ERR_INVALID_SUBPROTOCOL",
  );
});

test("checkResponse() reports a subprotocol when none was offered as WS_ERR_INVALID_SUBPROTOCOL", () => {
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Protocol", "chat"]] }), { key: RFC_KEY, protocols: [], extensions: [] }),
    101,
    "WS_ERR_INVALID_SUBPROTOCOL",
  );
});

test("checkResponse() reports an extension that was not offered as WS_ERR_INVALID_EXTENSION", () => {
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Extensions", "x-webkit-deflate-frame"]] }), SENT),
    101,
    "WS_ERR_INVALID_EXTENSION",
  );
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Extensions", "permessage-deflate"]] }), { key: RFC_KEY, protocols: [], extensions: [] }),
    101,
    "WS_ERR_INVALID_EXTENSION",
  );
});

test("checkResponse() reports a malformed Sec-WebSocket-Extensions as WS_ERR_INVALID_EXTENSIONS_HEADER", () => {
  expectHandshakeError(
    checkResponse(responseHead({ add: [["Sec-WebSocket-Extensions", "permessage-deflate; ="]] }), SENT),
    101,
    "WS_ERR_INVALID_EXTENSIONS_HEADER",
  );
});

test("checkResponse() reports a missing or wrong Upgrade or Connection as WS_ERR_INVALID_UPGRADE", () => {
  expectHandshakeError(checkResponse(responseHead({ without: ["Upgrade"] }), SENT), 101, "WS_ERR_INVALID_UPGRADE");
  expectHandshakeError(checkResponse(responseHead({ set: { Upgrade: "h2c" } }), SENT), 101, "WS_ERR_INVALID_UPGRADE");
  expectHandshakeError(checkResponse(responseHead({ without: ["Connection"] }), SENT), 101, "WS_ERR_INVALID_UPGRADE");
  expectHandshakeError(checkResponse(responseHead({ set: { Connection: "close" } }), SENT), 101, "WS_ERR_INVALID_UPGRADE");
});

test("buildRequest(), checkRequest(), acceptResponse() and checkResponse() agree end to end", () => {
  const { bytes, key } = buildRequest({ host: "example.com", protocols: ["superchat", "chat"] });
  const request = expectRequest(checkRequest(parseRequestBytes(bytes)));
  const response = parseResponseBytes(acceptResponse(request, { protocol: "chat" }));
  assert.deepEqual(
    checkResponse(response, { key, protocols: ["superchat", "chat"], extensions: [] }),
    { protocol: "chat", extensions: [] },
  );
  // The same response does not validate against another key.
  expectHandshakeError(
    checkResponse(response, { key: generateKey(), protocols: ["superchat", "chat"], extensions: [] }),
    101,
    "WS_ERR_INVALID_ACCEPT",
  );
});

test("checkResponse() refuses an extension accepted twice", () => {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const headers = new HeaderMap([
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", acceptKey(key)],
    ["Sec-WebSocket-Extensions", "x-test, x-test"],
  ]);
  const result = checkResponse({ version: "HTTP/1.1", status: 101, reason: "Switching Protocols", headers }, { key, protocols: [], extensions: ["x-test"] });
  assert.ok(result instanceof HandshakeError);
  assert.equal(result.code, "WS_ERR_INVALID_EXTENSION");
});
