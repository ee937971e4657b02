// The examples as users run them: a child process of this same runtime
// (node + tsx, deno run -A, bun), driven over real sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import * as net from "node:net";
import process from "node:process";
import WsWebSocket, { WebSocketServer } from "ws";
import { within } from "./helpers.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { opensslMissing } from "./certificate.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };

function run(script: string, args: string[]): ChildProcess {
  const runtimeArgs = g.Deno ? ["run", "-A", script] : g.Bun ? [script] : ["--import", "tsx", script];
  return spawn(process.execPath, [...runtimeArgs, ...args], { stdio: ["ignore", "pipe", "inherit"] });
}

function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function startEcho(extra: string[] = []): Promise<{ port: number; child: ChildProcess }> {
  const child = run("examples/echo.ts", ["--port", "0", "--host", "127.0.0.1", ...extra]);
  const first = await within(lines(child).next(), 20_000, "the echo server to start");
  const port = Number(/:(\d+)\//.exec(String(first.value))?.[1]);
  assert.ok(port > 0, `unexpected output ${first.value}`);
  return { port, child };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

test("examples/echo.ts echoes text as text and binary as binary", async () => {
  const { port, child } = await startEcho();
  try {
    const socket = new WsWebSocket(`ws://127.0.0.1:${port}/`);
    await within(new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject)));
    const got: [string, boolean][] = [];
    const done = new Promise<void>((resolve) => socket.on("message", (data, isBinary) => {
      got.push([isBinary ? [...(data as Uint8Array)].join(",") : String(data), isBinary]);
      if (got.length === 2) resolve();
    }));
    socket.send("hello ✓");
    socket.send(new Uint8Array([1, 2, 3]));
    await within(done);
    assert.deepEqual(got, [["hello ✓", false], ["1,2,3", true]]);
    socket.close(1000);
  } finally {
    await stop(child);
  }
});

test("examples/echo.ts --deflate negotiates permessage-deflate with ws and echoes compressed messages", async () => {
  const { port, child } = await startEcho(["--deflate"]);
  try {
    const socket = new WsWebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
    await within(new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject)));
    assert.match(socket.extensions, /^permessage-deflate/);
    const big = "compress me ".repeat(10_000);
    const got: string[] = [];
    const done = new Promise<void>((resolve) => socket.on("message", (data, isBinary) => {
      got.push(isBinary ? `binary:${(data as Uint8Array).length}` : String(data));
      if (got.length === 3) resolve();
    }));
    socket.send("hello");
    socket.send(big);
    socket.send(new Uint8Array(100_000));
    await within(done);
    assert.deepEqual(got, ["hello", big, "binary:100000"]);
    socket.close(1000);
  } finally {
    await stop(child);
  }
});

test("examples/echo.ts fails a fragmented text message at its first invalid UTF-8 byte (1007)", async () => {
  const { port, child } = await startEcho();
  try {
    // Raw TCP: the first fragment is valid, the second holds an invalid byte, the last never comes.
    const socket = net.connect({ host: "127.0.0.1", port });
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => void received.push(chunk));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    await within(new Promise((resolve) => socket.once("connect", resolve)));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    socket.write(Buffer.from([0x01, 0x82, 0, 0, 0, 0, 0x68, 0x69])); // "hi", not final
    socket.write(Buffer.from([0x00, 0x82, 0, 0, 0, 0, 0xce, 0xff])); // invalid continuation byte, not final
    await within(closed, 10_000, "the server to close");
    const all = Buffer.concat(received);
    const frame = all.subarray(all.indexOf("\r\n\r\n") + 4);
    assert.equal(frame[0], 0x88, "a close frame");
    assert.equal(frame.readUInt16BE(2), 1007);
  } finally {
    await stop(child);
  }
});

for (const deflate of [false, true]) {
test(`examples/client-driver.ts${deflate ? " --deflate" : ""} runs every case of a conformance server and updates the reports`, async () => {
  // A miniature fuzzing server: 3 cases, each sends a text and a binary message and checks the echoes.
  const log: string[] = [];
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: deflate ? { threshold: 0 } : false });
  wss.on("connection", (ws, request) => {
    const url = new URL(request.url!, "http://x");
    if (url.pathname === "/getCaseCount") {
      ws.send("3");
      ws.close(1000);
    } else if (url.pathname === "/runCase") {
      const n = url.searchParams.get("case");
      const echoes: string[] = [];
      if (deflate) assert.match(ws.extensions, /^permessage-deflate/);
      ws.on("message", (data, isBinary) => {
        echoes.push(`${isBinary ? "binary" : "text"}:${isBinary ? (data as Buffer).length : String(data)}`);
        if (echoes.length === 2) {
          log.push(`case ${n} agent ${url.searchParams.get("agent")} ${echoes.join(" ")}`);
          ws.close(1000);
        }
      });
      ws.send(`case-${n}`);
      ws.send(new Uint8Array(70_000));
    } else if (url.pathname === "/updateReports") {
      log.push(`reports for ${url.searchParams.get("agent")}`);
      ws.close(1000);
    }
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  const port = (wss.address() as net.AddressInfo).port;
  const child = run("examples/client-driver.ts", ["--url", `ws://127.0.0.1:${port}`, "--agent", "wsport", ...(deflate ? ["--deflate"] : [])]);
  try {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    assert.equal(await within(exited, 30_000, "the driver to finish"), 0);
    assert.deepEqual(log, [
      "case 1 agent wsport text:case-1 binary:70000",
      "case 2 agent wsport text:case-2 binary:70000",
      "case 3 agent wsport text:case-3 binary:70000",
      "reports for wsport",
    ]);
  } finally {
    await stop(child);
    await new Promise((resolve) => wss.close(resolve));
  }
});
}

test("examples/http2.ts: two WebSockets as streams of one HTTP/2 connection, echoed and closed", { skip: skipUnlessPeer(opensslMissing()) }, async () => {
  const child = run("examples/http2.ts", []);
  const output: string[] = [];
  try {
    for await (const line of lines(child)) output.push(line);
  } finally {
    await stop(child);
  }
  const text = output.join("\n");
  assert.match(text, /^listening on https:\/\/127\.0\.0\.1:\d+\/ \(HTTP\/2 and HTTP\/1\.1\)$/m);
  assert.match(text, /^server: \/ opened as HTTP\/2 stream 1$/m);
  assert.match(text, /^server: \/ opened as HTTP\/2 stream 3$/m);
  assert.match(text, /^client: one connection for both: true$/m);
  assert.match(text, /^client: echo: hi from a$/m);
  assert.match(text, /^client: echo: hi from b$/m);
  assert.match(text, /^client: closed \{"code":1000,"reason":"done","wasClean":true\} \{"code":1000,"reason":"done","wasClean":true\}$/m);
});

test("examples/sse.ts streams events that never end, counts a streamed upload, and writes chat messages to the streams", async () => {
  const child = run("examples/sse.ts", ["--port", "0", "--host", "127.0.0.1", "--interval", "50"]);
  try {
    const first = await within(lines(child).next(), 20_000, "the SSE example to start");
    const port = Number(/:(\d+)\/$/.exec(String(first.value))?.[1]);
    assert.ok(port > 0, `unexpected output ${first.value}`);
    const leave = new AbortController();
    const events = await fetch(`http://127.0.0.1:${port}/events`, { signal: leave.signal });
    assert.equal(events.headers.get("content-type"), "text/event-stream");
    const reader = events.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const read = async (done: () => boolean, what: string) => {
      while (!done()) {
        const chunk = await within(reader.read(), 10_000, what);
        if (chunk.done) throw new Error("the event stream ended");
        text += decoder.decode(chunk.value, { stream: true });
      }
    };
    await read(() => /id: 1\n/.test(text), "two clock events");
    const chat = new WsWebSocket(`ws://127.0.0.1:${port}/`, ["chat"]);
    await within(new Promise((resolve, reject) => chat.once("open", resolve).once("error", reject)));
    chat.send("hello events");
    await read(() => text.includes("event: chat\ndata: hello events\n\n"), "the chat message in the stream");
    chat.close();
    leave.abort();
    await reader.cancel().catch(() => {});
    const upload = await fetch(`http://127.0.0.1:${port}/upload`, { method: "POST", body: new Uint8Array(3 * 1024 * 1024) });
    assert.equal(await upload.text(), `received ${3 * 1024 * 1024} bytes\n`);
  } finally {
    await stop(child);
  }
});
