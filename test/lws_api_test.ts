// The libwebsockets API rows, on the runtime running this file: broadcast
// and publish/subscribe (one serialisation for every receiver), writable
// callbacks, receive flow control, per-connection timeouts, the filter
// hooks, peer and host names, hang-up and shutdown, and dropping privileges.
// "Real sockets" tests use this runtime's own network adapter on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { MemoryNetwork } from "../adapters/memory.ts";
import { nodeNetwork } from "../adapters/node.ts";
import { denoNetwork } from "../adapters/deno.ts";
import { bunNetwork } from "../adapters/bun.ts";
import { type BroadcastChannelLike, ChannelEngine } from "../src/services/pubsub/channel_engine.ts";
import { ManualClock } from "../src/services/clock.ts";
import { connect } from "../src/services/client.ts";
import { HandshakeError, InvalidStateError, WebSocketError } from "../src/core/errors.ts";
import type { HandshakeRequest } from "../src/core/handshake.ts";
import { preparePrivilegeDrop, type ProcessCredentials } from "../src/transport/privileges.ts";
import { createServer, type Subprotocol, serve, type ServeOptions } from "../src/services/server.ts";
import type { PeerInfo } from "../src/transport/transport.ts";
import type { Network, Transport } from "../src/transport/transport.ts";
import type { Message, WebSocketConnection } from "../src/services/connection.ts";
import { startPtrServer } from "./dns_server.ts";
import { deferred, enc, rawConnect, until, within } from "./helpers.ts";
import { skipIf } from "./skips.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
/** This runtime's own sockets. */
const realNetwork: Network = g.Bun ? bunNetwork : g.Deno ? denoNetwork : nodeNetwork;

const echo: Subprotocol = { name: "echo", message: (ws, message) => void ws.send(message) };

async function setup(options: ServeOptions = {}) {
  const network = options.network ?? new MemoryNetwork();
  const server = await serve({ network, hostname: "127.0.0.1", protocols: [echo], pingInterval: 0, ...options });
  const url = `ws://127.0.0.1:${server.port}/`;
  return { network, server, url };
}

function client(url: string, network: Network, protocols: string[] = []) {
  return connect(url, { network, protocols, pingInterval: 0 });
}

/** Collects every message a client receives (a message handler, so nothing waits in an inbox). */
async function collector(url: string, network: Network, protocols: string[] = []) {
  const messages: Message[] = [];
  const ws = await connect(url, { network, protocols, pingInterval: 0, handlers: { message: (_ws, m) => void messages.push(m) } });
  return { ws, messages };
}

async function nextMessage(ws: WebSocketConnection<unknown>): Promise<Message> {
  const result = await within(ws[Symbol.asyncIterator]().next(), 5000, "a message");
  if (result.done) throw new Error("connection closed before a message");
  return result.value;
}

/** Polls until `read()` has not changed for `polls` polls in a row (a socket buffer that has filled up). */
async function settled(read: () => number, what: string, polls = 15): Promise<number> {
  let last = read();
  let same = 0;
  const start = Date.now();
  while (same < polls) {
    if (Date.now() - start > 20_000) throw new Error(`timed out waiting for ${what} to settle`);
    await new Promise((r) => setTimeout(r, 20));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/** Messages in a canonical order, for comparing what arrived from several servers. */
function sorted(messages: Message[]): Message[] {
  const key = (m: Message) => (typeof m === "string" ? `t:${m}` : `b:${[...m]}`);
  return [...messages].sort((a, b) => key(a).localeCompare(key(b)));
}

const tick = () => new Promise((r) => setTimeout(r, 10));

/** A memory network that records, per accepted transport, the chunk objects the server hands to write(). */
class SpyNetwork extends MemoryNetwork {
  readonly written = new Map<Transport, Uint8Array[]>();

  override listen(...args: Parameters<MemoryNetwork["listen"]>): ReturnType<MemoryNetwork["listen"]> {
    const [options, accept] = args;
    return super.listen(options, (transport) => {
      const chunks: Uint8Array[] = [];
      this.written.set(transport, chunks);
      const write = transport.write.bind(transport);
      transport.write = (batch) => {
        chunks.push(...batch); // the objects themselves: the memory transport copies only after this
        write(batch);
      };
      accept(transport);
    });
  }
}

// --- broadcast ---

test("broadcast serialises the frame once: every receiver is handed the same bytes", async () => {
  const network = new SpyNetwork();
  const serverSide: WebSocketConnection<unknown>[] = [];
  const { server, url } = await setup({ network, protocols: [echo, { name: "news", open: (ws) => void serverSide.push(ws) }] });
  const news = await Promise.all([1, 2, 3].map(() => collector(url, network, ["news"])));
  const other = await collector(url, network, ["echo"]);
  await until(() => serverSide.length === 3, "the news connections");
  const before = new Map([...network.written].map(([t, chunks]) => [t, chunks.length]));
  const big = new Uint8Array(100_000).fill(7); // large: header and payload leave as separate chunks
  assert.equal(server.broadcast("news", "flash ✓"), 3);
  assert.equal(server.broadcast("news", big), 3);
  await until(() => news.every((c) => c.messages.length === 2), "both broadcasts everywhere");
  for (const c of news) {
    assert.equal(c.messages[0], "flash ✓");
    assert.deepEqual(c.messages[1], big);
  }
  assert.deepEqual(other.messages, [], "another protocol's connection got nothing");
  const sent = serverSide.map((ws) => network.written.get(ws.transport)!.slice(before.get(ws.transport)));
  assert.ok(sent[0]!.length >= 2, "the frames were written");
  for (const chunks of sent.slice(1)) {
    assert.equal(chunks.length, sent[0]!.length);
    chunks.forEach((chunk, i) => assert.ok(chunk === sent[0]![i], `chunk ${i} is the very same Uint8Array for every receiver`));
  }
  assert.ok(sent[0]!.includes(big), "the large payload itself, not a copy, behind its header");
  await server.close();
});

test("broadcast keeps each receiver's order with what it sent just before", async () => {
  const { network, server, url } = await setup({
    protocols: [{
      name: "news",
      message: (ws, m) => {
        ws.send(`before ${m}`);
        server.broadcast("news", `shared ${m}`);
        ws.send(`after ${m}`);
      },
    }],
  });
  const a = await collector(url, network, ["news"]);
  const b = await collector(url, network, ["news"]);
  a.ws.send("1");
  await until(() => a.messages.length === 3 && b.messages.length === 1, "the replies");
  assert.deepEqual(a.messages, ["before 1", "shared 1", "after 1"]);
  assert.deepEqual(b.messages, ["shared 1"]);
  await server.close();
});

test("a broadcast waits for the end of a message being sent in fragments", async () => {
  let serverWs: WebSocketConnection<unknown> | undefined;
  const { network, server, url } = await setup({ protocols: [{ name: "news", open: (ws) => void (serverWs = ws) }] });
  const c = await collector(url, network, ["news"]);
  await until(() => serverWs !== undefined, "the connection");
  serverWs!.sendFragment("one ", false);
  assert.equal(server.broadcast("news", "shared"), 1);
  await tick();
  serverWs!.sendFragment("message", true);
  await until(() => c.messages.length === 2, "both messages");
  assert.deepEqual(c.messages, ["one message", "shared"]);
  await server.close();
});

test("a receiver over maxBufferedAmount is closed with 1008 by a broadcast; the others keep receiving", async () => {
  const { network, server, url } = await setup({ maxBufferedAmount: 100_000, closeTimeout: 60_000, protocols: [{ name: "news" }] });
  const slow = await collector(url, network, ["news"]);
  const fast = await Promise.all([1, 2].map(() => collector(url, network, ["news"])));
  const slowClosed = deferred<number>();
  slow.ws.closed.then((info) => slowClosed.resolve(info.code));
  slow.ws.pause(); // reads nothing: the server's buffer towards it only grows
  const counts: number[] = [];
  for (let i = 0; i < 5; i++) {
    counts.push(server.broadcast("news", new Uint8Array(30_000).fill(i)));
    await until(() => fast.every((c) => c.messages.length === i + 1), `broadcast ${i} at the fast receivers`);
  }
  // 30k, 60k, 90k buffered for the slow one; the 4th would pass 100k: dropped, and the slow one closed.
  assert.deepEqual(counts, [3, 3, 3, 2, 2]);
  for (const c of fast) assert.deepEqual(c.messages.map((m) => (m as Uint8Array)[0]), [0, 1, 2, 3, 4]);
  slow.ws.resume();
  assert.equal(await within(slowClosed.promise), 1008);
  assert.deepEqual(slow.messages.map((m) => (m as Uint8Array)[0]), [0, 1, 2], "what was queued before the limit arrives, then the close");
  await server.close();
});

// --- publish / subscribe ---

test("publish reaches a topic's subscribers once each, serialised once, with except", async () => {
  const network = new SpyNetwork();
  const serverSide: WebSocketConnection<unknown>[] = [];
  const { server, url } = await setup({
    network,
    protocols: [{
      name: "pubsub",
      open: (ws) => void serverSide.push(ws),
      message: (ws, m) => {
        const [command, topic] = String(m).split(" ");
        if (command === "sub") ws.subscribe(topic!);
        if (command === "unsub") ws.unsubscribe(topic!);
        ws.send(`${command} ${topic} ${ws.isSubscribed(topic!)}`);
      },
    }],
  });
  const clients = await Promise.all([0, 1, 2, 3].map(() => collector(url, network)));
  for (const [i, topics] of [["a", "b"], ["a"], ["b"], []].entries()) {
    for (const topic of topics as string[]) clients[i]!.ws.send(`sub ${topic}`);
  }
  clients[0]!.ws.send("sub a"); // twice: still one subscription
  await until(() => server.subscriberCount("a") === 2 && server.subscriberCount("b") === 2, "the subscriptions");
  await until(() => clients[0]!.messages.length === 3, "the acknowledgements");
  assert.deepEqual(clients[0]!.messages, ["sub a true", "sub b true", "sub a true"]);
  assert.deepEqual(serverSide[0]!.subscriptions, ["a", "b"]);

  await until(() => clients[1]!.messages.length === 1 && clients[2]!.messages.length === 1, "the other acknowledgements");
  const before = new Map(serverSide.map((ws) => [ws, network.written.get(ws.transport)!.length]));
  assert.equal(server.publish("a", "to a"), 2);
  assert.equal(server.publish("b", "to b", { except: serverSide[0] }), 1);
  assert.equal(server.publish("nobody", "lost"), 0);
  await until(() => clients[0]!.messages.length === 4 && clients[1]!.messages.length === 2 && clients[2]!.messages.length === 2, "the publications");
  assert.deepEqual(clients[0]!.messages.slice(3), ["to a"], "not \"to b\": it was excepted");
  assert.deepEqual(clients[1]!.messages, ["sub a true", "to a"]);
  assert.deepEqual(clients[2]!.messages, ["sub b true", "to b"]);
  assert.deepEqual(clients[3]!.messages, []);
  const sentA = [0, 1].map((i) => network.written.get(serverSide[i]!.transport)!.slice(before.get(serverSide[i]!)));
  assert.equal(sentA[0]![0], sentA[1]![0], "the same frame object went to both subscribers of a");

  clients[1]!.ws.send("unsub a");
  await until(() => clients[1]!.messages.length === 3, "the unsubscription");
  assert.equal(clients[1]!.messages[2], "unsub a false");
  assert.equal(server.subscriberCount("a"), 1);
  clients[0]!.ws.close();
  await within(clients[0]!.ws.closed);
  await until(() => server.subscriberCount("a") === 0 && server.subscriberCount("b") === 1, "the closed connection to leave its topics");
  assert.deepEqual(serverSide[0]!.subscriptions, []);
  serverSide[0]!.subscribe("a"); // after close: ignored, nothing to leak
  assert.equal(server.subscriberCount("a"), 0);
  await server.close();
});

test("a client connection cannot subscribe: topics belong to a server", async () => {
  const { network, server, url } = await setup();
  const ws = await client(url, network);
  assert.throws(() => ws.subscribe("a"), InvalidStateError);
  assert.equal(ws.isSubscribed("a"), false);
  assert.deepEqual(ws.subscriptions, []);
  await server.close();
});

// --- between servers: broadcastChannel ---

test("broadcastChannel: broadcast and publish reach another server's connections, each exactly once", async () => {
  const name = `wsport-test-${Math.random()}`;
  const topicProtocol: Subprotocol = { name: "news", open: (ws) => ws.subscribe("headlines") };
  const a = await setup({ broadcastChannel: name, protocols: [topicProtocol] });
  const b = await setup({ broadcastChannel: name, protocols: [topicProtocol] });
  const atA = await collector(a.url, a.network, ["news"]);
  const atB = await Promise.all([1, 2].map(() => collector(b.url, b.network, ["news"])));
  await until(() => a.server.subscriberCount("headlines") === 1 && b.server.subscriberCount("headlines") === 2, "the subscriptions");
  assert.equal(a.server.broadcast("news", "one"), 1, "the count is this server's connections");
  assert.equal(b.server.publish("headlines", new Uint8Array([1, 2, 3])), 2);
  a.server.broadcast("news", "three");
  const all = [atA, ...atB];
  await until(() => all.every((c) => c.messages.length >= 3), "the three messages everywhere");
  await new Promise((r) => setTimeout(r, 50)); // a duplicate, if any, would follow closely
  // Each server's own messages keep their order; between two servers there is no order to keep.
  for (const c of all) assert.deepEqual(sorted(c.messages), sorted(["one", new Uint8Array([1, 2, 3]), "three"]));
  for (const c of all) assert.deepEqual(c.messages.filter((m) => typeof m === "string"), ["one", "three"]);
  await a.server.close();
  b.server.broadcast("news", "after a closed");
  await until(() => atB.every((c) => c.messages.length === 4), "b's own broadcast");
  await b.server.close();
});

test("broadcastChannel: a channel object that echoes to its poster still delivers once", async () => {
  // A hub that, unlike BroadcastChannel, delivers to every member, the poster included.
  const members: ((event: { data: unknown }) => void)[] = [];
  const channel = (): BroadcastChannelLike => ({
    postMessage: (data) => queueMicrotask(() => members.forEach((deliver) => deliver({ data: structuredClone(data) }))),
    addEventListener: (_type, listener) => void members.push(listener),
    close: () => {},
  });
  const a = await setup({ broadcastChannel: channel(), protocols: [{ name: "news" }] });
  const b = await setup({ broadcastChannel: channel(), protocols: [{ name: "news" }] });
  const atA = await collector(a.url, a.network, ["news"]);
  const atB = await collector(b.url, b.network, ["news"]);
  a.server.broadcast("news", "x");
  b.server.broadcast("news", "y");
  await until(() => atA.messages.length >= 2 && atB.messages.length >= 2, "both messages at both servers");
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sorted(atA.messages), ["x", "y"]);
  assert.deepEqual(sorted(atB.messages), ["x", "y"]);
  await a.server.close();
  await b.server.close();
});

test("a ChannelEngine as pubsub: server.subscribe() hears both servers, local: false reaches only the other, and pubsub with broadcastChannel is refused", async () => {
  const name = `wsport-test-${Math.random()}`;
  const a = await setup({ pubsub: new ChannelEngine(name), protocols: [{ name: "news" }] });
  const b = await setup({ broadcastChannel: name, protocols: [{ name: "news" }] });
  assert.ok(a.server.pubsub instanceof ChannelEngine && b.server.pubsub instanceof ChannelEngine);
  const heard: string[][] = [[], []];
  a.server.subscribe("events", (m) => void heard[0]!.push(String(m)));
  const stop = b.server.subscribe("events", (m) => void heard[1]!.push(String(m)));
  const atA = await collector(a.url, a.network, ["news"]);
  assert.equal(a.server.publish("events", "from a"), 0, "no connection subscribed");
  a.server.publish("events", "from a, to the others only", { local: false });
  assert.equal(a.server.broadcast("news", "to b's connections only", { local: false }), 0);
  b.server.publish("events", "from b");
  await until(() => heard[0]!.length >= 2 && heard[1]!.length >= 3, "the server-side subscribers");
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sorted(heard[0]!), ["from a", "from b"]);
  assert.deepEqual(sorted(heard[1]!), ["from a", "from a, to the others only", "from b"]);
  assert.deepEqual(atA.messages, [], "local: false left a's own connections out");
  stop();
  a.server.publish("events", "after b stopped listening");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(heard[1]!.length, 3);
  const quiet: BroadcastChannelLike = { postMessage: () => {}, addEventListener: () => {}, close: () => {} };
  assert.throws(() => createServer({ pubsub: new ChannelEngine(quiet), broadcastChannel: quiet }), TypeError);
  await a.server.close();
  await b.server.close();
});

// --- writable callbacks ---

test("requestWritable on a connection and on a protocol: drain at once when nothing is buffered", async () => {
  const drains = new Map<WebSocketConnection<unknown>, number>();
  const serverSide: WebSocketConnection<unknown>[] = [];
  const { network, server, url } = await setup({
    network: realNetwork,
    protocols: [
      { name: "w", open: (ws) => void serverSide.push(ws), drain: (ws) => void drains.set(ws, (drains.get(ws) ?? 0) + 1) },
      { name: "other", drain: () => assert.fail("another protocol's connection got a writable callback") },
    ],
  });
  const clients = await Promise.all([["w"], ["w"], ["other"]].map((p) => client(url, network, p)));
  await until(() => serverSide.length === 2, "the connections");
  assert.equal(server.requestWritable("w"), 2);
  await until(() => serverSide.every((ws) => drains.get(ws) === 1), "a drain on each connection of w");
  serverSide[0]!.requestWritable();
  await until(() => drains.get(serverSide[0]!) === 2, "the single connection's drain");
  assert.equal(drains.get(serverSide[1]!), 1);
  for (const ws of clients) ws.close();
  await server.close();
});

test("requestWritable while backed up: drain only once the peer reads again (real sockets)", async () => {
  const drains: number[] = [];
  let serverWs: WebSocketConnection<unknown> | undefined;
  const chunk = new Uint8Array(256 * 1024);
  const { network, server, url } = await setup({
    network: realNetwork,
    highWaterMark: 1024 * 1024,
    protocols: [{ name: "w", open: (ws) => void (serverWs = ws), drain: (ws) => void drains.push(ws.bufferedAmount) }],
  });
  let received = 0;
  const ws = await connect(url, { network, protocols: ["w"], pingInterval: 0, handlers: { message: () => void received++ } });
  await until(() => serverWs !== undefined, "the connection");
  ws.pause();
  let sent = 0;
  // Past the high-water mark even once the peer's socket buffers are full (32 MiB > any loopback buffer).
  while (sent < 128) {
    serverWs!.send(chunk);
    sent++;
  }
  const stuck = await settled(() => serverWs!.bufferedAmount, "the server's buffer");
  assert.ok(stuck >= 1024 * 1024, `still above the high-water mark (${stuck})`);
  assert.deepEqual(drains, [], "no backpressure drain while stuck either");
  server.requestWritable("w");
  serverWs!.requestWritable();
  await settled(() => drains.length, "no drain while backed up", 10);
  assert.deepEqual(drains, [], "no writable callback while above the high-water mark");
  ws.resume();
  await until(() => drains.length > 0, "the writable callback after the peer reads", 20_000);
  assert.ok(drains[0]! < 1024 * 1024, "it came when the buffer fell below the high-water mark");
  await until(() => received === sent, "every message", 20_000);
  ws.close();
  await server.close();
});

// --- receive flow control ---

test("pause() stops reading the socket: the peer's writes back up, and nothing is lost after resume() (real sockets)", async () => {
  const got: Uint8Array[] = [];
  let serverWs: WebSocketConnection<unknown> | undefined;
  const { network, server, url } = await setup({
    network: realNetwork,
    maxMessageSize: 1024 * 1024,
    protocols: [{
      name: "sink",
      open: (ws) => {
        serverWs = ws;
        ws.pause(); // before the peer sends anything
      },
      message: (_ws, m) => void got.push(m as Uint8Array),
    }],
  });
  let clientDrains = 0;
  const ws = await connect(url, { network, pingInterval: 0, handlers: { drain: () => void clientDrains++ } });
  await until(() => serverWs !== undefined, "the connection");
  const piece = 512 * 1024;
  const count = 64; // 32 MiB: more than the kernel's loopback buffers hold
  for (let i = 0; i < count; i++) ws.send(new Uint8Array(piece).fill(i & 0xff));
  const backlog = await settled(() => ws.bufferedAmount, "the client's send buffer");
  assert.ok(backlog > 0, "the client's writes back up while the server does not read");
  assert.equal(got.length, 0, "no message while paused");
  assert.equal(clientDrains, 0, "the client's drain does not fire while the server is paused");
  serverWs!.resume();
  await until(() => got.length === count, "every message after resume", 30_000);
  got.forEach((m, i) => {
    assert.equal(m.length, piece);
    assert.ok(m[0] === (i & 0xff) && m[piece - 1] === (i & 0xff), `message ${i} intact and in order`);
  });
  await until(() => clientDrains > 0, "the client's drain");
  ws.close();
  await server.close();
});

// --- the application's timeouts ---

test("startTimeout closes with 1008 and the reason; error and close handlers see it", async () => {
  const clock = new ManualClock();
  const errors: [string, string][] = [];
  const closes: [number, string, string | undefined][] = [];
  const { network, server, url } = await setup({
    clock,
    protocols: [{
      name: "auth",
      open: (ws) => ws.startTimeout(10_000, "no credentials in time"),
      message: (ws, m) => {
        if (m === "token") ws.cancelTimeout();
        if (m === "later") ws.startTimeout(1000, "custom", 4001);
      },
      error: (_ws, error) => void errors.push([(error as WebSocketError).code, error.message]),
      close: (ws, code, reason) => void closes.push([code, reason, ws.timeoutReason]),
    }],
  });
  const silent = await client(url, network);
  const authed = await client(url, network);
  authed.send("token");
  await tick();
  clock.advance(9_999);
  await tick();
  assert.equal(silent.readyState, 1, "not before the deadline");
  clock.advance(1);
  assert.deepEqual(await within(silent.closed), { code: 1008, reason: "no credentials in time", wasClean: true });
  await until(() => closes.length === 1, "the server's close handler");
  assert.deepEqual(errors, [["WS_ERR_TIMEOUT", "no credentials in time"]]);
  assert.deepEqual(closes, [[1008, "no credentials in time", "no credentials in time"]]);
  clock.advance(60_000);
  await tick();
  assert.equal(authed.readyState, 1, "a cancelled timeout does not fire");
  authed.send("later");
  await tick();
  clock.advance(1000);
  assert.deepEqual(await within(authed.closed), { code: 4001, reason: "custom", wasClean: true });
  await server.close();
});

test("startTimeout replaces the previous one and checks its arguments at once", async () => {
  const clock = new ManualClock();
  let serverWs: WebSocketConnection<unknown> | undefined;
  const { network, server, url } = await setup({ clock, protocols: [{ name: "t", open: (ws) => void (serverWs = ws) }] });
  const ws = await client(url, network);
  await until(() => serverWs !== undefined, "the connection");
  serverWs!.startTimeout(1000, "first");
  clock.advance(500);
  serverWs!.startTimeout(1000, "second"); // due at 1500, and the first is gone
  clock.advance(600);
  await tick();
  assert.equal(ws.readyState, 1);
  assert.throws(() => serverWs!.startTimeout(1000, "x".repeat(124)), RangeError);
  assert.throws(() => serverWs!.startTimeout(1000, "bad code", 1006), RangeError);
  assert.throws(() => serverWs!.startTimeout(-1, "negative"), RangeError);
  clock.advance(400);
  assert.deepEqual(await within(ws.closed), { code: 1008, reason: "second", wasClean: true });
  assert.equal(serverWs!.timeoutReason, "second");
  await server.close();
});

test("startTimeout on a peer that never answers: the close timer destroys it, the reason stays readable", async () => {
  const clock = new ManualClock();
  const closed = deferred<[number, string | undefined]>();
  const { network, server } = await setup({
    clock,
    closeTimeout: 2000,
    protocols: [{ name: "t", open: (ws) => ws.startTimeout(100, "too slow"), close: (ws, code) => closed.resolve([code, ws.timeoutReason]) }],
  });
  const peer = await rawConnect(network, server.port);
  peer.transport.write([handshake()]);
  await until(() => peer.text().includes("\r\n\r\n"), "the 101");
  clock.advance(100);
  await until(() => peer.received().at(-1 - "too slow".length - 3) === 0x88, "the close frame"); // 0x88 len code(2) reason
  clock.advance(2000); // the raw peer never answers
  assert.deepEqual(await within(closed.promise), [1006, "too slow"]);
  await within(peer.closed);
  await server.close();
});

test("the idle timeout is postponed by every message received", async () => {
  const clock = new ManualClock();
  const closed = deferred<[number, string]>();
  let serverMessages = 0;
  const { network, server, url } = await setup({
    clock,
    idleTimeout: 1000,
    protocols: [{ name: "i", message: () => void serverMessages++, close: (_ws, code, reason) => closed.resolve([code, reason]) }],
  });
  const ws = await client(url, network);
  for (let i = 1; i <= 5; i++) {
    clock.advance(900);
    ws.send("still here");
    await until(() => serverMessages === i, "the message");
  }
  assert.equal(ws.readyState, 1, "4.5 s of traffic, never 1 s of silence");
  clock.advance(1000);
  assert.deepEqual(await within(closed.promise), [1001, "idle timeout"]);
  await server.close();
});

test("the close timeout destroys a connection whose peer never answers ws.close()", async () => {
  const clock = new ManualClock();
  const closed = deferred<number>();
  let serverWs: WebSocketConnection<unknown> | undefined;
  const { network, server } = await setup({
    clock,
    closeTimeout: 3000,
    protocols: [{ name: "c", open: (ws) => void (serverWs = ws), close: (_ws, code) => closed.resolve(code) }],
  });
  const peer = await rawConnect(network, server.port);
  peer.transport.write([handshake()]);
  await until(() => serverWs !== undefined, "the connection");
  serverWs!.close(1000, "bye");
  await tick();
  clock.advance(2999);
  await tick();
  assert.equal(serverWs!.readyState, 2, "CLOSING until the timeout");
  clock.advance(1);
  assert.equal(await within(closed.promise), 1006);
  await within(peer.closed);
  await server.close();
});

// --- filter hooks, on real sockets ---

test("filterConnection sees the peer's address before any byte is read, and a refusal reads nothing (real sockets)", async () => {
  const seen: PeerInfo[] = [];
  let handshakes = 0;
  let refuse = true;
  const { network, server, url } = await setup({
    network: realNetwork,
    filterConnection: (peer) => {
      seen.push(peer);
      return !refuse;
    },
    filterHandshake: () => void handshakes++,
  });
  const peer = await rawConnect(network, server.port);
  const localPort = peer.transport.localPort; // read now: a closed socket forgets it
  peer.transport.write([handshake()]); // at once: the request is on its way before the filter runs
  await within(peer.closed, 5000, "the refused connection to close");
  assert.equal(peer.received().length, 0, "no byte of answer");
  assert.equal(handshakes, 0, "the request was never read");
  assert.equal(seen[0]!.remoteAddress.replace(/^::ffff:/, ""), "127.0.0.1");
  assert.equal(seen[0]!.remotePort, localPort);
  assert.ok(seen[0]!.raw, "the runtime's socket");
  refuse = false;
  const ws = await client(url, network);
  assert.equal(ws.readyState, 1);
  assert.equal(seen.length, 2);
  ws.close();
  await server.close();
});

test("filterHandshake sees path, headers, protocol and address, and refuses with status, headers and body (real sockets)", async () => {
  const seen: { path: string; token: string | undefined; protocol: string; address: string }[] = [];
  const { network, server, url } = await setup({
    network: realNetwork,
    protocols: [echo, { name: "chat" }],
    filterHandshake: (request: HandshakeRequest, protocol, peer) => {
      const token = request.head.headers.get("x-token") ?? undefined;
      seen.push({ path: request.path, token, protocol, address: peer.remoteAddress.replace(/^::ffff:/, "") });
      return token === "secret" ? undefined : { status: 401, body: "who are you?", headers: [["WWW-Authenticate", "Token"]] };
    },
  });
  const refused = await connect(`${url}room/7?x=1`, { network, protocols: ["chat"], pingInterval: 0 }).catch((e) => e);
  assert.ok(refused instanceof HandshakeError);
  assert.equal(refused.status, 401);
  const raw = await rawConnect(network, server.port);
  raw.transport.write([handshake("Sec-WebSocket-Protocol: chat\r\n")]);
  await within(raw.closed);
  assert.match(raw.text(), /^HTTP\/1\.1 401 [^\r]*\r\n/);
  assert.match(raw.text(), /\r\nWWW-Authenticate: Token\r\n/i);
  assert.ok(raw.text().endsWith("\r\n\r\nwho are you?"), raw.text());
  const ok = await connect(`${url}room/8`, { network, protocols: ["nope", "chat"], headers: { "X-Token": "secret" }, pingInterval: 0 });
  assert.equal(ok.protocol, "chat");
  assert.deepEqual(seen, [
    { path: "/room/7?x=1", token: undefined, protocol: "chat", address: "127.0.0.1" },
    { path: "/chat", token: undefined, protocol: "chat", address: "127.0.0.1" },
    { path: "/room/8", token: "secret", protocol: "chat", address: "127.0.0.1" },
  ]);
  ok.close();
  await server.close();
});

// --- peer and host names, native socket ---

test("lookupPeer returns a DNS server's PTR names without the final dot, and WS_ERR_LOOKUP_FAILED for NXDOMAIN (node:dns networks)", async (t) => {
  // The names come from a DNS server of the test's own (node:dns.setServers), so the answer is pinned on every machine.
  const dns = await import("node:dns");
  const ptr = await startPtrServer({
    "7.2.0.192.in-addr.arpa": ["pinned-a.example.", "pinned-b.example."],
    [`7.${"0.".repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`]: ["six.example."],
  });
  const saved = dns.getServers();
  dns.setServers([`127.0.0.1:${ptr.port}`]);
  try {
    for (const network of g.Bun ? [nodeNetwork, bunNetwork] : [nodeNetwork]) {
      await t.test(network.name, async () => {
        const server = createServer({ network });
        assert.deepEqual(await within(server.lookupPeer({ remoteAddress: "192.0.2.7" }), 15_000), ["pinned-a.example", "pinned-b.example"]);
        assert.deepEqual(await within(server.lookupPeer({ remoteAddress: "2001:db8::7" }), 15_000), ["six.example"]);
        await assert.rejects(server.lookupPeer({ remoteAddress: "192.0.2.8" }), (e: WebSocketError) =>
          e.code === "WS_ERR_LOOKUP_FAILED" && /192\.0\.2\.8/.test(e.message));
        await assert.rejects(server.lookupPeer({ remoteAddress: "not-an-address" }), (e: WebSocketError) => e.code === "WS_ERR_LOOKUP_FAILED");
      });
    }
    assert.ok(ptr.queries.includes("7.2.0.192.in-addr.arpa") && ptr.queries.includes("8.2.0.192.in-addr.arpa"), "the lookups asked our server");
  } finally {
    dns.setServers(saved);
    await ptr.close();
  }
});

test("lookupPeer on this runtime's own network says exactly what the runtime's resolver says for the connection's peer and ::1 (real sockets)", async () => {
  let serverWs: WebSocketConnection<unknown> | undefined;
  const { network, server, url } = await setup({ network: realNetwork, protocols: [{ name: "p", open: (ws) => void (serverWs = ws) }] });
  const ws = await client(url, network);
  await until(() => serverWs !== undefined, "the connection");
  for (const peer of [serverWs!, { remoteAddress: "::1" }]) {
    // The oracle: the runtime's own resolver, asked directly (this machine's hosts file and DNS decide what it says).
    const expected = await resolverSays(peer.remoteAddress);
    if (expected.ok) {
      // The same names; their order is not (Deno's resolver returns hosts-file names in any order).
      const names = await within(server.lookupPeer(peer), 15_000, "the reverse lookup");
      assert.deepEqual([...names].sort(), [...expected.names].sort(), peer.remoteAddress);
    } else {
      await assert.rejects(within(server.lookupPeer(peer), 15_000, "the reverse lookup"), (e: WebSocketError) =>
        e.code === "WS_ERR_LOOKUP_FAILED" && e.message.includes(peer.remoteAddress) && !/not an IP address/.test(e.message));
    }
  }
  assert.equal(server.canonicalHostname(), os.hostname());
  ws.close();
  await server.close();
});

/** What this runtime's resolver answers for an address's PTR names, without wsport. */
async function resolverSays(address: string): Promise<{ ok: true; names: string[] } | { ok: false }> {
  try {
    if (runtime === "deno") {
      const deno = (globalThis as unknown as { Deno: { resolveDns(name: string, type: "PTR"): Promise<string[]> } }).Deno;
      const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
      const name = v4 ? `${v4[4]}.${v4[3]}.${v4[2]}.${v4[1]}.in-addr.arpa` : "1." + "0.".repeat(31) + "ip6.arpa";
      if (!v4 && address !== "::1") throw new Error(`the oracle knows IPv4 and ::1 only, not ${address}`);
      return { ok: true, names: (await deno.resolveDns(name, "PTR")).map((n) => n.replace(/\.$/, "")) };
    }
    const dns = await import("node:dns");
    return { ok: true, names: await dns.promises.reverse(address) };
  } catch (error) {
    if (error instanceof Error && /oracle knows/.test(error.message)) throw error;
    return { ok: false };
  }
}

test("the runtime's own socket is exposed on the connection and to the hooks (real sockets)", async () => {
  let serverWs: WebSocketConnection<unknown> | undefined;
  let filtered: unknown;
  const { network, server, url } = await setup({
    network: realNetwork,
    filterConnection: (peer) => ((filtered = peer.raw), true),
    protocols: [{ name: "p", open: (ws) => void (serverWs = ws) }],
  });
  const ws = await client(url, network);
  await until(() => serverWs !== undefined, "the connection");
  const raw = serverWs!.transport.raw as Record<string, unknown>;
  assert.equal(raw, filtered);
  if (runtime === "node") assert.ok(raw instanceof net.Socket, "a net.Socket");
  if (runtime === "deno") assert.ok(typeof raw.read === "function" && typeof raw.closeWrite === "function", "a Deno.Conn");
  if (runtime === "bun") assert.ok(typeof raw.write === "function" && raw.remotePort === ws.transport.localPort, "a Bun socket");
  assert.ok(ws.transport.raw, "the client's too");
  ws.close();
  await server.close();
});

test("lookupPeer and canonicalHostname say clearly when the network cannot", async () => {
  const { server } = await setup();
  await assert.rejects(server.lookupPeer({ remoteAddress: "127.0.0.1" }), (e: WebSocketError) => e.code === "WS_ERR_LOOKUP_UNSUPPORTED");
  assert.throws(() => server.canonicalHostname(), (e: WebSocketError) => e.code === "WS_ERR_HOSTNAME_UNSUPPORTED");
  await server.close();
});

// --- hang up one connection; shut the server down ---

test("terminate() hangs up one connection at once; close() from the server ends one cleanly; others go on (real sockets)", async () => {
  const serverSide: WebSocketConnection<unknown>[] = [];
  const serverCloses: number[] = [];
  const { network, server, url } = await setup({
    network: realNetwork,
    protocols: [{ ...echo, open: (ws) => void serverSide.push(ws), close: (_ws, code) => void serverCloses.push(code) }],
  });
  const [doomed, closed, survivor] = await Promise.all([1, 2, 3].map(() => client(url, network)));
  await until(() => serverSide.length === 3, "the connections");
  serverSide[0]!.terminate();
  assert.deepEqual(await within(doomed!.closed), { code: 1006, reason: "", wasClean: false });
  serverSide[1]!.close(4001, "you are done");
  assert.deepEqual(await within(closed!.closed), { code: 4001, reason: "you are done", wasClean: true });
  await until(() => serverCloses.length === 2, "the server's close handlers");
  assert.deepEqual(serverCloses, [1006, 4001]);
  assert.equal(server.connections.size, 1);
  survivor!.send("still served");
  assert.equal(await nextMessage(survivor!), "still served");
  survivor!.close();
  await server.close();
});

test("Server.close() over real sockets: 1001 to everyone, all closed, the port no longer accepts", async () => {
  const { network, server, url } = await setup({ network: realNetwork });
  const clients = await Promise.all([1, 2, 3].map(() => client(url, network)));
  await within(server.close({ reason: "maintenance" }));
  for (const ws of clients) assert.deepEqual(await within(ws.closed), { code: 1001, reason: "maintenance", wasClean: true });
  assert.equal(server.connections.size, 0);
  await assert.rejects(within(client(url, network), 5000, "the refused connection"));
});

// --- reusePort ---

test("reusePort: two servers share a port where the network supports it, else a clear error", async () => {
  const networks: [string, Network][] = [["node", nodeNetwork]];
  if (runtime !== "node") networks.push([runtime, realNetwork]);
  for (const [name, network] of networks) {
    const first = await serve({ network, hostname: "127.0.0.1", reusePort: true, pingInterval: 0, protocols: [echo] }).catch((e) => e);
    if (first instanceof Error) {
      assert.equal((first as WebSocketError).code, "WS_ERR_REUSE_PORT_UNSUPPORTED", `${name}: ${first}`);
      assert.match(first.message, name === "deno" ? /--unstable-net|Linux/ : /22\.12|Linux/);
      if (name === "node" && runtime === "node") assert.ok(Number(process.versions.node.split(".")[0]) < 23, "only old Nodes refuse");
      continue;
    }
    const second = await serve({ network, hostname: "127.0.0.1", port: first.port, reusePort: true, pingInterval: 0, protocols: [echo] });
    assert.equal(second.port, first.port);
    const ws = await client(`ws://127.0.0.1:${first.port}/`, network);
    ws.send("through a shared port");
    assert.equal(await nextMessage(ws), "through a shared port");
    assert.equal(first.connections.size + second.connections.size, 1, "served by one of the two");
    ws.close();
    await first.close();
    await second.close();
  }
});

// --- dropping privileges ---

test("preparePrivilegeDrop: supplementary groups, then gid, then uid; refusals say why", () => {
  const calls: string[] = [];
  const full: ProcessCredentials = {
    geteuid: () => 0,
    getgroups: () => [0, 4242],
    setgroups: (groups) => void calls.push(`setgroups ${groups}`),
    setgid: (id) => void calls.push(`setgid ${id}`),
    setuid: (id) => void calls.push(`setuid ${id}`),
  };
  const drop = preparePrivilegeDrop(full, { uid: 65534, gid: 65534 }, "test");
  assert.deepEqual(calls, [], "nothing happens before the listener is bound");
  drop();
  assert.deepEqual(calls, ["setgroups 65534", "setgid 65534", "setuid 65534"]);
  const unsupported = (e: WebSocketError) => e.code === "WS_ERR_PRIVILEGES_UNSUPPORTED";
  const { setgroups: _setgroups, ...noSetgroups } = full;
  assert.throws(() => preparePrivilegeDrop(noSetgroups, { uid: 1, gid: 1 }, "test"), (e: WebSocketError) => unsupported(e) && /0, 4242/.test(e.message));
  assert.doesNotThrow(() => preparePrivilegeDrop({ ...noSetgroups, getgroups: () => [] }, { uid: 1, gid: 1 }, "test"));
  assert.throws(() => preparePrivilegeDrop({ ...full, setuid: undefined }, { uid: 1 }, "test"), unsupported);
  assert.throws(() => preparePrivilegeDrop(full, { uid: 1 }, "test", false), (e: WebSocketError) => unsupported(e) && /worker thread/.test(e.message));
});

test("serve({ uid }) on a network that cannot switch users is refused before listening", async () => {
  const network = new MemoryNetwork();
  await assert.rejects(serve({ network, port: 4321, uid: 65534, gid: 65534 }), (e: WebSocketError) => e.code === "WS_ERR_PRIVILEGES_UNSUPPORTED");
  await assert.rejects(network.connect({ hostname: "127.0.0.1", port: 4321 }), /refused/, "nothing was listening");
});

const isRoot = (process as { getuid?: () => number }).getuid?.() === 0;
/** util-linux's setpriv starts a child with chosen supplementary groups. */
const hasSetpriv = spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;

/**
 * Runs a small server in a child process of this runtime that drops to
 * uid/gid 65534 once listening, and talks to it from here.
 */
async function childDroppingPrivileges(prefix: string[]): Promise<{ report: Record<string, unknown> | undefined; stderr: string; code: number | null }> {
  const dir = mkdtempSync(join(os.tmpdir(), "wsport-uid-"));
  const script = join(dir, "drop.mts"); // .mts: an ES module (top-level await) even outside a package
  const mod = pathToFileURL(join(process.cwd(), "mod.ts")).href;
  writeFileSync(script, `
    import process from "node:process";
    import { serve } from ${JSON.stringify(mod)};
    try {
      const server = await serve({
        hostname: "127.0.0.1", port: 0, uid: 65534, gid: 65534, pingInterval: 0,
        protocols: [{ name: "echo", message: (ws, m) => ws.send(m + " from uid " + process.getuid()) }],
      });
      console.log(JSON.stringify({ port: server.port, uid: process.getuid(), gid: process.getgid(), groups: process.getgroups?.() }));
      process.stdin.on("data", () => {});
      process.stdin.on("end", () => server.close().then(() => process.exit(0)));
    } catch (error) {
      console.log(JSON.stringify({ error: String(error), code: error.code }));
      process.exit(3);
    }
  `);
  // The script lives outside the repository: Deno is pointed at the repository's configuration (its npm dependencies).
  const config = join(process.cwd(), "deno.json");
  const runtimeArgs = runtime === "deno" ? ["run", "-A", "--config", config, script] : runtime === "bun" ? [script] : ["--import", "tsx", script];
  const [command, ...args] = [...prefix, process.execPath, ...runtimeArgs];
  const child = spawn(command!, args, { stdio: ["pipe", "pipe", "pipe"], cwd: process.cwd() });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const first = await within(createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next(), 30_000, "the child's report");
    const report = first.done ? undefined : JSON.parse(String(first.value)) as Record<string, unknown>;
    if (report && typeof report.port === "number") {
      const ws = await client(`ws://127.0.0.1:${report.port}/`, realNetwork);
      ws.send("hello");
      report.echo = await nextMessage(ws);
      ws.close();
      await within(ws.closed);
    }
    child.stdin!.end();
    const code = await within(exited, 15_000, "the child to exit");
    return { report, stderr, code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

test("serve({ uid, gid }) drops to nobody once listening and keeps serving (child process)", {
  skip: skipIf(!isRoot ? "needs root" : runtime === "deno" && !hasSetpriv ? "Deno needs setpriv to start without supplementary groups" : false),
}, async () => {
  // Start with supplementary groups where they can be cleared, to see them go; Deno cannot clear them, so it starts without.
  const prefix = !hasSetpriv ? [] : runtime === "deno" ? ["setpriv", "--clear-groups", "--"] : ["setpriv", "--groups=4242", "--"];
  const { report, stderr, code } = await childDroppingPrivileges(prefix);
  assert.ok(report && report.error === undefined, `child: ${JSON.stringify(report)} ${stderr}`);
  assert.equal(report.uid, 65534);
  assert.equal(report.gid, 65534);
  if (Array.isArray(report.groups)) assert.ok(report.groups.every((group) => group === 65534), `groups ${report.groups}`);
  assert.equal(report.echo, "hello from uid 65534");
  assert.equal(code, 0);
});

test("serve({ uid, gid }) on Deno with supplementary groups it cannot clear: refused before listening (child process)", {
  skip: skipIf(runtime !== "deno" ? "Deno only (Node and Bun clear them)" : !isRoot ? "needs root" : !hasSetpriv ? "needs setpriv" : false),
}, async () => {
  const { report, code } = await childDroppingPrivileges(["setpriv", "--groups=4242", "--"]);
  assert.equal(report?.code, "WS_ERR_PRIVILEGES_UNSUPPORTED", JSON.stringify(report));
  assert.match(String(report?.error), /setgroups.*4242/);
  assert.equal(code, 3);
});

function handshake(extra = ""): Uint8Array {
  return enc.encode(
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
}

/** A network whose server-side transports count reads of the peer's address. */
function addressCountingNetwork(): { network: Network; reads: () => number } {
  const inner = new MemoryNetwork();
  let reads = 0;
  const network: Network = Object.assign(Object.create(inner) as Network, {
    listen: (options: Parameters<Network["listen"]>[0], accept: (transport: Transport) => void) =>
      inner.listen(options, (transport) =>
        accept(new Proxy(transport, {
          get(target, key) {
            if (key === "remoteAddress" || key === "remotePort") reads++;
            const value = Reflect.get(target, key, target);
            return typeof value === "function" ? value.bind(target) : value;
          },
        }))),
    connect: inner.connect.bind(inner),
  });
  return { network, reads: () => reads };
}

test("the server reads a peer's address only when a hook asks for it (an idle connection costs no address lookup)", async () => {
  const quiet = addressCountingNetwork();
  const { server, url } = await setup({ network: quiet.network });
  const ws = await client(url, quiet.network, ["echo"]);
  ws.send("hi");
  assert.equal(await nextMessage(ws), "hi");
  assert.equal(quiet.reads(), 0, "no hook, no read of the peer's address");
  ws.close();
  await ws.closed;
  await server.close();

  const asked = addressCountingNetwork();
  const seen: string[] = [];
  const withHook = await setup({
    network: asked.network,
    protocols: [{ ...echo, data: (_request: HandshakeRequest, peer: PeerInfo) => void seen.push(peer.remoteAddress) }],
  });
  const ws2 = await client(withHook.url, asked.network, ["echo"]);
  ws2.close();
  await ws2.closed;
  assert.equal(seen.length, 1);
  assert.ok(asked.reads() >= 1, "a data() hook gets the address");
  await withHook.server.close();
});
