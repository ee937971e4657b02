// WebSocket over HTTP/2 (RFC 8441) end to end on 127.0.0.1, on this
// runtime's node:http2: wsport's server and client, several WebSockets on
// one connection, HTTP/1.1 on the same port, refusals, resets, half-close,
// backpressure, fallbacks, and the hook for an existing node:http2 server.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { http2StreamHandler } from "../adapters/node_http2.ts";
import { MemoryNetwork } from "../adapters/memory.ts";
import { upgradeHandler } from "../adapters/node.ts";
import { HandshakeError, WebSocketError } from "../src/core/errors.ts";
import { HTTP2_VERSION } from "../src/core/h2_handshake.ts";
import type { HandshakeRequest } from "../src/core/handshake.ts";
import { connect, createServer, serve, WebSocket, type WebSocketConnection } from "../mod.ts";
import { isHttp2Stream } from "../src/transport/http2.ts";
import { deferred, until, within } from "./helpers.ts";
import { cert, connectFields, h2Server, key, rawRequest, rawSession, runtime, skipWithoutOpenssl as skip, stop } from "./http2_helpers.ts";

const tls = { ca: cert };
const next = (ws: WebSocketConnection<any>) => within(ws[Symbol.asyncIterator]().next().then((r) => r.value), 10_000, "a message");

test(`http2 (${runtime}): WebSockets open as streams of one connection, with subprotocols, deflate, and closes both ways`, { skip: skip() }, async () => {
  const requests: HandshakeRequest[] = [];
  const serverClosed: [number, string][] = [];
  const server = await h2Server({
    filterHandshake: (request) => void requests.push(request),
    protocols: [
      { name: "echo", message: (ws, m) => void ws.send(m), close: (_ws, code, reason) => void serverClosed.push([code, reason]) },
      { name: "chat", message: (ws, m) => (m === "close me" ? ws.close(4001, "as asked") : void ws.send(`chat: ${m}`)) },
    ],
  });
  try {
    const url = `wss://127.0.0.1:${server.port}/room?x=1`;
    const { perMessageDeflate } = await import("../src/core/extensions/permessage_deflate.ts");
    const a = await connect(url, { http2: "only", tls, protocols: ["echo"], extensions: [perMessageDeflate()] });
    const b = await connect(url, { http2: "only", tls, protocols: ["chat"] });
    assert.ok(isHttp2Stream(a.transport) && isHttp2Stream(b.transport));
    assert.equal(a.transport.session, b.transport.session, "the client's two WebSockets share one HTTP/2 connection");
    assert.notEqual(a.transport.streamId, b.transport.streamId);
    assert.equal(a.protocol, "echo");
    assert.equal(b.protocol, "chat");
    assert.match(a.extensions, /^permessage-deflate/);
    assert.equal(b.extensions, "");
    const serverSide = [...server.connections];
    assert.equal(serverSide.length, 2);
    assert.ok(serverSide.every((ws) => isHttp2Stream(ws.transport)));
    const [sa, sb] = serverSide.map((ws) => ws.transport as unknown as { session: unknown });
    assert.equal(sa!.session, sb!.session, "the server sees one connection too");
    assert.deepEqual(requests.map((r) => [r.head.version, r.path, r.head.method]), [[HTTP2_VERSION, "/room?x=1", "CONNECT"], [HTTP2_VERSION, "/room?x=1", "CONNECT"]]);

    const big = new Uint8Array(200_000).map((_, i) => i * 7);
    a.send(big);
    assert.deepEqual(await next(a), big, "binary over 64 KiB (more than a stream window) comes back whole");
    a.send("é".repeat(3000));
    assert.equal(await next(a), "é".repeat(3000));
    b.send("hi");
    assert.equal(await next(b), "chat: hi");

    // A close from the client, with code and reason, seen on both sides.
    a.close(4000, "client bye");
    assert.deepEqual(await within(a.closed, 10_000), { code: 4000, reason: "client bye", wasClean: true });
    await until(() => serverClosed.length === 1, "the server's close handler", 10_000);
    assert.deepEqual(serverClosed, [[4000, "client bye"]]);
    // One from the server: the other WebSocket on the same connection is unaffected until then.
    b.send("close me");
    assert.deepEqual(await within(b.closed, 10_000), { code: 4001, reason: "as asked", wasClean: true });
  } finally {
    await stop(server);
  }
});

test(`http2 (${runtime}): HTTP/1.1 upgrades and the WHATWG WebSocket work on the same port`, { skip: skip() }, async () => {
  const server = await h2Server();
  try {
    const h1 = await connect(`wss://127.0.0.1:${server.port}/`, { tls });
    assert.equal(isHttp2Stream(h1.transport), false);
    h1.send("over 1.1");
    assert.equal(await next(h1), "over 1.1");
    h1.close();
    await h1.closed;

    const socket = new WebSocket(`wss://127.0.0.1:${server.port}/`, ["chat"], { http2: "only", tls });
    const got = deferred<string>();
    socket.onopen = () => socket.send("from WebSocket");
    socket.onmessage = (event) => got.resolve(String(event.data));
    assert.equal(await within(got.promise, 10_000), "chat: from WebSocket");
    const closed = deferred<[number, string]>();
    socket.onclose = (event) => closed.resolve([event.code, event.reason]);
    socket.close(1000, "done");
    assert.deepEqual(await within(closed.promise, 10_000), [1000, "done"]);
  } finally {
    await stop(server);
  }
});

test(`http2 (${runtime}): refusals get RFC 8441's statuses over the stream`, { skip: skip() }, async () => {
  const server = await h2Server({
    filterHandshake: (request) => request.path === "/private" ? { status: 403, body: "not you", headers: [["x-reason", "policy"], ["Connection", "close"]] } : undefined,
  });
  const empty = await serve({ hostname: "127.0.0.1", tls: { cert, key }, http2: true });
  const session = await rawSession(server.port);
  const bare = await rawSession(empty.port);
  try {
    assert.equal(session.remoteSettings.enableConnectProtocol, true);
    assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
    const version8 = await rawRequest(session, connectFields(server.port, { "sec-websocket-version": "8" }));
    assert.equal(version8.status, 400);
    assert.equal(version8.headers["sec-websocket-version"], "13");
    assert.match(version8.body, /sec-websocket-version 8/);
    const noVersion = await rawRequest(session, connectFields(server.port, { "sec-websocket-version": undefined }));
    assert.equal(noVersion.status, 400);
    assert.equal(noVersion.headers["sec-websocket-version"], "13");
    const otherProtocol = await rawRequest(session, connectFields(server.port, { ":protocol": "webtransport" }));
    assert.equal(otherProtocol.status, 501);
    const filtered = await rawRequest(session, connectFields(server.port, { ":path": "/private" }));
    assert.deepEqual([filtered.status, filtered.body, filtered.headers["x-reason"]], [403, "not you", "policy"]);
    const noEndpoint = await rawRequest(bare, connectFields(empty.port));
    assert.deepEqual([noEndpoint.status, noEndpoint.body], [404, "no WebSocket endpoint here"]);
    // The connection survives refusals: a good WebSocket still opens on it.
    const ok = await rawRequest(session, connectFields(server.port));
    assert.equal(ok.status, 200);

    // wsport's client reports the status.
    const refused = await connect(`wss://127.0.0.1:${server.port}/private`, { http2: "only", tls }).catch((error) => error);
    assert.ok(refused instanceof HandshakeError);
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "WS_ERR_UNEXPECTED_STATUS");
  } finally {
    session.close();
    bare.close();
    await stop(empty);
    await stop(server);
  }
});

test(`http2 (${runtime}): a stream reset is a 1006 on the other side, both ways; so is END_STREAM without a close frame`, { skip: skip() }, async () => {
  const opened: WebSocketConnection<any>[] = [];
  const closes: [number, boolean][] = [];
  const server = await h2Server({
    protocols: [{
      name: "echo",
      open: (ws) => void opened.push(ws),
      message: (ws, m) => void ws.send(m),
      close: (ws) => void ws.closed.then((info) => closes.push([info.code, info.wasClean])),
    }],
  });
  try {
    const url = `wss://127.0.0.1:${server.port}/`;
    // The server resets (terminate: RST_STREAM CANCEL).
    const a = await connect(url, { http2: "only", tls });
    await until(() => opened.length === 1, "the server's open");
    opened[0]!.terminate();
    assert.deepEqual(await within(a.closed, 10_000), { code: 1006, reason: "", wasClean: false });
    // The client resets.
    const b = await connect(url, { http2: "only", tls });
    await until(() => opened.length === 2, "the server's open");
    b.terminate();
    await until(() => closes.length === 2, "the server's close", 10_000);
    assert.deepEqual(closes[1], [1006, false]);
    // A raw client sends END_STREAM without a closing handshake; then one resets with INTERNAL_ERROR.
    const session = await rawSession(server.port);
    for (const end of [(s: http2.ClientHttp2Stream) => s.end(), (s: http2.ClientHttp2Stream) => s.close(http2.constants.NGHTTP2_INTERNAL_ERROR)]) {
      const stream = session.request(connectFields(server.port), { endStream: false });
      stream.on("error", () => {});
      await within(new Promise((resolve) => stream.once("response", resolve)), 10_000, "the 200");
      await until(() => opened.length === closes.length + 1, "the server's open");
      end(stream);
      await until(() => closes.length === opened.length, "the server's close", 10_000);
      assert.deepEqual(closes.at(-1), [1006, false]);
      stream.destroy();
    }
    session.close();
    // Every other WebSocket of the connection lives on.
    const c = await connect(url, { http2: "only", tls });
    c.send("still here");
    assert.equal(await next(c), "still here");
  } finally {
    await stop(server);
  }
});

test(`http2 (${runtime}): a connection that dies ends every WebSocket on it with 1006, on both sides`, { skip: skip() }, async () => {
  const opened: WebSocketConnection<any>[] = [];
  const closes: number[] = [];
  const server = await h2Server({
    protocols: [{ name: "echo", open: (ws) => void opened.push(ws), message: (ws, m) => void ws.send(m), close: (_ws, code) => void closes.push(code) }],
  });
  try {
    const url = `wss://127.0.0.1:${server.port}/`;
    // The client's connection goes (its session destroyed, no GOAWAY, no closing handshakes).
    const a = await connect(url, { http2: "only", tls });
    const b = await connect(url, { http2: "only", tls });
    (a.transport as unknown as { session: http2.ClientHttp2Session }).session.destroy();
    assert.deepEqual(await within(a.closed, 10_000), { code: 1006, reason: "", wasClean: false });
    assert.deepEqual(await within(b.closed, 10_000), { code: 1006, reason: "", wasClean: false });
    await until(() => closes.length === 2, "the server's two closes", 10_000);
    assert.deepEqual(closes, [1006, 1006]);
    // The server's side goes.
    const c = await connect(url, { http2: "only", tls });
    await until(() => opened.length === 3, "the server's open");
    (opened[2]!.transport as unknown as { session: http2.ServerHttp2Session }).session.destroy();
    assert.deepEqual(await within(c.closed, 10_000), { code: 1006, reason: "", wasClean: false });
  } finally {
    await stop(server);
  }
});

test(`http2 (${runtime}): backpressure: a paused server connection stops the client's stream, and everything arrives after resume`, { skip: skip() }, async () => {
  const received: number[] = [];
  const opened = deferred<WebSocketConnection<any>>();
  const server = await h2Server({
    protocols: [{ name: "sink", open: (ws) => (ws.pause(), opened.resolve(ws)), message: (_ws, m) => void received.push((m as Uint8Array).length) }],
  });
  try {
    const client = await connect(`wss://127.0.0.1:${server.port}/`, { http2: "only", tls, highWaterMark: 64 * 1024 });
    const serverWs = await within(opened.promise, 10_000);
    const chunk = new Uint8Array(32 * 1024);
    let sent = 0;
    // The HTTP/2 window (64 KiB per stream) and the runtime's buffers fill; then send says so.
    while (client.send(chunk) === "ok") {
      sent++;
      if (sent > 10_000) assert.fail("send never reported backpressure");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    sent++;
    assert.ok(client.bufferedAmount > 0, "bytes wait on the client while the server does not read");
    const drained = deferred<void>();
    client.requestWritable();
    const unsubscribe = setInterval(() => client.bufferedAmount === 0 && drained.resolve(), 5);
    serverWs.resume();
    await within(drained.promise, 20_000, "the client's buffer to empty");
    clearInterval(unsubscribe);
    await until(() => received.length === sent, `all ${sent} messages at the server`, 20_000);
    assert.ok(received.every((n) => n === chunk.length));
    client.close();
    await client.closed;
  } finally {
    await stop(server);
  }
});

test(`http2 (${runtime}): the client falls back to HTTP/1.1, or fails clearly with "only"`, { skip: skip() }, async () => {
  const h1only = await serve({ hostname: "127.0.0.1", tls: { cert, key }, protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }] });
  // A node:http2 server without SETTINGS_ENABLE_CONNECT_PROTOCOL, with wsport on its HTTP/1.1 'upgrade'.
  const wss = createServer({ protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }], pingInterval: 0 });
  const plain = http2.createSecureServer({ cert, key, allowHTTP1: true });
  plain.on("upgrade", upgradeHandler(wss));
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", () => resolve()));
  const plainPort = (plain.address() as { port: number }).port;
  try {
    for (const port of [h1only.port, plainPort]) {
      const ws = await connect(`wss://127.0.0.1:${port}/`, { http2: true, tls });
      assert.equal(isHttp2Stream(ws.transport), false, "fell back to an HTTP/1.1 upgrade");
      ws.send("fallback");
      assert.equal(await next(ws), "fallback");
      ws.close();
      await ws.closed;
      const error = await connect(`wss://127.0.0.1:${port}/`, { http2: "only", tls }).catch((e) => e);
      assert.ok(error instanceof HandshakeError, String(error));
      assert.equal(error.code, "WS_ERR_HTTP2_UNAVAILABLE");
      assert.match(error.message, port === plainPort ? /SETTINGS_ENABLE_CONNECT_PROTOCOL/ : /HTTP\/1\.1 \(ALPN\)/);
    }
    const cleartext = await connect(`ws://127.0.0.1:${h1only.port}/`, { http2: "only" }).catch((e) => e);
    assert.equal(cleartext.code, "WS_ERR_HTTP2_UNAVAILABLE");
    assert.match(cleartext.message, /wss:\/\//);
  } finally {
    await stop(h1only);
    await new Promise((resolve) => plain.close(resolve));
    await wss.close();
  }
});

test(`http2 (${runtime}): serve({ http2 }) fails at once without tls, or on a network that cannot`, async () => {
  const noTls = await serve({ http2: true, hostname: "127.0.0.1" }).catch((e) => e);
  assert.ok(noTls instanceof WebSocketError);
  assert.equal(noTls.code, "WS_ERR_HTTP2_REQUIRES_TLS");
  const memory = await serve({ http2: true, tls: { cert: "x", key: "y" }, network: new MemoryNetwork() }).catch((e) => e);
  assert.ok(memory instanceof WebSocketError);
  assert.equal(memory.code, "WS_ERR_HTTP2_UNSUPPORTED");
  assert.match(memory.message, /the memory network cannot serve HTTP\/2/);
});

test(`http2 (${runtime}): filterConnection runs once per connection, not per stream; an idle connection is closed`, { skip: skip() }, async () => {
  let filtered = 0;
  const server = await h2Server({ filterConnection: () => (filtered++, filtered !== 3), handshakeTimeout: 300 });
  try {
    const url = `wss://127.0.0.1:${server.port}/`;
    const a = await connect(url, { http2: "only", tls });
    const b = await connect(url, { http2: "only", tls });
    assert.equal(filtered, 1, "two streams, one connection, one filter call");
    const sessionOf = (ws: WebSocketConnection<any>) => (ws.transport as unknown as { session: http2.ClientHttp2Session }).session;
    const closedSession = (session: http2.ClientHttp2Session) =>
      within(new Promise((resolve) => session.closed ? resolve(undefined) : session.once("close", resolve)), 10_000, "the idle connection to close");
    const first = sessionOf(a);
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
    // Without a stream for the handshake timeout, the server sends GOAWAY and the client's pool forgets it.
    await closedSession(first);
    const c = await connect(url, { http2: "only", tls });
    assert.equal(filtered, 2);
    assert.notEqual(sessionOf(c), first);
    c.close();
    await c.closed;
    await closedSession(sessionOf(c));
    // The third connection is refused before HTTP/2 starts.
    const refused = await connect(url, { http2: "only", tls, handshakeTimeout: 5000 }).catch((e) => e);
    assert.ok(refused instanceof Error, "refused");
    assert.equal(filtered, 3);
  } finally {
    await stop(server);
  }
});

test(`http2 (${runtime}): http2StreamHandler serves WebSockets on an existing node:http2 server, beside its own streams`, { skip: skip() }, async () => {
  const wss = createServer({ protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }], pingInterval: 0 });
  const handle = http2StreamHandler(wss);
  const h2 = http2.createSecureServer({ cert, key, settings: { enableConnectProtocol: true } });
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    if (handle(stream, headers)) return;
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end("the application's own stream");
  });
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", () => resolve()));
  const port = (h2.address() as { port: number }).port;
  try {
    const ws = await connect(`wss://127.0.0.1:${port}/`, { http2: "only", tls });
    ws.send("through the hook");
    assert.equal(await next(ws), "through the hook");
    const session = await rawSession(port);
    const page = await rawRequest(session, { ":method": "GET", ":path": "/", ":scheme": "https", ":authority": `127.0.0.1:${port}` });
    assert.deepEqual([page.status, page.body], [200, "the application's own stream"]);
    session.close();
    ws.close(1000, "ok");
    assert.deepEqual(await ws.closed, { code: 1000, reason: "ok", wasClean: true });
  } finally {
    await stop(wss);
    h2.close();
  }
});

test(`http2 (${runtime}): server.close() sends 1001 to WebSockets on HTTP/2 streams and GOAWAY to their connections`, { skip: skip() }, async () => {
  const server = await h2Server();
  const a = await connect(`wss://127.0.0.1:${server.port}/`, { http2: "only", tls });
  const b = await connect(`wss://127.0.0.1:${server.port}/`, { http2: "only", tls });
  await server.close();
  assert.deepEqual(await within(a.closed, 10_000), { code: 1001, reason: "server shutting down", wasClean: true });
  assert.deepEqual(await within(b.closed, 10_000), { code: 1001, reason: "server shutting down", wasClean: true });
  await stop(server);
});
