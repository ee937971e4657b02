import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { WebSocketServer } from "ws";
import { nodeNetwork, upgradeHandler } from "../adapters/node.ts";
import { connect, parseWebSocketUrl } from "../src/services/client.ts";
import { HandshakeError } from "../src/core/errors.ts";
import { createServer } from "../src/services/server.ts";
import { WebSocket } from "../src/services/websocket.ts";
import type { Message, WebSocketConnection } from "../src/services/connection.ts";
import { deferred, within } from "./helpers.ts";

// The peer here is `ws` (npm), over real sockets on 127.0.0.1.

interface WsPeer {
  url: string;
  requests: http.IncomingMessage[];
  close(): Promise<void>;
}

async function wsEchoServer(options: { verify?: boolean } = {}): Promise<WsPeer> {
  const requests: http.IncomingMessage[] = [];
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (protocols) => (protocols.has("chat") ? "chat" : false),
    verifyClient: options.verify === false ? () => false : undefined,
  });
  wss.on("connection", (ws, request) => {
    requests.push(request);
    ws.on("message", (data, isBinary) => {
      if (!isBinary && String(data) === "close-me") ws.close(4001, "server bye");
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  const port = (wss.address() as net.AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }),
  };
}

async function next(ws: WebSocketConnection<unknown>): Promise<Message> {
  const result = await within(ws[Symbol.asyncIterator]().next(), 5000, "a message");
  if (result.done) throw new Error("closed before a message");
  return result.value;
}

test("connect() talks to a ws server: subprotocol, headers, text, binary over 64 KiB, ping", async () => {
  const peer = await wsEchoServer();
  const pongs: Uint8Array[] = [];
  const ws = await connect(`${peer.url}/path?q=1`, {
    network: nodeNetwork,
    protocols: ["other", "chat"],
    origin: "http://example.test",
    headers: { "X-Custom": "yes" },
    pingInterval: 0,
    handlers: { pong: (_ws, data) => void pongs.push(data) },
  });
  assert.equal(ws.protocol, "chat");
  const request = peer.requests[0]!;
  assert.equal(request.url, "/path?q=1");
  assert.equal(request.headers.origin, "http://example.test");
  assert.equal(request.headers["x-custom"], "yes");
  ws.send("héllo ✓");
  assert.equal(await next(ws), "héllo ✓");
  const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
  ws.send(big);
  assert.deepEqual(await next(ws), big);
  ws.ping("ping!");
  ws.send("after ping");
  assert.equal(await next(ws), "after ping");
  assert.deepEqual(pongs, [new TextEncoder().encode("ping!")]);
  ws.close(4000, "bye");
  const closed = await within(ws.closed);
  assert.equal(closed.code, 4000);
  assert.equal(closed.wasClean, true);
  await peer.close();
});

test("connect() reports the server's close code and reason", async () => {
  const peer = await wsEchoServer();
  const ws = await connect(peer.url, { network: nodeNetwork, pingInterval: 0 });
  ws.send("close-me");
  assert.deepEqual(await within(ws.closed), { code: 4001, reason: "server bye", wasClean: true });
  await peer.close();
});

test("connect() rejects with the status of a refused handshake", async () => {
  const peer = await wsEchoServer({ verify: false });
  const error = await connect(peer.url, { network: nodeNetwork }).catch((e) => e);
  assert.ok(error instanceof HandshakeError, String(error));
  assert.equal(error.status, 401);
  assert.equal(error.code, "WS_ERR_UNEXPECTED_STATUS");
  await peer.close();
});

test("connect() gives up after the handshake timeout when the server says nothing", async () => {
  const silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as net.AddressInfo).port;
  const error = await connect(`ws://127.0.0.1:${port}`, { network: nodeNetwork, handshakeTimeout: 200 }).catch((e) => e);
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.code, "WS_ERR_HANDSHAKE_TIMEOUT");
  silent.close();
});

test("connect() rejects a refused TCP connection with the network's error", async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  await assert.rejects(connect(`ws://127.0.0.1:${port}`, { network: nodeNetwork }), /ECONNREFUSED|refused/i);
});

test("parseWebSocketUrl() handles schemes, default ports, IPv6 and rejects fragments", () => {
  assert.deepEqual(parseWebSocketUrl("ws://example.com/a?b=c"), { secure: false, hostname: "example.com", port: 80, host: "example.com", path: "/a?b=c" });
  assert.deepEqual(parseWebSocketUrl("wss://example.com:8443"), { secure: true, hostname: "example.com", port: 8443, host: "example.com:8443", path: "/" });
  assert.equal(parseWebSocketUrl("https://x").port, 443);
  assert.equal(parseWebSocketUrl("ws://[::1]:9001/").hostname, "::1");
  assert.throws(() => parseWebSocketUrl("ws://x/#frag"), SyntaxError);
  assert.throws(() => parseWebSocketUrl("ftp://x/"), SyntaxError);
});

test("WebSocket (WHATWG) talks to a ws server with events, binaryType and close codes", async () => {
  const peer = await wsEchoServer();
  const socket = new WebSocket(peer.url, ["chat"], { network: nodeNetwork, pingInterval: 0 });
  assert.equal(socket.readyState, WebSocket.CONNECTING);
  assert.throws(() => socket.send("too early"), (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError");
  const opened = deferred();
  socket.onopen = () => opened.resolve();
  await within(opened.promise, 5000, "open");
  assert.equal(socket.protocol, "chat");
  assert.equal(socket.readyState, WebSocket.OPEN);
  const messages: unknown[] = [];
  const got = deferred();
  socket.addEventListener("message", (event) => {
    messages.push((event as MessageEvent).data);
    if (messages.length === 3) got.resolve();
  });
  socket.send("text");
  socket.binaryType = "arraybuffer";
  socket.send(new Uint8Array([1, 2, 3]));
  socket.send(new Blob([new Uint8Array([4, 5])]));
  await within(got.promise, 5000, "three messages");
  assert.equal(messages[0], "text");
  assert.deepEqual(new Uint8Array(messages[1] as ArrayBuffer), new Uint8Array([1, 2, 3]));
  assert.deepEqual(new Uint8Array(messages[2] as ArrayBuffer), new Uint8Array([4, 5]));
  assert.throws(() => socket.close(1001), (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError");
  const closed = deferred<CloseEvent>();
  socket.onclose = (event) => closed.resolve(event);
  socket.close(3000, "done");
  const event = await within(closed.promise, 5000, "close");
  assert.equal(event.code, 3000);
  assert.equal(event.wasClean, true);
  assert.equal(socket.readyState, WebSocket.CLOSED);
  await peer.close();
});

test("WebSocket (WHATWG) fires error then close 1006 when it cannot connect", async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const socket = new WebSocket(`ws://127.0.0.1:${port}`, [], { network: nodeNetwork });
  const order: string[] = [];
  const done = deferred<CloseEvent>();
  socket.onerror = () => void order.push("error");
  socket.onclose = (event) => {
    order.push("close");
    done.resolve(event);
  };
  const event = await within(done.promise);
  assert.deepEqual(order, ["error", "close"]);
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
  assert.throws(() => new WebSocket("ftp://x/"), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
  assert.throws(() => new WebSocket("ws://x/", ["a", "a"]), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
});

test("upgradeHandler() serves WebSocket upgrades of an existing node:http server", async () => {
  const wss = createServer({
    pingInterval: 0,
    protocols: [{ name: "chat", message: (ws, message) => void ws.send(`echo:${message}`) }],
  });
  const server = http.createServer((_req, res) => res.end("plain http"));
  server.on("upgrade", upgradeHandler(wss));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await page.text(), "plain http");
  const ws = await connect(`ws://127.0.0.1:${port}/ws`, { network: nodeNetwork, protocols: ["chat"], pingInterval: 0 });
  assert.equal(ws.protocol, "chat");
  ws.send("hi");
  assert.equal(await next(ws), "echo:hi");
  assert.equal(wss.connections.size, 1);
  await within(wss.close());
  assert.equal((await ws.closed).code, 1001);
  await new Promise((resolve) => server.close(resolve));
});
