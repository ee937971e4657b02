// Masking throughput: wsport's applyMask (word loop) against a plain byte
// loop, and against bufferutil's native mask when it is installed.
// Run: npm run bench:mask   (or: deno run -A bench/mask_bench.ts, bun bench/mask_bench.ts)
// Reports MB/s as the median of 7 rounds, after a warm-up round.
import { applyMask } from "../src/core/mask.ts";

const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function byteLoop(data: Uint8Array, k: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i]! ^= k[i & 3]!;
}

type MaskFn = (data: Uint8Array) => void;
const impls: Record<string, MaskFn> = {
  "wsport applyMask": (d) => applyMask(d, key),
  "byte loop": (d) => byteLoop(d, key),
};

try {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const bufferutil = require("bufferutil") as { mask: (s: Uint8Array, m: Uint8Array, o: Uint8Array, off: number, len: number) => void; unmask: (b: Uint8Array, m: Uint8Array) => void };
  impls["bufferutil unmask (native)"] = (d) => bufferutil.unmask(d, key);
} catch {
  // bufferutil is optional: only compared when present.
}

function measure(fn: MaskFn, size: number): number {
  // Offset 1 into the buffer: socket chunks are rarely word-aligned.
  const data = new Uint8Array(size + 1).subarray(1);
  const target = 64 * 1024 * 1024; // bytes per round
  const iterations = Math.max(1, Math.floor(target / size));
  const rounds: number[] = [];
  for (let round = 0; round < 8; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) fn(data);
    const ms = performance.now() - start;
    if (round > 0) rounds.push((iterations * size) / 1e6 / (ms / 1000));
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)]!;
}

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? "deno" : `node ${process.version}`;
const sizes = [16, 125, 1024, 64 * 1024, 1024 * 1024];
console.log(`mask throughput, MB/s (median of 7 rounds), ${runtime}`);
console.log(["implementation".padEnd(28), ...sizes.map((s) => (s >= 1024 ? `${s / 1024} KiB` : `${s} B`).padStart(10))].join(""));
for (const [name, fn] of Object.entries(impls)) {
  console.log([name.padEnd(28), ...sizes.map((s) => measure(fn, s).toFixed(0).padStart(10))].join(""));
}
