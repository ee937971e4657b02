// Backpressure as a number: a fast sender floods a slow reader, and the
// reader's process samples its resident memory (RSS).
//
//   node --import tsx bench/stream_backpressure.ts            all runtimes, both receivers, 128 MiB
//   options: --runtimes node,deno   --modes stream   --total 512 (MiB)
//
// The sender (a wsport server on Node) writes TOTAL bytes in messages of
// SIZE bytes through a server-side stream pair as fast as `write()` lets it.
// The reader takes one message every READ_EVERY ms, on each runtime:
//   stream     WebSocketStream: its readable pauses the socket while the reader is behind
//   websocket  the WHATWG WebSocket: every message is an event at once, kept in a queue for the reader
// Printed per run: RSS after opening, when a quarter, half, three quarters
// and all of the flood was read, its peak (sampled every 16 messages), the
// peak of bytes taken off the socket and not yet read, and how many of the
// sender's write() calls had to wait.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeNetwork, serve, streamHandlers, WebSocket, WebSocketStream } from "../mod.ts";
import { type ByteCounter, countingNetwork } from "../test/peers/counting_network.ts";

const [role, ...rest] = ((globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2));
const option = (name: string, fallback: string) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1]! : fallback;
};
const SIZE = 256 * 1024;
const TOTAL = Number(option("total", "128")) * 1024 * 1024;
const COUNT = TOTAL / SIZE;
const READ_EVERY = 4; // ms per message: the slow reader
const MiB = 1024 * 1024;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const rss = () => process.memoryUsage().rss;

if (role === "sender") {
  let waits = 0;
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{
      name: "flood",
      ...streamHandlers(async (_ws, { writable }) => {
        const writer = writable.getWriter();
        const message = new Uint8Array(SIZE).fill(7);
        for (let i = 0; i < COUNT; i++) {
          let settled = false;
          const written = writer.write(message).then(() => void (settled = true));
          await new Promise((resolve) => setImmediate(resolve)); // a write that does not wait has settled by now
          if (!settled) waits++;
          await written;
        }
        await writer.close();
        console.log(`WAITS ${waits}`);
        waits = 0;
      }),
    }],
  });
  console.log(`PORT ${server.port}`);
} else if (role === "receiver") {
  const [mode, url] = rest as [string, string];
  const base = rss();
  let peak = 0;
  let peakHeld = 0;
  let received = 0;
  let read = 0;
  const checkpoints: number[] = []; // RSS when a quarter, half, three quarters and all of it was read
  const sample = () => {
    peak = Math.max(peak, rss());
    if (received % (COUNT / 4) === 0) checkpoints.push(rss());
  };
  if (mode === "stream") {
    const counter: ByteCounter = { received: 0, transports: [] };
    const network = countingNetwork(await runtimeNetwork(), counter);
    const wss = new WebSocketStream(url!, {}, { maxMessageSize: 2 * SIZE, pingInterval: 0, network });
    const reader = (await wss.opened).readable.getReader();
    const head = counter.received;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      read += (value as Uint8Array).length;
      if (++received % 16 === 0) sample();
      await sleep(READ_EVERY);
      // Taken off the socket, not yet read, once the reader has dawdled (frame headers: 10 bytes per message).
      peakHeld = Math.max(peakHeld, counter.received - head - read - received * 10);
    }
  } else {
    const queue: ArrayBuffer[] = [];
    let arrived = 0;
    let closed = false;
    const socket = new WebSocket(url!, [], { maxMessageSize: 2 * SIZE, pingInterval: 0 });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      queue.push(event.data as ArrayBuffer);
      arrived += SIZE;
      peakHeld = Math.max(peakHeld, arrived - read);
    };
    socket.onclose = () => void (closed = true);
    while (!closed || queue.length > 0) {
      const next = queue.shift();
      if (next === undefined) {
        await sleep(1);
        continue;
      }
      read += next.byteLength;
      if (++received % 16 === 0) sample();
      await sleep(READ_EVERY);
    }
  }
  console.log(`RESULT ${JSON.stringify({ base, peak, peakHeld, read, checkpoints })}`);
  process.exit(0);
} else {
  const all = [role ?? "", ...rest];
  const flag = (name: string, fallback: string) => (all.indexOf(`--${name}`) >= 0 ? all[all.indexOf(`--${name}`) + 1]! : fallback);
  const runtimes = flag("runtimes", "node,deno,bun").split(",");
  const modes = flag("modes", "stream,websocket").split(",");
  const total = ["--total", String(TOTAL / MiB)];
  const script = fileURLToPath(import.meta.url);
  const command = (runtime: string, args: string[]): [string, string[]] =>
    runtime === "node" ? [process.execPath, ["--import", "tsx", script, ...args]]
    : runtime === "deno" ? [path.join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--config", path.join(ROOT, "deno.json"), script, ...args]]
    : [path.join(ROOT, "node_modules/.bin/bun"), [script, ...args]];
  const start = (runtime: string, args: string[]) => {
    const [cmd, argv] = command(runtime, args);
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
  };
  const nextMatching = async (lines: AsyncIterator<string>, prefix: string) => {
    for (let r = await lines.next(); !r.done; r = await lines.next()) if (r.value.startsWith(prefix)) return r.value.slice(prefix.length);
    throw new Error(`no ${prefix.trim()} line`);
  };
  const sender = start("node", ["sender", ...total]);
  const port = Number(await nextMatching(sender.lines, "PORT "));
  console.log(`${TOTAL / MiB} MiB in ${SIZE / 1024} KiB messages, read one every ${READ_EVERY} ms; RSS of the reader's process\n`);
  console.log("| runtime | receiver | RSS after open | RSS at 1/4, 1/2, 3/4, all read | peak RSS | taken off the socket, unread (peak) | sender's write() waited |");
  console.log("|---|---|---|---|---|---|---|");
  for (const runtime of runtimes) {
    for (const mode of modes) {
      const receiver = start(runtime, ["receiver", mode, `ws://127.0.0.1:${port}/`, ...total]);
      const result = JSON.parse(await nextMatching(receiver.lines, "RESULT "));
      const waits = await nextMatching(sender.lines, "WAITS ");
      const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
      console.log(
        `| ${runtime} | ${mode === "stream" ? "WebSocketStream" : "WebSocket (events)"} | ${mib(result.base)} | ${result.checkpoints.map((b: number) => (b / MiB).toFixed(0)).join(", ")} MiB | ${mib(result.peak)} | ${mib(result.peakHeld)} | ${waits} of ${COUNT} |`,
      );
      if (result.read !== TOTAL) throw new Error(`${runtime} ${mode}: read ${result.read} of ${TOTAL} bytes`);
    }
  }
  sender.child.kill();
}
