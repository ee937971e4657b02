import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError } from "../src/core/errors.ts";
import {
  DEFAULT_HEAD_LIMITS,
  HeaderMap,
  type HeadParseResult,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
  writeRequestHead,
  writeResponseHead,
} from "../src/core/http/head.ts";

// Test-only Latin-1 helpers: the source of truth is the byte values themselves.
function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

function text(data: Uint8Array): string {
  return Array.from(data, (b) => String.fromCharCode(b)).join("");
}

const RFC_REQUEST = "GET /chat HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Origin: http://example.com\r\n" +
  "Sec-WebSocket-Protocol: chat, superchat\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";

const RFC_RESPONSE = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
  "Sec-WebSocket-Protocol: chat\r\n" +
  "\r\n";

function parseRequest(head: string | Uint8Array, limits?: Parameters<typeof makeRequestParser>[0]) {
  return makeRequestParser(limits).push(typeof head === "string" ? bytes(head) : head);
}

function makeRequestParser(limits?: ConstructorParameters<typeof RequestHeadParser>[0]) {
  return new RequestHeadParser(limits);
}

function done<T>(r: HeadParseResult<T>): Extract<HeadParseResult<T>, { state: "done" }> {
  if (r.state !== "done") {
    assert.fail(`expected done, got ${r.state}${r.state === "error" ? `: ${r.error.message}` : ""}`);
  }
  return r;
}

function failed<T>(r: HeadParseResult<T>): HandshakeError {
  if (r.state !== "error") assert.fail(`expected error, got ${r.state}`);
  assert.ok(r.error instanceof HandshakeError);
  return r.error;
}

function assertInvalid(head: string, messagePart: string): void {
  const error = failed(parseRequest(head));
  assert.equal(error.status, 400);
  assert.equal(error.code, "WS_ERR_INVALID_HEAD");
  assert.ok(error.message.includes(messagePart), `"${error.message}" should mention "${messagePart}"`);
}

function request(extra: string): string {
  return `GET / HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
}

test("RequestHeadParser parses the RFC 6455 section 1.3 client handshake", () => {
  const { head, rest } = done(parseRequest(RFC_REQUEST));
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/chat");
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.headers.size, 7);
  assert.equal(head.headers.get("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  assert.equal(head.headers.get("Sec-WebSocket-Protocol"), "chat, superchat");
  assert.equal(head.headers.get("Origin"), "http://example.com");
  assert.deepEqual([...head.headers].map(([name]) => name), [
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Origin",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Version",
  ]);
  assert.equal(rest.length, 0);
});

test("ResponseHeadParser parses the RFC 6455 section 1.3 101 response", () => {
  const { head, rest } = done(new ResponseHeadParser().push(bytes(RFC_RESPONSE)));
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.status, 101);
  assert.equal(head.reason, "Switching Protocols");
  assert.equal(head.headers.get("SEC-WEBSOCKET-ACCEPT"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert.equal(head.headers.get("sec-websocket-protocol"), "chat");
  assert.equal(rest.length, 0);
});

test("RequestHeadParser returns the bytes after the head intact", () => {
  // A masked "Hello" text frame from RFC 6455 section 5.7 right behind the head.
  const frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
  const input = new Uint8Array([...bytes(RFC_REQUEST), ...frame]);
  const { head, rest } = done(parseRequest(input));
  assert.equal(head.target, "/chat");
  assert.deepEqual([...rest], frame);
});

test("ResponseHeadParser returns the bytes after the head intact when split mid-terminator", () => {
  const parser = new ResponseHeadParser();
  const input = bytes(RFC_RESPONSE + "\x81\x02hi");
  const cut = RFC_RESPONSE.length - 1; // the final LF arrives with the frame
  assert.equal(parser.push(input.subarray(0, cut)).state, "incomplete");
  const { rest } = done(parser.push(input.subarray(cut)));
  assert.deepEqual([...rest], [0x81, 0x02, 0x68, 0x69]);
});

test("RequestHeadParser joins repeated headers and keeps each line", () => {
  const { head } = done(parseRequest(request("X-A: 1\r\nx-a: 2\r\nX-B: 3\r\nX-A: 4\r\n")));
  assert.equal(head.headers.get("x-a"), "1, 2, 4");
  assert.deepEqual(head.headers.getAll("X-A"), ["1", "2", "4"]);
  assert.equal(head.headers.size, 5);
  assert.equal(head.headers.get("missing"), null);
  assert.deepEqual([...head.headers].map(([n]) => n), ["Host", "X-A", "x-a", "X-B", "X-A"]);
});

test("RequestHeadParser strips OWS around values and keeps inner whitespace", () => {
  const { head } = done(parseRequest(request("X-A: \t a \t b \t\r\nX-Empty:\r\nX-Blank: \t \r\n")));
  assert.equal(head.headers.get("x-a"), "a \t b");
  assert.equal(head.headers.get("x-empty"), "");
  assert.equal(head.headers.get("x-blank"), "");
});

test("RequestHeadParser decodes obs-text as Latin-1, not windows-1252", () => {
  const input = new Uint8Array([...bytes("GET / HTTP/1.1\r\nX-A: "), 0x80, 0x9f, 0xe9, 0xff, 13, 10, 13, 10]);
  const { head } = done(parseRequest(input));
  assert.equal(head.headers.get("x-a"), "\u0080\u009f\u00e9\u00ff");
});

test("RequestHeadParser accepts any HTTP/d.d version syntax", () => {
  assert.equal(done(parseRequest("GET / HTTP/1.0\r\n\r\n")).head.version, "HTTP/1.0");
  assert.equal(done(parseRequest("GET / HTTP/2.0\r\n\r\n")).head.version, "HTTP/2.0");
  assert.equal(done(parseRequest("OPTIONS * HTTP/1.1\r\n\r\n")).head.target, "*");
});

test("RequestHeadParser rejects a bare LF", () => {
  assertInvalid("GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF in request line");
  assertInvalid("GET / HTTP/1.1\r\nHost: a\n\r\n", "bare LF in header line");
  assertInvalid("GET / HTTP/1.1\r\nHost: a\r\n\n", "bare LF");
  assertInvalid("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", "bare LF in header line");
});

test("RequestHeadParser rejects a bare CR", () => {
  assertInvalid("GET / HTTP/1.1\rHost: a\r\n\r\n", "bare CR in request line");
  assertInvalid("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "bare CR in header line");
  assertInvalid("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", "bare CR");
});

test("RequestHeadParser rejects obs-fold", () => {
  assertInvalid(request("X-A: 1\r\n 2\r\n"), "obs-fold is not allowed");
  assertInvalid(request("X-A: 1\r\n\t2\r\n"), "obs-fold is not allowed");
});

test("RequestHeadParser rejects whitespace between the field name and the colon", () => {
  assertInvalid(request("X-A : 1\r\n"), "whitespace between header name and colon");
  assertInvalid(request("X-A\t: 1\r\n"), "whitespace between header name and colon");
});

test("RequestHeadParser rejects NUL and other control characters in a value", () => {
  assertInvalid(request("X-A: a\x00b\r\n"), "NUL in header value");
  assertInvalid(request("X-A: a\x0bb\r\n"), "control character 0x0b in header value");
  assertInvalid(request("X-A: a\x7fb\r\n"), "control character 0x7f in header value");
});

test("RequestHeadParser rejects a field name that is not a token", () => {
  assertInvalid(request("X@A: 1\r\n"), "invalid character 0x40 in header name");
  assertInvalid(request("X\u00e9: 1\r\n"), "invalid character 0xe9 in header name");
  assertInvalid(request(": 1\r\n"), "empty header name");
  assertInvalid(request("X-A 1\r\n"), "whitespace between header name and colon");
  assertInvalid(request("X-A\r\n"), "missing colon in header line");
});

test("RequestHeadParser rejects malformed request lines", () => {
  assertInvalid("\r\n\r\n", "empty request line");
  assertInvalid(" GET / HTTP/1.1\r\n\r\n", "method");
  assertInvalid("GET  / HTTP/1.1\r\n\r\n", "extra space");
  assertInvalid("GET /  HTTP/1.1\r\n\r\n", "malformed HTTP version");
  assertInvalid("GET / HTTP/1.1 \r\n\r\n", "malformed HTTP version");
  assertInvalid("GET /\r\n\r\n", "missing HTTP version");
  assertInvalid("GET\r\n\r\n", "missing request target");
  assertInvalid("GE(T / HTTP/1.1\r\n\r\n", "invalid character 0x28 in method");
  assertInvalid("GET /a\tb HTTP/1.1\r\n\r\n", "invalid character 0x09 in request target");
  assertInvalid("GET /a\x7f HTTP/1.1\r\n\r\n", "invalid character 0x7f in request target");
});

test("RequestHeadParser rejects bad HTTP version syntax", () => {
  for (const v of ["http/1.1", "HTTP/1", "HTTP/11", "HTTP/1.10", "HTTP/a.1", "HTTP/1,1", "HTTPS/1.1", "HTTP/1.x"]) {
    assertInvalid(`GET / ${v}\r\n\r\n`, "malformed HTTP version in request line");
  }
});

test("RequestHeadParser accepts a head of exactly maxHeadSize bytes", () => {
  const base = "GET / HTTP/1.1\r\nX: \r\n\r\n";
  const head = base.replace("X: ", "X: " + "a".repeat(100 - base.length));
  assert.equal(head.length, 100);
  assert.equal(done(parseRequest(head, { maxHeadSize: 100 })).head.headers.get("x"), "a".repeat(100 - base.length));
  assert.equal(failed(parseRequest(head, { maxHeadSize: 99 })).status, 431);
});

test("RequestHeadParser rejects a head over the limit in one chunk with 431", () => {
  const input = request(`X-Big: ${"a".repeat(DEFAULT_HEAD_LIMITS.maxHeadSize)}\r\n`);
  const error = failed(parseRequest(input));
  assert.equal(error.status, 431);
  assert.equal(error.code, "WS_ERR_HEAD_TOO_LARGE");
  assert.equal(error.message, "head exceeds the limit of 8192 bytes");
});

test("RequestHeadParser rejects a head over the limit byte by byte at the first excess byte", () => {
  const limit = 64;
  const parser = new RequestHeadParser({ maxHeadSize: limit });
  // A header that never ends: the error must come at byte limit + 1, not later.
  const input = bytes("GET / HTTP/1.1\r\nX: " + "a".repeat(200));
  for (let i = 0; i < limit; i++) {
    assert.equal(parser.push(input.subarray(i, i + 1)).state, "incomplete", `byte ${i}`);
  }
  const error = failed(parser.push(input.subarray(limit, limit + 1)));
  assert.equal(error.status, 431);
});

test("RequestHeadParser refuses an endless head in the chunk that crosses the limit", () => {
  const parser = new RequestHeadParser({ maxHeadSize: 1000 });
  assert.equal(parser.push(bytes("GET / HTTP/1.1\r\n")).state, "incomplete");
  const chunk = bytes("X-Junk: " + "b".repeat(600));
  assert.equal(parser.push(chunk).state, "incomplete");
  assert.equal(failed(parser.push(chunk)).code, "WS_ERR_HEAD_TOO_LARGE");
});

test("RequestHeadParser reports a request line over the limit as 414", () => {
  const error = failed(parseRequest(`GET /${"x".repeat(9000)} HTTP/1.1\r\n\r\n`));
  assert.equal(error.status, 414);
  assert.equal(error.code, "WS_ERR_URI_TOO_LONG");
});

test("ResponseHeadParser reports a head over the limit as 431", () => {
  const parser = new ResponseHeadParser({ maxHeadSize: 20 });
  const error = failed(parser.push(bytes("HTTP/1.1 101 " + "x".repeat(30))));
  assert.equal(error.status, 431);
  assert.equal(error.code, "WS_ERR_HEAD_TOO_LARGE");
});

test("RequestHeadParser rejects more than maxHeaders header lines with 431", () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: ${i}\r\n`).join("");
  const ok = done(parseRequest(`GET / HTTP/1.1\r\n${lines(5)}\r\n`, { maxHeaders: 5 }));
  assert.equal(ok.head.headers.size, 5);
  const error = failed(parseRequest(`GET / HTTP/1.1\r\n${lines(6)}\r\n`, { maxHeaders: 5 }));
  assert.equal(error.status, 431);
  assert.equal(error.code, "WS_ERR_TOO_MANY_HEADERS");
  assert.equal(error.message, "more than 5 header lines");
  const dflt = failed(parseRequest(`GET / HTTP/1.1\r\n${lines(65)}\r\n`));
  assert.equal(dflt.code, "WS_ERR_TOO_MANY_HEADERS");
});

test("RequestHeadParser refuses the excess header line at its first byte", () => {
  const parser = new RequestHeadParser({ maxHeaders: 1 });
  assert.equal(parser.push(bytes("GET / HTTP/1.1\r\nA: 1\r\n")).state, "incomplete");
  assert.equal(failed(parser.push(bytes("B"))).code, "WS_ERR_TOO_MANY_HEADERS");
});

test("RequestHeadParser keeps returning its terminal result", () => {
  const parser = new RequestHeadParser();
  const first = parser.push(bytes(RFC_REQUEST));
  assert.equal(first.state, "done");
  assert.equal(parser.push(bytes("more")), first);
  const bad = new RequestHeadParser();
  const error = bad.push(bytes("GET / HTTP/1.1\n"));
  assert.equal(error.state, "error");
  assert.equal(bad.push(bytes("\r\n\r\n")), error);
});

test("RequestHeadParser returns incomplete for an empty chunk", () => {
  const parser = new RequestHeadParser();
  assert.equal(parser.push(new Uint8Array(0)).state, "incomplete");
  assert.equal(done(parser.push(bytes(RFC_REQUEST))).head.target, "/chat");
});

test("RequestHeadParser copies stored chunks so a reused read buffer cannot corrupt them", () => {
  const parser = new RequestHeadParser();
  const input = bytes(RFC_REQUEST);
  const buffer = new Uint8Array(16);
  let result: HeadParseResult<RequestHead> = { state: "incomplete" };
  for (let i = 0; i < input.length; i += buffer.length) {
    const n = Math.min(buffer.length, input.length - i);
    buffer.set(input.subarray(i, i + n));
    result = parser.push(buffer.subarray(0, n));
    buffer.fill(0x21);
  }
  assert.equal(done(result).head.headers.get("host"), "server.example.com");
});

test("RequestHeadParser constructor rejects invalid limits", () => {
  assert.throws(() => new RequestHeadParser({ maxHeadSize: -1 }), RangeError);
  assert.throws(() => new ResponseHeadParser({ maxHeaders: Number.NaN }), RangeError);
  assert.throws(() => new RequestHeadParser({ maxHeadSize: 1.5 }), RangeError);
  const defaults = new RequestHeadParser({ maxHeadSize: undefined, maxHeaders: 1 });
  assert.equal(defaults.push(bytes(`GET /${"x".repeat(8000)} HTTP/1.1\r\n`)).state, "incomplete");
});

test("ResponseHeadParser tolerates a missing reason phrase", () => {
  const a = done(new ResponseHeadParser().push(bytes("HTTP/1.1 101\r\nUpgrade: websocket\r\n\r\n")));
  assert.equal(a.head.status, 101);
  assert.equal(a.head.reason, "");
  const b = done(new ResponseHeadParser().push(bytes("HTTP/1.1 403 \r\n\r\n")));
  assert.equal(b.head.status, 403);
  assert.equal(b.head.reason, "");
  const c = done(new ResponseHeadParser().push(bytes("HTTP/1.0 404 Not \u00e9 Found\r\n\r\n")));
  assert.equal(c.head.reason, "Not \u00e9 Found");
});

test("ResponseHeadParser rejects malformed status lines", () => {
  const cases: Array<[string, string]> = [
    ["\r\n\r\n", "empty status line"],
    ["HTTP/1.1  101 x\r\n\r\n", "status code is not 3 digits"],
    ["HTTP/1.1 10 x\r\n\r\n", "status code is not 3 digits"],
    ["HTTP/1.1 1011 x\r\n\r\n", "status code is not 3 digits"],
    ["HTTP/1.1 1a1 x\r\n\r\n", "status code is not 3 digits"],
    ["HTTP/1.1\r\n\r\n", "missing status code"],
    ["HTTP/1 101 x\r\n\r\n", "malformed HTTP version in status line"],
    ["ICY 200 OK\r\n\r\n", "malformed HTTP version in status line"],
    ["HTTP/1.1 101 a\x01b\r\n\r\n", "invalid character 0x01 in reason phrase"],
    ["HTTP/1.1 101 x\r\nA : b\r\n\r\n", "whitespace between header name and colon"],
    ["HTTP/1.1 101 x\nA: b\r\n\r\n", "bare LF in status line"],
  ];
  for (const [input, message] of cases) {
    const error = failed(new ResponseHeadParser().push(bytes(input)));
    assert.equal(error.status, 400, input);
    assert.ok(error.message.includes(message), `${JSON.stringify(input)}: ${error.message}`);
  }
});

test("writeRequestHead produces the RFC 6455 section 1.3 request bytes", () => {
  const { head } = done(parseRequest(RFC_REQUEST));
  const out = writeRequestHead({ method: "GET", target: "/chat", headers: head.headers });
  assert.equal(text(out), RFC_REQUEST);
});

test("writeResponseHead produces the RFC 6455 section 1.3 response bytes", () => {
  const out = writeResponseHead({
    status: 101,
    reason: "Switching Protocols",
    headers: [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
      ["Sec-WebSocket-Protocol", "chat"],
    ],
  });
  assert.equal(text(out), RFC_RESPONSE);
  assert.equal(text(writeResponseHead({ status: 400, reason: "", headers: [] })), "HTTP/1.1 400 \r\n\r\n");
});

test("writeRequestHead encodes values as Latin-1", () => {
  const out = writeRequestHead({ method: "GET", target: "/", headers: [["X", "\u00e9\u00ff"]] });
  assert.deepEqual([...out.subarray(-6)], [0xe9, 0xff, 13, 10, 13, 10]);
});

test("writeRequestHead throws TypeError on header injection attempts", () => {
  const bad: Array<[string, string]> = [
    ["X-A", "1\r\nX-Injected: 2"],
    ["X-A", "1\nX-Injected: 2"],
    ["X-A", "1\rX"],
    ["X-A", "a\x00b"],
    ["X-A", "\u0100"],
    ["X-A", "\u{1F600}"],
    ["X-A\r\nX-B", "1"],
    ["X A", "1"],
    ["X-A:", "1"],
    ["", "1"],
  ];
  for (const header of bad) {
    assert.throws(() => writeRequestHead({ method: "GET", target: "/", headers: [header] }), TypeError, JSON.stringify(header));
    assert.throws(() => writeResponseHead({ status: 101, reason: "x", headers: [header] }), TypeError, JSON.stringify(header));
  }
  assert.throws(() => writeRequestHead({ method: "GET /x HTTP/1.1\r\n", target: "/", headers: [] }), TypeError);
  assert.throws(() => writeRequestHead({ method: "GET", target: "/ HTTP/1.1\r\nX: y", headers: [] }), TypeError);
  assert.throws(() => writeRequestHead({ method: "GET", target: "", headers: [] }), TypeError);
  assert.throws(() => writeResponseHead({ status: 101, reason: "OK\r\nX: y", headers: [] }), TypeError);
  assert.throws(() => writeResponseHead({ status: 99, reason: "x", headers: [] }), TypeError);
  assert.throws(() => writeResponseHead({ status: 101.5, reason: "x", headers: [] }), TypeError);
});

test("HeaderMap is case-insensitive and keeps order and spelling", () => {
  const h = new HeaderMap([["Sec-WebSocket-Protocol", "a"], ["Host", "h"], ["sec-websocket-protocol", "b"]]);
  assert.equal(h.get("SEC-WEBSOCKET-PROTOCOL"), "a, b");
  assert.ok(h.has("host"));
  h.set("SEC-WebSocket-Protocol", "c");
  assert.deepEqual([...h], [["SEC-WebSocket-Protocol", "c"], ["Host", "h"]]);
  h.set("X-New", "n");
  h.append("x-new", "m");
  assert.deepEqual(h.getAll("X-NEW"), ["n", "m"]);
  h.delete("X-New");
  assert.equal(h.has("x-new"), false);
  assert.equal(h.size, 2);
  assert.equal(h.get("x-new"), null);
  assert.deepEqual(h.getAll("x-new"), []);
});

// ---- properties -------------------------------------------------------------

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });
const targetChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const valueChar = fc.oneof(
  fc.constant("\t"),
  fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)),
);
const trimmedValue = fc.string({ unit: valueChar, maxLength: 20 }).map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ""));
const headerList = fc.array(fc.tuple(token, trimmedValue), { maxLength: 10 });

function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(data.subarray(last, p));
    last = p;
  }
  out.push(data.subarray(last));
  return out;
}

/** Pushes chunks until the head is done; later chunks are appended to `rest`, as a caller would route them. */
function feed<T>(parser: { push(c: Uint8Array): HeadParseResult<T> }, chunks: Uint8Array[]): HeadParseResult<T> {
  let result: HeadParseResult<T> = { state: "incomplete" };
  const after: number[] = [];
  for (const chunk of chunks) {
    if (result.state === "done") after.push(...chunk);
    else if (result.state === "incomplete") result = parser.push(chunk);
  }
  if (result.state !== "done") return result;
  return { ...result, rest: new Uint8Array([...result.rest, ...after]) };
}

function summary(r: HeadParseResult<RequestHead> | HeadParseResult<ResponseHead>): unknown {
  if (r.state === "incomplete") return r;
  if (r.state === "error") return { state: r.state, status: r.error.status, code: r.error.code, message: r.error.message };
  return { state: r.state, head: { ...r.head, headers: [...r.head.headers] }, rest: [...r.rest] };
}

test("RequestHeadParser gives the same head and rest for any split of a valid head", () => {
  fc.assert(
    fc.property(
      token,
      fc.string({ unit: targetChar, maxLength: 30 }),
      headerList,
      fc.uint8Array({ maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.boolean(),
      (method, target, headers, tail, cuts, oneByte) => {
        const head = writeRequestHead({ method, target: "/" + target, headers });
        const input = new Uint8Array([...head, ...tail]);
        const whole = done(new RequestHeadParser().push(input));
        assert.equal(whole.head.method, method);
        assert.equal(whole.head.target, "/" + target);
        assert.deepEqual([...whole.head.headers], headers);
        assert.deepEqual([...whole.rest], [...tail]);
        const chunks = oneByte ? Array.from(input, (b) => Uint8Array.of(b)) : splitAt(input, cuts);
        assert.deepEqual(summary(feed(new RequestHeadParser(), chunks)), summary(whole));
      },
    ),
  );
});

test("ResponseHeadParser gives the same head for any split of a valid head", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 999 }),
      fc.string({ unit: valueChar, maxLength: 20 }),
      headerList,
      fc.array(fc.nat(), { maxLength: 10 }),
      (status, reason, headers, cuts) => {
        const input = writeResponseHead({ status, reason, headers });
        const whole = done(new ResponseHeadParser().push(input));
        assert.equal(whole.head.status, status);
        assert.equal(whole.head.reason, reason);
        assert.deepEqual([...whole.head.headers], headers);
        const split = feed(new ResponseHeadParser(), splitAt(input, cuts));
        assert.deepEqual(summary(split), summary(whole));
      },
    ),
  );
});

// Biased towards the bytes the grammar cares about, so errors of every kind occur.
const headishByte = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(13, 10, 32, 9, 58, 0x47, 0x2f, 0x31, 0x2e, 0x48),
);
const headishInput = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.array(headishByte, { maxLength: 300 }).map((a) => Uint8Array.from(a)),
  fc.tuple(fc.array(headishByte, { maxLength: 100 }), fc.constantFrom("GET / HTTP/1.1\r\n", "HTTP/1.1 101 OK\r\n"))
    .map(([a, prefix]) => new Uint8Array([...bytes(prefix), ...a, 13, 10, 13, 10])),
);

test("RequestHeadParser never throws on random bytes and is independent of chunking", () => {
  fc.assert(
    fc.property(headishInput, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 300 }), (input, cuts, max) => {
      const limits = { maxHeadSize: max, maxHeaders: max % 7 };
      const whole = new RequestHeadParser(limits).push(input);
      const split = feed(new RequestHeadParser(limits), splitAt(input, cuts));
      assert.deepEqual(summary(split), summary(whole));
      if (whole.state === "done") assert.ok(input.length - whole.rest.length <= max);
    }),
    { numRuns: 500 },
  );
});

test("ResponseHeadParser never throws on random bytes and is independent of chunking", () => {
  fc.assert(
    fc.property(headishInput, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
      const whole = new ResponseHeadParser().push(input);
      const split = feed(new ResponseHeadParser(), splitAt(input, cuts));
      assert.deepEqual(summary(split), summary(whole));
    }),
    { numRuns: 500 },
  );
});

test("RequestHeadParser gives incomplete or error for random bytes without a valid request line", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 500 }), (input) => {
      const state = new RequestHeadParser().push(input).state;
      assert.ok(state === "incomplete" || state === "error", state);
    }),
  );
});

test("writeRequestHead either throws TypeError or writes a header that parses back", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 20 }), (name, value) => {
      let out: Uint8Array;
      try {
        out = writeRequestHead({ method: "GET", target: "/", headers: [[name, value]] });
      } catch (e) {
        assert.ok(e instanceof TypeError);
        return;
      }
      const { head } = done(new RequestHeadParser().push(out));
      assert.equal(head.headers.size, 1);
      assert.deepEqual(head.headers.getAll(name), [value.replace(/^[ \t]+|[ \t]+$/g, "")]);
    }),
  );
});
