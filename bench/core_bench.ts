// The core alone, no sockets: frame parsing, serialising and masking, wsport
// against ws's own Receiver and Sender (ws/lib/receiver.js, ws/lib/sender.js)
// and bufferutil's native mask. Binary frames, so UTF-8 validation is not
// part of it (the socket echo scenarios cover text).
//
//   node --import tsx bench/core_bench.ts [--time 500] [--json]
//   WS_NO_BUFFER_UTIL=1 node --import tsx bench/core_bench.ts --ws-only   (ws's JS fallbacks)
//   bun bench/core_bench.ts / deno run -A bench/core_bench.ts
//
// Each case is a tinybench task; the value is the median of its per-iteration
// samples after tinybench's warm-up. Operations:
//   parse:      Connection("server").receiveData(chunk) vs Receiver#_write(chunk), a chunk holding
//               many masked client frames (as a socket read would);
//   serialise:  sendBinary(payload) x F then one dataToSend() vs Sender.frame(payload) x F
//               (server frames, unmasked; "masked" rows: client frames, which must copy and mask);
//   mask:       applyMask(data, key) vs bufferutil.unmask(data, key), in place, at an odd offset.
import { Bench } from "tinybench";
import { createRequire } from "node:module";
import { WebSocketProtocol } from "../src/core/protocol.ts";
import { applyMask, hasNativeMask } from "../src/core/mask.ts";
import "../mod.ts"; // registers this runtime's network
import { defaultNetwork } from "../src/transport/default_network.ts";
import { useNetworkFeatures } from "../src/services/network_features.ts";

type G = { Deno?: { args: string[]; version: { deno: string }; env: { get(k: string): string | undefined } }; Bun?: { version: string }; process?: any };
const g = globalThis as unknown as G;
const argv = g.Deno ? g.Deno.args : g.process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : fallback;
};
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
const noBufferutil = (g.Deno ? g.Deno.env.get("WS_NO_BUFFER_UTIL") : g.process.env.WS_NO_BUFFER_UTIL) === "1";
const wsOnly = flag("ws-only");
const time = Number(option("time", "500"));

// --- the anchors, loaded from node_modules by path (ws does not export lib/) ---
const require = createRequire(import.meta.url);
const nodeModules = new URL("../node_modules/", import.meta.url).pathname;
let Receiver: any, Sender: any;
try {
  Receiver = require(nodeModules + "ws/lib/receiver.js");
  Sender = require(nodeModules + "ws/lib/sender.js");
} catch (error) {
  console.error(`ws not loadable on ${runtime}: ${(error as Error).message}`);
}
let bufferutil: { unmask(data: Uint8Array, key: Uint8Array): void } | undefined;
if (!noBufferutil) {
  try {
    bufferutil = require("bufferutil");
  } catch (error) {
    console.error(`bufferutil not loadable on ${runtime}: ${(error as Error).message}`);
  }
}
const wsImpl = noBufferutil || !bufferutil ? "ws (no bufferutil)" : "ws+bufferutil";
const wsUnmask: ((data: Uint8Array, key: Uint8Array) => void) | undefined = (() => {
  try {
    return require(nodeModules + "ws/lib/buffer-util.js").unmask;
  } catch {
    return undefined;
  }
})();

// --- inputs ---
const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const sizes = [16, 1024, 64 * 1024];
const label = (n: number) => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
/** Frames per chunk or per serialise batch: about 16-64 KiB of small frames, 1 MiB of big ones. */
const framesPer = (n: number) => (n <= 16 ? 1024 : n <= 1024 ? 64 : 16);

function maskedClientFrame(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + ext + 4 + n);
  const view = new DataView(frame.buffer);
  frame[0] = 0x82;
  if (ext === 0) frame[1] = 0x80 | n;
  else if (ext === 2) { frame[1] = 0x80 | 126; view.setUint16(2, n); }
  else { frame[1] = 0x80 | 127; view.setBigUint64(2, BigInt(n)); }
  frame.set(KEY, 2 + ext);
  for (let i = 0; i < n; i++) frame[6 + ext + i] = payload[i]! ^ KEY[i & 3]!;
  return frame;
}

function randomPayload(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + 7) & 0xff;
  return out;
}

function chunkOf(size: number, frames: number): Uint8Array {
  const one = maskedClientFrame(randomPayload(size));
  const chunk = new Uint8Array(one.length * frames);
  for (let i = 0; i < frames; i++) chunk.set(one, i * one.length);
  // Node Buffer, as a socket read hands to ws (wsport takes any Uint8Array).
  const NodeBuffer = (globalThis as any).Buffer;
  return NodeBuffer ? NodeBuffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : chunk;
}

// --- cases ---
interface Case {
  scenario: string;
  impl: string;
  bytesPerOp: number;
  framesPerOp: number;
  fn: () => void;
}
const cases: Case[] = [];
const noop = () => {};

for (const size of sizes) {
  const frames = framesPer(size);
  const chunk = chunkOf(size, frames);
  const payload = (globalThis as any).Buffer ? (globalThis as any).Buffer.from(randomPayload(size)) : randomPayload(size);
  const common = { bytesPerOp: size * frames, framesPerOp: frames };

  if (!wsOnly) {
    const conn = new WebSocketProtocol("server", { maxMessageSize: 1 << 30 });
    const check = conn.receiveData(chunk);
    if (check.length !== frames) throw new Error(`wsport parsed ${check.length} of ${frames} frames`);
    cases.push({ scenario: `parse ${label(size)}`, impl: "wsport", ...common, fn: () => void conn.receiveData(chunk) });

    const server = new WebSocketProtocol("server");
    cases.push({
      scenario: `serialise ${label(size)}`, impl: "wsport", ...common,
      fn: () => { for (let i = 0; i < frames; i++) server.sendBinary(payload); server.dataToSend(); },
    });
    const client = new WebSocketProtocol("client");
    cases.push({
      scenario: `serialise masked ${label(size)}`, impl: "wsport", ...common,
      fn: () => { for (let i = 0; i < frames; i++) client.sendBinary(payload); client.dataToSend(); },
    });
  }
  if (Receiver && Sender) {
    let messages = 0;
    const receiver = new Receiver({ isServer: true, maxPayload: 0, allowSynchronousEvents: true });
    receiver.on("message", () => messages++);
    receiver.on("error", (e: Error) => { throw e; });
    receiver._write(chunk, null, noop);
    if (messages !== frames) throw new Error(`ws parsed ${messages} of ${frames} frames`);
    cases.push({ scenario: `parse ${label(size)}`, impl: wsImpl, ...common, fn: () => receiver._write(chunk, null, noop) });

    const plain = { fin: true, opcode: 2, mask: false, readOnly: false, rsv1: false };
    cases.push({
      scenario: `serialise ${label(size)}`, impl: wsImpl, ...common,
      fn: () => { for (let i = 0; i < frames; i++) Sender.frame(payload, plain); },
    });
    const masked = { fin: true, opcode: 2, mask: true, readOnly: true, rsv1: false };
    cases.push({
      scenario: `serialise masked ${label(size)}`, impl: wsImpl, ...common,
      fn: () => { for (let i = 0; i < frames; i++) Sender.frame(payload, masked); },
    });
  }
}

// The JavaScript loops alone ("wsport (JS)"), measured before the runtime's native routine is installed.
const jsCases: Case[] = [];
for (const size of sizes) {
  const data = new Uint8Array(size + 1).subarray(1); // odd offset: socket chunks are rarely aligned
  const common = { bytesPerOp: size, framesPerOp: 1 };
  if (!wsOnly) jsCases.push({ scenario: `mask ${label(size)}`, impl: "wsport (JS)", ...common, fn: () => applyMask(data, KEY) });
  if (!wsOnly) cases.push({ scenario: `mask ${label(size)}`, impl: "wsport", ...common, fn: () => applyMask(data, KEY) });
  if (bufferutil) cases.push({ scenario: `mask ${label(size)}`, impl: "bufferutil", ...common, fn: () => bufferutil!.unmask(data, KEY) });
  if (noBufferutil && wsUnmask) {
    cases.push({ scenario: `mask ${label(size)}`, impl: "ws JS unmask", ...common, fn: () => wsUnmask(data, KEY) });
  }
}

// --- run ---
const jsBench = new Bench({ time, warmupTime: Math.max(50, time / 5) });
for (const c of jsCases) jsBench.add(`${c.scenario} | ${c.impl}`, c.fn);
await jsBench.run();
// Then wsport as a server on this runtime runs: with the native masking its network
// installs where bufferutil loads (Node from 32 B, Deno and Bun from 512 B).
await useNetworkFeatures(await defaultNetwork());
const nativeNote = hasNativeMask() ? "with the runtime's native mask" : "no native mask on this runtime";
const bench = new Bench({ time, warmupTime: Math.max(50, time / 5) });
for (const c of cases) bench.add(`${c.scenario} | ${c.impl}`, c.fn);
await bench.run();

interface Row { scenario: string; runtime: string; impl: string; value: number | null; unit: string; detail?: string; error?: string }
const measured = [...jsBench.tasks.map((task, i) => [task, jsCases[i]!] as const), ...bench.tasks.map((task, i) => [task, cases[i]!] as const)];
const rows: Row[] = measured.map(([task, c]): Row => {
  const result = task.result as any;
  if (result?.state !== "completed") {
    return { scenario: `core ${c.scenario}`, runtime, impl: c.impl, value: null, unit: "MB/s", error: String(result?.error ?? result?.state) };
  }
  const ops = result.throughput.p50 as number;
  const mbps = +((ops * c.bytesPerOp) / 1e6).toFixed(1);
  const frames = Math.round(ops * c.framesPerOp);
  const base = { scenario: `core ${c.scenario}`, runtime, impl: c.impl };
  const note = c.impl === "wsport" ? `, ${nativeNote}` : "";
  if (c.scenario.startsWith("mask")) return { ...base, value: mbps, unit: "MB/s", detail: `${Math.round(ops)} ops/s${note}` };
  // Unmasked server frames touch no payload byte (header + a view of the payload): MB/s would mean nothing.
  if (c.scenario.startsWith("serialise ") && !c.scenario.includes("masked")) {
    return { ...base, value: frames, unit: "frames/s", detail: "payload not copied: header only" };
  }
  return { ...base, value: mbps, unit: "MB/s", detail: `${frames} frames/s${note}` };
});

if (flag("json")) console.log(JSON.stringify(rows));
else for (const r of rows) console.log(`${r.scenario.padEnd(28)} ${r.impl.padEnd(20)} ${String(r.value).padStart(10)} ${r.unit}  ${r.detail ?? r.error ?? ""}`);
