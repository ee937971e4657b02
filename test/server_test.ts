import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryNetwork } from "../adapters/memory.ts";
import { ManualClock } from "../src/services/clock.ts";
import { connect } from "../src/services/client.ts";
import { HandshakeError } from "../src/core/errors.ts";
import { type Subprotocol, serve, type ServeOptions } from "../src/services/server.ts";
import type { Message, WebSocketConnection } from "../src/services/connection.ts";
import { ClientProtocol } from "../src/core/client_protocol.ts";
import { concat } from "../src/core/bytes.ts";
import { CountingNetwork, deferred, enc, rawConnect, until, within } from "./helpers.ts";

const echo: Subprotocol = { name: "echo", message: (ws, message) => void ws.send(message) };

async function setup(options: ServeOptions = {}) {
  const network = options.network ?? new MemoryNetwork();
  const server = await serve({ network, protocols: [echo], pingInterval: 0, ...options });
  const url = `ws://127.0.0.1:${server.port}/`;
  return { network, server, url };
}

async function nextMessage(ws: WebSocketConnection<unknown>): Promise<Message> {
  const result = await within(ws[Symbol.asyncIterator]().next(), 5000, "a message");
  if (result.done) throw new Error("connection closed before a message");
  return result.value;
}

function handshakeBytes(extra = ""): Uint8Array {
  return enc.encode(
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
}

test("serve() echoes text and binary over the memory network", async () => {
  const { network, server, url } = await setup();
  const ws = await connect(url, { network, pingInterval: 0 });
  ws.send("héllo");
  ws.send(new Uint8Array([1, 2, 3]));
  assert.equal(await nextMessage(ws), "héllo");
  assert.deepEqual(await nextMessage(ws), new Uint8Array([1, 2, 3]));
  ws.close();
  assert.deepEqual(await within(ws.closed), { code: 1000, reason: "", wasClean: true });
  await server.close();
});

test("serve() routes by subprotocol to each protocol's handlers and data", async () => {
  const seen: string[] = [];
  const counter: Subprotocol<{ n: number }> = {
    name: "counter",
    data: () => ({ n: 0 }),
    message: (ws) => void ws.send(String(++ws.data.n)),
  };
  const upper: Subprotocol = { name: "upper", message: (ws, m) => void ws.send(String(m).toUpperCase()) };
  const { network, server, url } = await setup({
    protocols: [upper, counter as Subprotocol],
    filterHandshake: (_request, protocol) => void seen.push(protocol),
  });
  const a = await connect(url, { network, protocols: ["nope", "counter"], pingInterval: 0 });
  assert.equal(a.protocol, "counter");
  a.send("x");
  a.send("x");
  assert.equal(await nextMessage(a), "1");
  assert.equal(await nextMessage(a), "2");
  const b = await connect(url, { network, protocols: ["upper"], pingInterval: 0 });
  b.send("abc");
  assert.equal(await nextMessage(b), "ABC");
  const c = await connect(url, { network, pingInterval: 0 }); // offers none: the first protocol, unnamed
  assert.equal(c.protocol, "");
  c.send("def");
  assert.equal(await nextMessage(c), "DEF");
  assert.deepEqual(seen, ["counter", "upper", ""]);
  assert.equal(server.connectionsOf("counter").size, 1);
  assert.equal(server.connectionsOf("upper").size, 2);
  await server.close();
});

test("Server.broadcast() reaches every connection of a protocol only", async () => {
  const { network, server, url } = await setup({ protocols: [echo, { name: "news" }] });
  const news = await Promise.all([1, 2, 3].map(() => connect(url, { network, protocols: ["news"], pingInterval: 0 })));
  const other = await connect(url, { network, protocols: ["echo"], pingInterval: 0 });
  assert.equal(server.broadcast("news", "flash"), 3);
  for (const ws of news) assert.equal(await nextMessage(ws), "flash");
  other.send("mine");
  assert.equal(await nextMessage(other), "mine", "the echo connection got no broadcast first");
  await server.close();
});

test("serve() answers plain HTTP through fetch, with 404 and HEAD handled", async () => {
  const { network, server } = await setup({
    fetch: async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/hello") return new Response(`hi ${request.method} ${await request.text()}`, { headers: { "x-test": "1" } });
      if (path === "/boom") throw new Error("handler failure");
      return undefined;
    },
  });
  // Each on its own connection, which the client asks to close after the answer.
  const exchange = async (request: string) => {
    const peer = await rawConnect(network, server.port);
    peer.transport.write([enc.encode(request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"))]);
    await within(peer.closed);
    return peer.text();
  };
  const get = await exchange("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.match(get, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(get, /\r\nx-test: 1\r\n/);
  assert.match(get, /\r\nConnection: close\r\n\r\nhi GET $/);
  assert.match(await exchange("POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"), /hi POST body$/);
  const head = await exchange("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.match(head, /content-length: 8\r\n/i); // "hi HEAD "
  assert.ok(head.endsWith("\r\n\r\n"), "no body for HEAD");
  assert.match(await exchange("GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n"), /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(await exchange("GET /boom HTTP/1.1\r\nHost: a\r\n\r\n"), /^HTTP\/1\.1 500 /);
  await server.close();
});

test("serve() without fetch answers a plain GET with 426 and Upgrade: websocket", async () => {
  const { network, server } = await setup();
  const peer = await rawConnect(network, server.port);
  peer.transport.write([enc.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n")]);
  await within(peer.closed);
  assert.match(peer.text(), /^HTTP\/1\.1 426 Upgrade Required\r\n/);
  assert.match(peer.text(), /\r\nUpgrade: websocket\r\n/);
  await server.close();
});

test("serve() answers a bad handshake with its status and closes", async () => {
  const { network, server } = await setup();
  const peer = await rawConnect(network, server.port);
  peer.transport.write([handshakeBytes().subarray(0, 60), enc.encode("Sec-WebSocket-Version: 8\r\n\r\n")]);
  const bad = await rawConnect(network, server.port);
  bad.transport.write([enc.encode("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")]);
  await within(Promise.all([peer.closed, bad.closed]));
  assert.match(bad.text(), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Sec-WebSocket-Key is not base64 of 16 bytes$/);
  await server.close();
});

test("filterConnection refuses a TCP connection before reading it", async () => {
  const seen: string[] = [];
  const { network, server, url } = await setup({
    filterConnection: (peer) => {
      seen.push(peer.remoteAddress);
      return false;
    },
  });
  await assert.rejects(connect(url, { network, pingInterval: 0 }), /closed before the handshake/);
  assert.deepEqual(seen, ["memory-client"]);
  await server.close();
});

test("filterHandshake refuses with the status and body it returns", async () => {
  const { network, server, url } = await setup({
    filterHandshake: async (request) => (request.head.headers.has("authorization") ? undefined : { status: 403, body: "no token" }),
  });
  const error = await connect(url, { network, pingInterval: 0 }).catch((e) => e);
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.status, 403);
  const ok = await connect(url, { network, headers: { Authorization: "Bearer x" }, pingInterval: 0 });
  assert.equal(ok.readyState, 1);
  await server.close();
});

test("the handshake timeout closes a client that sends nothing, or too slowly", async () => {
  const clock = new ManualClock();
  const { network, server } = await setup({ clock, handshakeTimeout: 3000 });
  const silent = await rawConnect(network, server.port);
  const slow = await rawConnect(network, server.port);
  slow.transport.write([handshakeBytes().subarray(0, 10)]);
  await new Promise((r) => setTimeout(r, 10));
  clock.advance(2999);
  await new Promise((r) => setTimeout(r, 10));
  slow.transport.write([handshakeBytes().subarray(10, 20)]);
  clock.advance(1);
  await within(Promise.all([silent.closed, slow.closed]), 5000, "both to be closed");
  assert.equal(silent.received().length, 0);
  await server.close();
});

test("bytes of the first frames sent with the handshake are not lost", async () => {
  const { network, server } = await setup();
  const client = new ClientProtocol({ host: "x", path: "/" });
  const request = client.dataToSend();
  const peer = await rawConnect(network, server.port);
  // Open the core by hand: it needs the server's 101 to allow sends, so frame one message ourselves.
  const frame = new Uint8Array([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]); // masked "hi" with a zero key
  peer.transport.write([concat(request.filter((x): x is Uint8Array => x instanceof Uint8Array)), frame]);
  await until(() => peer.received().length > 130, "the 101 and the echo");
  const text = peer.text();
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.deepEqual([...peer.received().subarray(-4)], [0x81, 0x02, 0x68, 0x69], "the echo of the frame that came with the head");
  peer.transport.destroy();
  await server.close();
});

test("one read produces one write, however many replies it causes", async () => {
  const network = new CountingNetwork();
  const { server, url } = await setup({ network });
  const ws = await connect(url, { network, pingInterval: 0 });
  const before = network.writes.length;
  for (let i = 0; i < 50; i++) ws.send(`m${i}`); // one tick: one batch, one read on the server
  ws.ping("p");
  const got: Message[] = [];
  for (let i = 0; i < 50; i++) got.push(await nextMessage(ws));
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
  const writes = network.writes.slice(before);
  assert.equal(writes.length, 1, `server wrote ${writes.length} times`);
  const echoBytes = Array.from({ length: 50 }, (_, i) => 2 + `m${i}`.length).reduce((a, b) => a + b, 0);
  assert.equal(writes[0], echoBytes + 3, "all 50 echoes and the pong in that one write");
  await server.close();
});

test("send reports backpressure above the high-water mark and drain fires when it clears", async () => {
  const drained = deferred();
  const results: string[] = [];
  const { network, server, url } = await setup({
    highWaterMark: 64 * 1024,
    protocols: [{
      name: "push",
      open: (ws) => {
        for (let i = 0; i < 8; i++) results.push(ws.send(new Uint8Array(16 * 1024)));
      },
      drain: () => drained.resolve(),
    }],
  });
  const ws = await connect(url, { network, pingInterval: 0 });
  for (let i = 0; i < 8; i++) await nextMessage(ws);
  await within(drained.promise, 5000, "drain");
  assert.deepEqual(results.slice(0, 3), ["ok", "ok", "ok"]);
  assert.equal(results.at(-1), "backpressure");
  await server.close();
});

test("a send over the hard buffer limit is dropped and the connection closed with 1008", async () => {
  const closed = deferred<number>();
  const results: string[] = [];
  const { network, server, url } = await setup({
    maxBufferedAmount: 100_000,
    protocols: [{
      name: "flood",
      open: (ws) => {
        for (let i = 0; i < 4; i++) results.push(ws.send(new Uint8Array(40_000)));
      },
    }],
  });
  const ws = await connect(url, {
    network,
    pingInterval: 0,
    handlers: { close: (_ws, code) => closed.resolve(code) },
  });
  assert.equal(await within(closed.promise), 1008);
  assert.deepEqual(results, ["ok", "ok", "dropped", "dropped"]);
  assert.equal(ws.readyState, 3);
  await server.close();
});

test("keepalive pings, and closes with 1011 when no pong comes back", async () => {
  const clock = new ManualClock();
  const { network, server } = await setup({ clock, pingInterval: 1000, pongTimeout: 500, closeTimeout: 100 });
  const peer = await rawConnect(network, server.port);
  peer.transport.write([handshakeBytes()]);
  await until(() => peer.text().includes("\r\n\r\n"), "the 101");
  const afterHead = peer.received().length;
  clock.advance(1000);
  await until(() => peer.received().length > afterHead, "a ping");
  assert.equal(peer.received()[afterHead], 0x89, "a ping frame");
  clock.advance(500); // no pong
  await until(() => peer.received().length > afterHead + 2, "a close frame");
  const close = peer.received().subarray(afterHead + 2);
  assert.deepEqual([close[0], (close[2]! << 8) | close[3]!], [0x88, 1011]);
  clock.advance(100);
  await within(peer.closed);
  await server.close();
});

test("keepalive is satisfied by pongs", async () => {
  const clock = new ManualClock();
  const closes: number[] = [];
  const { network, server, url } = await setup({
    clock,
    pingInterval: 1000,
    pongTimeout: 500,
    protocols: [{ name: "x", close: (_ws, code) => void closes.push(code), pong: () => void pongs++ }],
  });
  let pongs = 0;
  const ws = await connect(url, { network, pingInterval: 0 }); // auto-pongs
  for (let i = 0; i < 5; i++) {
    clock.advance(1000); // the server pings
    await until(() => pongs === i + 1, "the pong"); // wait for the pong itself, not for some time
    clock.advance(499);
  }
  assert.equal(ws.readyState, 1);
  assert.deepEqual(closes, []);
  await server.close();
});

test("the idle timeout closes a connection that receives nothing with 1001", async () => {
  const clock = new ManualClock();
  const closed = deferred<[number, string]>();
  const { network, server, url } = await setup({ clock, idleTimeout: 10_000 });
  await connect(url, { network, pingInterval: 0, handlers: { close: (_ws, code, reason) => closed.resolve([code, reason]) } });
  clock.advance(10_000);
  assert.deepEqual(await within(closed.promise), [1001, "idle timeout"]);
  await server.close();
});

test("a handler that throws is reported to error and closes only its connection with 1011", async () => {
  const errors: string[] = [];
  const { network, server, url } = await setup({
    protocols: [{
      name: "fragile",
      message: (ws, m) => {
        if (m === "boom") throw new Error("handler bug");
        ws.send(m);
      },
      error: (_ws, error) => void errors.push(error.message),
    }],
  });
  const bad = await connect(url, { network, pingInterval: 0 });
  const good = await connect(url, { network, pingInterval: 0 });
  bad.send("boom");
  assert.equal((await within(bad.closed)).code, 1011);
  good.send("still here");
  assert.equal(await nextMessage(good), "still here");
  assert.deepEqual(errors, ["handler bug"]);
  await server.close();
});

test("Server.close() sends 1001 to every connection and resolves when all are closed", async () => {
  const { network, server, url } = await setup();
  const clients = await Promise.all([1, 2, 3].map(() => connect(url, { network, pingInterval: 0 })));
  await within(server.close());
  for (const ws of clients) assert.deepEqual(await ws.closed, { code: 1001, reason: "server shutting down", wasClean: true });
  assert.equal(server.connections.size, 0);
  await assert.rejects(connect(url, { network, pingInterval: 0 }), /refused/);
});

test("Server.close() terminates connections that do not answer the close in time", async () => {
  const clock = new ManualClock();
  const { network, server } = await setup({ clock, closeTimeout: 1000 });
  const peer = await rawConnect(network, server.port);
  peer.transport.write([handshakeBytes()]);
  await until(() => server.connections.size === 1, "the connection to open");
  const closing = server.close({ timeout: 1000 });
  await new Promise((r) => setTimeout(r, 10));
  clock.advance(1000);
  await within(closing);
  await within(peer.closed);
});

test("a protocol error from a client fails that connection with its close code and reports it", async () => {
  const errors: number[] = [];
  const { network, server } = await setup({
    protocols: [{ name: "x", error: (_ws, error) => void errors.push((error as { closeCode?: number }).closeCode ?? 0) }],
  });
  const peer = await rawConnect(network, server.port);
  peer.transport.write([handshakeBytes(), new Uint8Array([0x81, 0x82, 0, 0, 0, 0, 0xc0, 0x80])]); // overlong UTF-8
  await within(peer.closed);
  const text = peer.received();
  const close = text.subarray(text.length - 4 - "invalid UTF-8 in text payload".length);
  assert.deepEqual([close[0], (close[2]! << 8) | close[3]!], [0x88, 1007]);
  assert.deepEqual(errors, [1007]);
  await server.close();
});
