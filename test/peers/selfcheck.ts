// Checks the peer drivers themselves, with the `ws` npm package standing in
// for wsport on the other end:
//   - a ws server (page at "/", WebSocket at "/ws") against the Python client
//     and against Chromium's WebSocket;
//   - a ws client against the Python server.
// Not a *_test.ts file on purpose: the suite must not depend on it. Run:
//   node --import tsx test/peers/selfcheck.ts
//   node_modules/.bin/bun test/peers/selfcheck.ts
//   node_modules/.bin/deno run -A test/peers/selfcheck.ts
// Exits 1 if any check failed; a peer that is not installed is skipped
// with its reason (and does not fail the run).

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { WebSocket, WebSocketServer } from "ws";
import {
  BROWSER_PAGE_HTML,
  chromiumMissing,
  type ExchangeResult,
  exchangeProblems,
  pythonWebsocketsMissing,
  runBrowserExchange,
  runPythonClient,
  startPythonServer,
} from "./peers.ts";

const TIMEOUT = 10_000;

// ---------------------------------------------------------------------------
// Server side of the exchange on ws.

async function startWsServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const http = createServer((req, res) => {
    if (req.url === "/" || req.url?.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(BROWSER_PAGE_HTML);
    } else {
      res.writeHead(404).end();
    }
  });
  const wss = new WebSocketServer({
    server: http,
    path: "/ws",
    handleProtocols: (offered) => (offered.has("wsport-test") ? "wsport-test" : false),
  });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.toString() === "close-me") ws.close(4001, "server bye");
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    port: (http.address() as AddressInfo).port,
    stop: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

// ---------------------------------------------------------------------------
// Client side of the exchange on ws (the same script as python_client.py).

/** Resolves with the next event of `kind`, or rejects after TIMEOUT. */
function next<T extends unknown[]>(ws: WebSocket, kind: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off(kind, on);
      reject(new Error(`timed out waiting for ${kind}`));
    }, TIMEOUT);
    function on(...args: unknown[]) {
      clearTimeout(timer);
      resolve(args as T);
    }
    ws.once(kind, on);
  });
}

async function step<T>(name: string, fn: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    console.error(`ws client: ${name}: ${(e as Error).message}`);
    return fallback;
  }
}

async function wsClientExchange(url: string): Promise<ExchangeResult> {
  const connect = async () => {
    const ws = new WebSocket(url, ["wsport-test", "other-proto"], { handshakeTimeout: TIMEOUT });
    // The close listener goes on before anything can close, so no close is missed.
    const closed = next<[number, Buffer]>(ws, "close").then(([code, reason]): [number, string] => [code, reason.toString()]);
    closed.catch(() => {}); // awaited later; a timeout there is reported there
    await Promise.race([
      next(ws, "open"),
      next<[Error]>(ws, "error").then(([e]) => Promise.reject(e)),
    ]);
    return { ws, closed };
  };

  const a = await connect();
  const protocol = a.ws.protocol;
  const text = await step("text", async () => {
    a.ws.send("hello ✓");
    const [data, isBinary] = await next<[Buffer, boolean]>(a.ws, "message");
    return !isBinary && data.toString() === "hello ✓";
  }, false);
  const binary = await step("binary", async () => {
    const sent = Buffer.alloc(100_000, 0).map((_, i) => i % 256);
    a.ws.send(sent);
    const [data, isBinary] = await next<[Buffer, boolean]>(a.ws, "message");
    return isBinary && Buffer.compare(data, sent) === 0;
  }, false);
  const ping = await step("ping", async () => {
    a.ws.ping("ping!");
    const [data] = await next<[Buffer]>(a.ws, "pong");
    return data.toString() === "ping!";
  }, false);
  a.ws.close(4000, "bye");
  const closeA = await step("close A", () => a.closed, [1006, ""] as [number, string]);

  const b = await connect();
  b.ws.send("close-me");
  const closeB = await step("close B", () => b.closed, [1006, ""] as [number, string]);
  b.ws.terminate();

  return { protocol, text, binary, ping, closeA, closeB };
}

// ---------------------------------------------------------------------------

const outcomes: { name: string; ok: boolean | "skipped"; detail: string }[] = [];

async function check(name: string, missing: string | undefined, run: () => Promise<ExchangeResult>) {
  if (missing) {
    outcomes.push({ name, ok: "skipped", detail: missing });
    return;
  }
  try {
    const result = await run();
    const problems = exchangeProblems(result);
    outcomes.push({ name, ok: problems.length === 0, detail: JSON.stringify(result) + (problems.length ? `\n    ${problems.join("; ")}` : "") });
  } catch (e) {
    outcomes.push({ name, ok: false, detail: (e as Error).stack ?? String(e) });
  }
}

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const pythonMissing = pythonWebsocketsMissing();
const browserMissing = chromiumMissing();

const server = await startWsServer();
try {
  const base = `127.0.0.1:${server.port}`;
  await check("python client -> ws server", pythonMissing, () => runPythonClient(`ws://${base}/ws`));
  await check("chromium -> ws server", browserMissing, () => runBrowserExchange(`http://${base}/`));
} finally {
  await server.stop();
}

await check("ws client -> python server", pythonMissing, async () => {
  const python = await startPythonServer();
  try {
    return await wsClientExchange(`ws://127.0.0.1:${python.port}/any/path`);
  } finally {
    await python.stop();
  }
});

console.log(`selfcheck under ${runtime}:`);
for (const o of outcomes) console.log(`  ${o.ok === true ? "ok  " : o.ok === false ? "FAIL" : "skip"} ${o.name}: ${o.detail}`);
const failed = outcomes.filter((o) => o.ok === false).length;
console.log(`${outcomes.filter((o) => o.ok === true).length} passed, ${failed} failed, ${outcomes.filter((o) => o.ok === "skipped").length} skipped`);
process.exit(failed ? 1 : 0);
