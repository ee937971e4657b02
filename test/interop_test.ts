// Interop with implementations nobody here wrote, over real sockets on
// 127.0.0.1, using this runtime's own adapter (Deno.listen on Deno,
// Bun.listen on Bun, node:net on Node). Every pair runs the same script
// (test/peers/peers.ts): subprotocol choice, text, binary over 64 KiB,
// ping/pong, a client-initiated close (4000 "bye") and a server-initiated
// one (4001 "server bye").
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import WsWebSocket, { WebSocketServer } from "ws";
import { runtimeNetwork } from "../mod.ts";
import { connect } from "../src/services/client.ts";
import { type Server, serve } from "../src/services/server.ts";
import type { Message, WebSocketConnection } from "../src/services/connection.ts";
import {
  BROWSER_PAGE_HTML,
  chromiumMissing,
  type ExchangeResult,
  exchangeProblems,
  pythonWebsocketsMissing,
  runBrowserExchange,
  runPythonClient,
  startPythonServer,
} from "./peers/peers.ts";
import { deferred, within } from "./helpers.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { skipIf } from "./skips.ts";

// Browsers and interpreters start slowly on a loaded 2-core machine; bun test defaults to 5 s.
const PEER_TIMEOUT = 60_000;

const g = globalThis as { Deno?: DenoLike; Bun?: BunLike; WebSocket?: typeof WebSocket };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
const PROTOCOLS = ["wsport-test", "other-proto"];
const BIG = new Uint8Array(100_000).map((_, i) => i & 0xff);

interface DenoLike {
  serve(options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void }, handler: (request: Request) => Response): { addr: { port: number }; shutdown(): Promise<void> };
  upgradeWebSocket(request: Request, options?: { protocol?: string }): { socket: WebSocket; response: Response };
}
interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: { upgrade(request: Request, options?: { headers?: Record<string, string> }): boolean }): Response | undefined;
    websocket: {
      message(ws: { send(data: string | Uint8Array): void; close(code?: number, reason?: string): void }, message: string | Uint8Array): void;
    };
  }): { port: number; stop(force?: boolean): void };
}

// --- the wsport server side of the script ---

async function wsportServer(): Promise<{ server: Server; url: string; page: string }> {
  const server = await serve({
    network: await runtimeNetwork(),
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{
      name: "wsport-test",
      message: (ws, message) => {
        if (message === "close-me") ws.close(4001, "server bye");
        else ws.send(message);
      },
    }],
    fetch: () => new Response(BROWSER_PAGE_HTML, { headers: { "content-type": "text/html; charset=utf-8" } }),
  });
  return { server, url: `ws://127.0.0.1:${server.port}/ws`, page: `http://127.0.0.1:${server.port}/` };
}

// --- the wsport client side of the script ---

async function next(ws: WebSocketConnection<unknown>): Promise<Message> {
  const result = await within(ws[Symbol.asyncIterator]().next(), 10_000, "a message");
  if (result.done) throw new Error("closed before a message");
  return result.value;
}

async function wsportClientExchange(url: string): Promise<ExchangeResult> {
  const network = await runtimeNetwork();
  const pong = deferred<Uint8Array>();
  const a = await connect(url, { network, protocols: PROTOCOLS, pingInterval: 0, handlers: { pong: (_ws, data) => pong.resolve(data) } });
  a.send("hello ✓");
  const text = (await next(a)) === "hello ✓";
  a.send(BIG);
  const echoed = await next(a);
  const binary = echoed instanceof Uint8Array && echoed.length === BIG.length && echoed.every((b, i) => b === BIG[i]);
  a.ping("ping!");
  const ping = new TextDecoder().decode(await within(pong.promise, 10_000, "a pong")) === "ping!";
  a.close(4000, "bye");
  const closedA = await within(a.closed, 10_000, "close A");
  const b = await connect(url, { network, protocols: PROTOCOLS, pingInterval: 0 });
  b.send("close-me");
  const closedB = await within(b.closed, 10_000, "close B");
  return { protocol: a.protocol, text, binary, ping, closeA: [closedA.code, closedA.reason], closeB: [closedB.code, closedB.reason] };
}

// --- a client exchange with a WHATWG-style WebSocket (ws, or the runtime's own) ---

type AnyWebSocket = {
  binaryType: string;
  protocol: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
};

function openSocket(make: () => AnyWebSocket): Promise<{ socket: AnyWebSocket; next(): Promise<any> }> {
  return new Promise((resolve, reject) => {
    const socket = make();
    socket.binaryType = "arraybuffer";
    const queue: any[] = [];
    const waiters: ((event: any) => void)[] = [];
    const push = (event: any) => {
      const waiter = waiters.shift();
      if (waiter) waiter(event);
      else queue.push(event);
    };
    socket.addEventListener("message", (event) => push({ type: "message", data: event.data }));
    socket.addEventListener("close", (event) => push({ type: "close", code: event.code, reason: event.reason }));
    socket.addEventListener("error", () => reject(new Error("could not connect")));
    socket.addEventListener("open", () =>
      resolve({
        socket,
        next: () => within(queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)), 10_000, "a socket event"),
      }));
  });
}

async function standardClientExchange(make: (protocols: string[]) => AnyWebSocket): Promise<ExchangeResult> {
  const a = await openSocket(() => make(PROTOCOLS));
  a.socket.send("hello ✓");
  const text = (await a.next()).data === "hello ✓";
  a.socket.send(BIG);
  const data = new Uint8Array((await a.next()).data);
  const binary = data.length === BIG.length && data.every((v, i) => v === BIG[i]);
  a.socket.close(4000, "bye");
  const closeA = await a.next();
  const b = await openSocket(() => make(PROTOCOLS));
  b.socket.send("close-me");
  const closeB = await b.next();
  return { protocol: a.socket.protocol, text, binary, ping: "n/a", closeA: [closeA.code, closeA.reason], closeB: [closeB.code, closeB.reason] };
}

function assertExchange(result: ExchangeResult): void {
  assert.deepEqual(exchangeProblems(result), [], JSON.stringify(result));
}

// --- wsport server with foreign clients ---

test(`interop (${runtime}): ws client → wsport server`, async () => {
  const { server, url } = await wsportServer();
  try {
    // ws offers ping/pong on its own API: check it on top of the standard script.
    const result = await standardClientExchange((protocols) => new WsWebSocket(url, protocols) as unknown as AnyWebSocket);
    assertExchange(result);
    const socket = new WsWebSocket(url, PROTOCOLS);
    await new Promise((resolve) => socket.once("open", resolve));
    const pong = new Promise<string>((resolve) => socket.once("pong", (data) => resolve(String(data))));
    socket.ping("ping!");
    assert.equal(await within(pong), "ping!");
    socket.terminate();
  } finally {
    await server.close();
  }
});

test(`interop (${runtime}): the runtime's built-in WebSocket client → wsport server`, {
  skip: skipIf(!g.WebSocket && "no built-in WebSocket client here (Node 20 has one behind --experimental-websocket, which npm test passes)"),
}, async () => {
  const { server, url } = await wsportServer();
  try {
    assertExchange(await standardClientExchange((protocols) => new g.WebSocket!(url, protocols) as unknown as AnyWebSocket));
  } finally {
    await server.close();
  }
});

test(`interop (${runtime}): python websockets client → wsport server`, { skip: skipUnlessPeer(pythonWebsocketsMissing()), timeout: PEER_TIMEOUT }, async () => {
  const { server, url } = await wsportServer();
  try {
    assertExchange(await runPythonClient(url));
  } finally {
    await server.close();
  }
});

test(`interop (${runtime}): headless Chromium → wsport server (page served by wsport's HTTP handler)`, { skip: skipUnlessPeer(chromiumMissing()), timeout: PEER_TIMEOUT }, async () => {
  const { server, page } = await wsportServer();
  try {
    assertExchange(await runBrowserExchange(page));
  } finally {
    await server.close();
  }
});

// --- wsport client with foreign servers ---

test(`interop (${runtime}): wsport client → ws server`, async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => (protocols.has("wsport-test") ? "wsport-test" : false) });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => {
      if (!isBinary && String(data) === "close-me") ws.close(4001, "server bye");
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  try {
    assertExchange(await wsportClientExchange(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/ws`));
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }
});

test(`interop (${runtime}): wsport client → Deno.upgradeWebSocket server`, { skip: skipIf(!g.Deno && "runs under Deno only") }, async () => {
  const listening = deferred<number>();
  const httpServer = g.Deno!.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => listening.resolve(port) }, (request) => {
    const { socket, response } = g.Deno!.upgradeWebSocket(request, { protocol: "wsport-test" });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      if (event.data === "close-me") socket.close(4001, "server bye");
      else socket.send(event.data);
    };
    return response;
  });
  try {
    assertExchange(await wsportClientExchange(`ws://127.0.0.1:${await listening.promise}/ws`));
  } finally {
    await httpServer.shutdown();
  }
});

test(`interop (${runtime}): wsport client → Bun.serve websocket server`, { skip: skipIf(!g.Bun && "runs under Bun only") }, async () => {
  const bunServer = g.Bun!.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, server) => (server.upgrade(request, { headers: { "Sec-WebSocket-Protocol": "wsport-test" } }) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      message: (ws, message) => {
        if (message === "close-me") ws.close(4001, "server bye");
        else ws.send(message);
      },
    },
  });
  try {
    assertExchange(await wsportClientExchange(`ws://127.0.0.1:${bunServer.port}/ws`));
  } finally {
    bunServer.stop(true);
  }
});

test(`interop (${runtime}): wsport client → python websockets server`, { skip: skipUnlessPeer(pythonWebsocketsMissing()), timeout: PEER_TIMEOUT }, async () => {
  const python = await startPythonServer();
  try {
    assertExchange(await wsportClientExchange(`ws://127.0.0.1:${python.port}/ws`));
  } finally {
    await python.stop();
  }
});
