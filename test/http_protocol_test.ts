// The sans-IO HTTP/1.1 server state machine (src/core/http/connection.ts),
// byte for byte: requests in parts, keep-alive per RFC 9112 section 9.3,
// pipelining in order, chunked bodies both ways, 100-continue, bodiless
// answers, limits, and the WebSocket upgrade on a kept-alive connection.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { asText, drain, latin1, splitAt } from "./helpers.ts";
import { concat } from "../src/core/bytes.ts";
import { HttpServerProtocol } from "../src/core/http/connection.ts";
import type { HttpEvent } from "../src/core/http/events.ts";
import { ChunkedDecoder, encodeChunk } from "../src/core/http/chunked.ts";
import { ByteQueue } from "../src/core/byte_queue.ts";
import { HeaderMap } from "../src/core/http/header_map.ts";
import { HttpError, InvalidStateError } from "../src/core/errors.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { WsReadyState } from "../src/core/protocol.ts";

const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();

/** Events as plain data for deepEqual: requests as method/target/framing, bodies as text. */
function summary(events: readonly HttpEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case "http-request": {
        const r = e.request;
        return { request: `${r.method} ${r.target} ${r.version}`, bodyLength: r.bodyLength, keepAlive: r.keepAlive, expectContinue: r.expectContinue };
      }
      case "http-body":
        return { body: asText(e.data) };
      case "http-end":
        return e.trailers === undefined ? "end" : { trailers: [...e.trailers] };
      case "http-error":
        return { error: e.error.status, code: e.error.code };
    }
  });
}

function out(http: HttpServerProtocol): string {
  const { bytes, eof } = drain(http);
  return asText(bytes) + (eof ? "<EOF>" : "");
}

test("HttpServerProtocol reads a GET and answers it with Content-Length, keeping the connection", () => {
  const http = new HttpServerProtocol();
  const events = http.receiveData(latin1("GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"));
  assert.deepEqual(summary(events), [
    { request: "GET /hello?x=1 HTTP/1.1", bodyLength: 0, keepAlive: true, expectContinue: false },
    "end",
  ]);
  http.respond({ status: 200, headers: [["Content-Type", "text/plain"]], body: enc.encode("hi") });
  assert.equal(out(http), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
  assert.equal(http.closed, false);
  assert.equal(http.idle, true);
  assert.equal(http.requestCount, 1);
});

test("Connection: close from the client closes after the answer (RFC 9112 9.3)", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  http.respond({ status: 204 });
  assert.equal(out(http), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n<EOF>");
  assert.equal(http.closed, true);
  assert.deepEqual(http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), [], "nothing is read after the close");
});

test("HTTP/1.0 closes unless it asks for keep-alive; then the answer says Connection: keep-alive", () => {
  const plain = new HttpServerProtocol();
  assert.deepEqual(summary(plain.receiveData(latin1("GET / HTTP/1.0\r\n\r\n")))[0], {
    request: "GET / HTTP/1.0",
    bodyLength: 0,
    keepAlive: false,
    expectContinue: false,
  });
  plain.respond({ status: 200, body: enc.encode("x") });
  assert.equal(out(plain), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx<EOF>");

  const kept = new HttpServerProtocol();
  kept.receiveData(latin1("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  kept.respond({ status: 200, body: enc.encode("x") });
  assert.equal(out(kept), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx");
  assert.equal(kept.closed, false);
});

test("an answer of unknown length is chunked to HTTP/1.1 and delimited by the close for HTTP/1.0", () => {
  const http11 = new HttpServerProtocol();
  http11.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  http11.startResponse({ status: 200, headers: [["Content-Type", "text/event-stream"]] });
  http11.sendBody(enc.encode("data: 1\n\n"));
  http11.sendBody(EMPTY); // an empty chunk would end the body: never written
  http11.sendBody(enc.encode("data: 22\n\n"));
  http11.endResponse();
  assert.equal(
    out(http11),
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "9\r\ndata: 1\n\n\r\na\r\ndata: 22\n\n\r\n0\r\n\r\n",
  );
  const http10 = new HttpServerProtocol();
  http10.receiveData(latin1("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  http10.startResponse({ status: 200 });
  http10.sendBody(enc.encode("abc"));
  http10.endResponse();
  assert.equal(out(http10), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc<EOF>");
});

test("the application's Connection, Keep-Alive and Transfer-Encoding are replaced; its Connection: close is honoured", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  http.respond({ status: 200, headers: [["Connection", "close"], ["Keep-Alive", "timeout=5"], ["Transfer-Encoding", "gzip"]], body: enc.encode("z") });
  assert.equal(out(http), "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz<EOF>");
});

test("pipelined requests are read one at a time and answered in order", () => {
  const http = new HttpServerProtocol();
  const all = latin1("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  const seen: string[] = [];
  let events = http.receiveData(all);
  while (events.length > 0) {
    const request = events.find((e) => e.type === "http-request");
    assert.ok(request?.type === "http-request");
    assert.equal(http.receiveData(EMPTY).length, 0, "the next request waits for this answer");
    seen.push(request.request.target);
    http.respond({ status: 200, body: enc.encode(request.request.target) });
    events = http.receiveData(EMPTY);
  }
  assert.deepEqual(seen, ["/1", "/2", "/3"]);
  const text = out(http);
  assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
  assert.ok(text.indexOf("/1") < text.indexOf("/2") && text.indexOf("/2") < text.indexOf("/3"));
  assert.ok(text.endsWith("Connection: close\r\n\r\n/3<EOF>"));
});

test("a Content-Length body is read once accepted, in parts, as views", () => {
  const http = new HttpServerProtocol();
  assert.deepEqual(summary(http.receiveData(latin1("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhel"))), [
    { request: "POST /up HTTP/1.1", bodyLength: 10, keepAlive: true, expectContinue: false },
  ]);
  assert.equal(http.bodyPending, true);
  assert.deepEqual(summary(http.acceptBody()), [{ body: "hel" }]);
  assert.deepEqual(summary(http.receiveData(latin1("lo wo"))), [{ body: "lo wo" }]);
  assert.deepEqual(summary(http.receiveData(latin1("rlGET / HTTP/1.1\r\n"))), [{ body: "rl" }, "end"]);
  http.respond({ status: 201 });
  assert.deepEqual(summary(http.receiveData(latin1("Host: a\r\n\r\n"))), [
    { request: "GET / HTTP/1.1", bodyLength: 0, keepAlive: true, expectContinue: false },
    "end",
  ]);
});

test("a chunked body with extensions and trailers is decoded (RFC 9112 7.1)", () => {
  const http = new HttpServerProtocol();
  const bytes = latin1(
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;name=value;quoted=\"a b\"\r\nhello\r\n" +
      "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n" +
      "0\r\nChecksum: 123\r\nX-Other: y\r\n\r\n",
  );
  const events = [...http.receiveData(bytes), ...http.acceptBody()];
  assert.deepEqual(summary(events), [
    { request: "POST / HTTP/1.1", bodyLength: "chunked", keepAlive: true, expectContinue: false },
    { body: "hello" },
    { body: "abcdefghijklmnopqrstuvwxyz" },
    { trailers: [["Checksum", "123"], ["X-Other", "y"]] },
  ]);
});

test("ChunkedDecoder gives the same data for any split of its input", () => {
  const body = "4\r\nwiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
  fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
    const decoder = new ChunkedDecoder(1000);
    const queue = new ByteQueue();
    let data = "";
    let result: HeaderMap | HttpError | undefined;
    for (const part of splitAt(latin1(body), cuts)) {
      queue.push(part.slice());
      result = decoder.read(queue, (d) => (data += asText(d)));
      if (result !== undefined) break;
    }
    assert.equal(data, "wikipedia in\r\n\r\nchunks.");
    assert.ok(result instanceof HeaderMap);
    assert.deepEqual([...result], [["T", "v"]]);
  }), { numRuns: 200 });
});

test("encodeChunk frames data without copying it", () => {
  const data = enc.encode("hello");
  const parts = encodeChunk(data);
  assert.equal(asText(concat(parts)), "5\r\nhello\r\n");
  assert.equal(parts[1], data);
  assert.deepEqual(encodeChunk(EMPTY), []);
});

test("Expect: 100-continue: 100 Continue once, when the body is wanted; never after an answer began", () => {
  const http = new HttpServerProtocol();
  const events = http.receiveData(latin1("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  assert.deepEqual(summary(events), [{ request: "PUT /f HTTP/1.1", bodyLength: 3, keepAlive: true, expectContinue: true }]);
  assert.deepEqual(http.acceptBody(), []);
  http.sendContinue();
  http.sendContinue();
  assert.equal(out(http), "HTTP/1.1 100 Continue\r\n\r\n");
  assert.deepEqual(summary(http.receiveData(latin1("abc"))), [{ body: "abc" }, "end"]);
  http.respond({ status: 204 });
  assert.equal(out(http), "HTTP/1.1 204 No Content\r\n\r\n");

  // HTTP/1.0 ignores Expect (RFC 9110 10.1.1).
  const old = new HttpServerProtocol();
  old.receiveData(latin1("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  old.acceptBody();
  old.sendContinue();
  assert.equal(out(old), "");
});

test("answering a 100-continue request without reading its body closes the connection", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  http.respond({ status: 401 });
  assert.equal(out(http), "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n<EOF>");
  http.sendContinue();
  assert.equal(out(http), "", "no 100 after the final answer");
});

test("an Expect other than 100-continue is refused with 417", () => {
  const http = new HttpServerProtocol();
  assert.deepEqual(summary(http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"))), [
    { error: 417, code: "WS_ERR_HTTP_EXPECTATION" },
  ]);
  assert.match(out(http), /^HTTP\/1\.1 417 Expectation Failed\r\n[^]*Connection: close\r\n\r\n[^]*<EOF>$/);
});

test("HEAD, 204 and 304 answers have no body; HEAD and 304 keep the Content-Length a GET would get", () => {
  const head = new HttpServerProtocol();
  head.receiveData(latin1("HEAD /f HTTP/1.1\r\nHost: a\r\n\r\n"));
  head.startResponse({ status: 200, headers: [["Content-Length", "1234"]] });
  head.sendBody(enc.encode("not sent"));
  head.endResponse();
  assert.equal(out(head), "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
  assert.equal(head.closed, false);

  const noContent = new HttpServerProtocol();
  noContent.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  noContent.respond({ status: 204, body: enc.encode("dropped") });
  assert.equal(out(noContent), "HTTP/1.1 204 No Content\r\n\r\n");

  const notModified = new HttpServerProtocol();
  notModified.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  notModified.startResponse({ status: 304, headers: [["ETag", '"x"'], ["Content-Length", "10"]] });
  notModified.endResponse();
  assert.equal(out(notModified), "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 10\r\n\r\n");
  // An unknown length on a 304 is not chunked either.
  const streamed = new HttpServerProtocol();
  streamed.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  streamed.startResponse({ status: 304 });
  streamed.endResponse();
  assert.equal(out(streamed), "HTTP/1.1 304 Not Modified\r\n\r\n");
});

test("a Content-Length answer cannot grow past it, and ending it short closes the connection", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  http.startResponse({ status: 200, headers: [["content-length", "4"]] });
  http.sendBody(enc.encode("abc"));
  assert.throws(() => http.sendBody(enc.encode("de")), TypeError);
  http.endResponse();
  assert.equal(out(http), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabc<EOF>");
});

test("misuse throws InvalidStateError: an answer with no request, twice, or a body before its head", () => {
  const http = new HttpServerProtocol();
  assert.throws(() => http.startResponse({ status: 200 }), InvalidStateError);
  assert.throws(() => http.sendBody(enc.encode("x")), InvalidStateError);
  assert.throws(() => http.endResponse(), InvalidStateError);
  http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  http.startResponse({ status: 200 });
  assert.throws(() => http.startResponse({ status: 200 }), InvalidStateError);
  assert.throws(() => http.switchProtocols(), InvalidStateError);
  const fresh = new HttpServerProtocol();
  fresh.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  assert.throws(() => fresh.startResponse({ status: 200, headers: [["X", "a\r\nInjected: 1"]] }), TypeError, "no header injection");
  assert.throws(() => fresh.startResponse({ status: 101 }), TypeError, "101 only through the upgrade");
});

test("a body larger than the limit is refused with 413 before it is read (Content-Length) or once it passes it (chunked)", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"));
  assert.deepEqual(summary(http.acceptBody(10)), [{ error: 413, code: "WS_ERR_HTTP_BODY_TOO_LARGE" }]);
  assert.match(out(http), /^HTTP\/1\.1 413 Content Too Large\r\n[^]*Connection: close\r\n\r\n[^]*<EOF>$/);

  const chunked = new HttpServerProtocol();
  chunked.receiveData(latin1("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\n"));
  assert.deepEqual(summary(chunked.acceptBody(10)), [{ body: "hello " }, { error: 413, code: "WS_ERR_HTTP_BODY_TOO_LARGE" }]);
  assert.match(out(chunked), /^HTTP\/1\.1 413 /);
  // The default limit is 1 MiB.
  const big = new HttpServerProtocol();
  big.receiveData(latin1(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${1024 * 1024 + 1}\r\n\r\n`));
  assert.deepEqual(summary(big.acceptBody()), [{ error: 413, code: "WS_ERR_HTTP_BODY_TOO_LARGE" }]);
});

test("an answer sent before the body was read drops the rest of a small body and keeps the connection; a large one closes it", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc"));
  http.respond({ status: 200, body: enc.encode("early") });
  assert.doesNotMatch(out(http), /Connection: close/);
  assert.deepEqual(summary(http.receiveData(latin1("defGET /next HTTP/1.1\r\nHost: a\r\n\r\n"))), [
    { request: "GET /next HTTP/1.1", bodyLength: 0, keepAlive: true, expectContinue: false },
    "end",
  ]);

  const large = new HttpServerProtocol({ maxDrainSize: 4 });
  large.receiveData(latin1("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n"));
  large.respond({ status: 200 });
  assert.ok(out(large).endsWith("<EOF>"));
  assert.equal(large.closed, true);
});

test("the answer to the last request allowed on a connection says Connection: close", () => {
  const http = new HttpServerProtocol({ maxRequests: 2 });
  http.receiveData(latin1("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"));
  http.respond({ status: 200 });
  assert.doesNotMatch(out(http), /close/);
  http.receiveData(EMPTY);
  http.respond({ status: 200 });
  assert.match(out(http), /Connection: close\r\n\r\n<EOF>$/);
});

test("keepAlive: false closes after every answer; closeAfterResponse() closes an idle connection at once", () => {
  const http = new HttpServerProtocol({ keepAlive: false });
  http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  http.respond({ status: 200 });
  assert.match(out(http), /Connection: close\r\n\r\n<EOF>$/);
  const idle = new HttpServerProtocol();
  idle.closeAfterResponse();
  assert.equal(out(idle), "<EOF>");
  const busy = new HttpServerProtocol();
  busy.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  busy.closeAfterResponse();
  assert.equal(busy.closed, false);
  busy.respond({ status: 200 });
  assert.match(out(busy), /Connection: close\r\n\r\n<EOF>$/);
});

test("a client that half-closes after its requests still gets every answer, then the close", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"));
  assert.deepEqual(http.receiveEof(), []);
  http.respond({ status: 200 });
  assert.doesNotMatch(out(http), /close/, "the second request still needs the connection");
  assert.equal(summary(http.receiveData(EMPTY)).length, 2);
  http.respond({ status: 200 });
  assert.match(out(http), /Connection: close\r\n\r\n<EOF>$/);
});

test("a client gone before its body ended is an http-error, with nothing answered", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab"));
  http.acceptBody();
  assert.deepEqual(summary(http.receiveEof()), [{ error: 400, code: "WS_ERR_HTTP_INCOMPLETE_BODY" }]);
  assert.equal(out(http), "<EOF>");
});

test("EOF between requests or in a head closes quietly", () => {
  const idle = new HttpServerProtocol();
  assert.deepEqual(idle.receiveEof(), []);
  assert.equal(out(idle), "<EOF>");
  const partial = new HttpServerProtocol();
  partial.receiveData(latin1("GET / HTTP/1.1\r\nHo"));
  assert.equal(partial.idle, false);
  assert.deepEqual(partial.receiveEof(), []);
  assert.equal(out(partial), "<EOF>");
});

test("empty lines before a request line are ignored (RFC 9112 2.2)", () => {
  const http = new HttpServerProtocol();
  http.receiveData(latin1("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  http.respond({ status: 200 });
  out(http);
  assert.equal(summary(http.receiveData(latin1("\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")))[0] !== undefined, true);
  assert.equal(http.request?.target, "/2");
});

test("ServerProtocol: plain requests on a kept-alive connection, then the upgrade, then frames", () => {
  const server = new ServerProtocol({ http: true });
  const upgrade = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const hello = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58); // RFC 6455 5.7
  const first = server.receiveData(concat([latin1("GET /page HTTP/1.1\r\nHost: a\r\n\r\n" + upgrade), hello]));
  assert.deepEqual(first.map((e) => e.type), ["http-request", "http-end"]);
  server.respond({ status: 200, body: enc.encode("page") });
  const next = server.receiveData(EMPTY);
  assert.deepEqual(next.map((e) => e.type), ["request"]);
  assert.equal(server.http, undefined, "the HTTP connection is let go at the upgrade");
  assert.deepEqual(server.accept(), [{ type: "text", data: "Hello" }]);
  const text = asText(drain(server).bytes);
  assert.ok(text.startsWith("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage"), "the plain answer first");
  assert.match(text.slice(text.indexOf("page") + 4), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n\r\n$/);
  assert.equal(server.readyState, WsReadyState.OPEN);
});

test("ServerProtocol refuses an upgrade request with a body with 400", () => {
  const server = new ServerProtocol({ http: true });
  const events = server.receiveData(latin1(
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 2\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nab",
  ));
  assert.equal(events.length, 1);
  assert.equal(events[0]!.type, "handshake-error");
  assert.match(asText(drain(server).bytes), /^HTTP\/1\.1 400 /);
  assert.equal(server.readyState, WsReadyState.CLOSED);
});

test("ServerProtocol reports a body failure of a plain request as http-error, a refused head as handshake-error", () => {
  const server = new ServerProtocol({ http: true });
  server.receiveData(latin1("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const events = server.http!.acceptBody();
  assert.deepEqual(events, []);
  const bad = server.receiveData(latin1("zz\r\n"));
  assert.deepEqual(bad.map((e) => e.type), ["http-error"]);
  assert.equal(server.readyState, WsReadyState.CLOSED);
  const refused = new ServerProtocol({ http: true });
  const head = refused.receiveData(latin1("GET / HTTP/1.1\r\nHost : a\r\n\r\n"));
  assert.deepEqual(head.map((e) => e.type), ["handshake-error"]);
});

// --- property: any split of a valid stream ---

interface Req {
  method: string;
  target: string;
  body: Uint8Array;
  framing: "length" | "chunked" | "none";
  chunkSizes: number[];
}

const reqArb: fc.Arbitrary<Req> = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
  target: fc.stringMatching(/^\/[a-z0-9/?=&%._-]{0,20}$/),
  body: fc.uint8Array({ maxLength: 300 }),
  framing: fc.constantFrom("length", "chunked", "none") as fc.Arbitrary<"length" | "chunked" | "none">,
  chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 }),
}).map((r) => (r.framing === "none" ? { ...r, body: EMPTY } : r));

/** The bytes a client sends for `r`. */
function requestBytes(r: Req): Uint8Array {
  let head = `${r.method} ${r.target} HTTP/1.1\r\nHost: example\r\n`;
  if (r.framing === "length") head += `Content-Length: ${r.body.length}\r\n`;
  if (r.framing === "chunked") head += "Transfer-Encoding: chunked\r\n";
  const parts = [latin1(head + "\r\n")];
  if (r.framing === "length") parts.push(r.body);
  if (r.framing === "chunked") {
    let at = 0;
    let i = 0;
    while (at < r.body.length) {
      const size = Math.min(r.chunkSizes[i++ % r.chunkSizes.length]!, r.body.length - at);
      parts.push(latin1(`${size.toString(16)}${i % 2 ? ";ext=1" : ""}\r\n`), r.body.subarray(at, at + size), latin1("\r\n"));
      at += size;
    }
    parts.push(latin1("0\r\n\r\n"));
  }
  return concat(parts);
}

/** Runs a server over the chunks, answering every request when its body ends; returns what it saw and wrote. */
function run(chunks: readonly Uint8Array[]): { seen: string[]; output: string } {
  const http = new HttpServerProtocol({ maxBodySize: Infinity });
  const seen: string[] = [];
  let body = "";
  const handle = (events: HttpEvent[]): void => {
    for (const e of events) {
      if (e.type === "http-request") {
        seen.push(`${e.request.method} ${e.request.target}`);
        if (http.bodyPending) handle(http.acceptBody());
      } else if (e.type === "http-body") {
        body += asText(e.data);
      } else if (e.type === "http-end") {
        seen.push(`body ${body.length}:${body}`);
        body = "";
        http.respond({ status: 200, body: enc.encode(String(seen.length)) });
        handle(http.receiveData(EMPTY));
      } else {
        seen.push(`error ${e.error.status}`);
      }
    }
  };
  for (const chunk of chunks) handle(http.receiveData(chunk.slice()));
  return { seen, output: out(http) };
}

test("any split of a stream of pipelined requests gives the same events and the same answers", () => {
  fc.assert(
    fc.property(fc.array(reqArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 25 }), (reqs, cuts) => {
      const all = concat(reqs.map(requestBytes));
      const whole = run([all]);
      assert.equal(whole.seen.length, reqs.length * 2, whole.seen.join(" | "));
      reqs.forEach((r, i) => {
        assert.equal(whole.seen[i * 2], `${r.method} ${r.target}`);
        assert.equal(whole.seen[i * 2 + 1], `body ${r.body.length}:${asText(r.body)}`);
      });
      assert.deepEqual(run(splitAt(all, cuts)), whole);
      assert.deepEqual(run(Array.from(all, (b) => Uint8Array.of(b))), whole, "one byte at a time");
    }),
    { numRuns: 150 },
  );
});

test("HttpServerProtocol never throws on random bytes", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), (chunks) => {
      run(chunks);
    }),
    { numRuns: 300 },
  );
});
