// Core-only echo: receiveData(one chunk of 32 masked 32-byte text frames) → send each → dataToSend().
import { WebSocketProtocol } from "../src/core/protocol.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { concat } from "../src/core/bytes.ts";
const size = Number((globalThis as any).process?.argv?.[2] ?? (globalThis as any).Deno?.args?.[0] ?? 32);
const binary = ((globalThis as any).process?.argv?.[3] ?? (globalThis as any).Deno?.args?.[1]) === "bin";
const key = new Uint8Array([1, 2, 3, 4]);
const payload = new TextEncoder().encode("x".repeat(size));
const frames: Uint8Array[] = [];
for (let i = 0; i < 32; i++) frames.push(...encodeFrame(binary ? Opcode.Binary : Opcode.Text, payload, { mask: key }));
const chunk = concat(frames);
const conn = new WebSocketProtocol("server");
let out = 0;
function round(n: number) {
  for (let i = 0; i < n; i++) {
    const events = conn.receiveData(chunk.slice());
    for (const e of events) if (e.type === "text" || e.type === "binary") conn.send(e.data);
    out += conn.dataToSend().length;
  }
}
round(5000);
const results: number[] = [];
for (let r = 0; r < 7; r++) { const t = performance.now(); round(3000); results.push(3000 * 32 / (performance.now() - t) * 1000); }
results.sort((a, b) => a - b);
const rt = (globalThis as any).Bun ? "bun" : (globalThis as any).Deno ? "deno" : "node";
console.log(`${rt} core echo ${size} B ${binary ? "binary" : "text"}: ${Math.round(results[3]! / 1000)}k msg/s`);
