/**
 * Throughput of {@link Utf8Validator} / {@link isValidUtf8} against
 * `TextDecoder("utf-8", { fatal: true })`, the only fail-fast validator every
 * runtime ships.
 *
 * Run: `node --import tsx bench/utf8_bench.ts` (also `deno run bench/utf8_bench.ts`,
 * `bun bench/utf8_bench.ts`). Each case runs warm-up rounds that are not
 * counted, then reports the median MB/s (10^6 bytes per second) of several
 * timed rounds.
 *
 * @module
 */

import { isValidUtf8, Utf8Validator } from "../src/core/utf8.ts";

const WARMUP_ROUNDS = 5;
const ROUNDS = 15;
// Bytes processed per round; enough that timer resolution is negligible.
const BYTES_PER_ROUND = 32 * 1024 * 1024;

function asciiText(length: number): Uint8Array {
  const out = new Uint8Array(length);
  const alphabet = "The quick brown fox jumps over the lazy dog. 0123456789\n";
  for (let i = 0; i < length; i++) out[i] = alphabet.charCodeAt(i % alphabet.length);
  return out;
}

// Roughly what a chat or JSON payload in several scripts looks like: ASCII
// runs interleaved with 2-, 3- and 4-byte sequences.
function mixedText(length: number): Uint8Array {
  const sample =
    "Grüße aus Köln — ça va? Привет, мир! 日本語のテキストです。 中文字符 🌍🎉👍 " +
    '{"id": 42, "name": "Zoë", "tags": ["naïve", "café", "東京"]} ';
  const encoded = new TextEncoder().encode(sample.repeat(Math.ceil(length / sample.length) + 1));
  // Cut on a code point boundary so the input is valid.
  let end = length;
  while ((encoded[end]! & 0xc0) === 0x80) end--;
  return encoded.slice(0, end);
}

type Impl = { name: string; run: (bytes: Uint8Array) => boolean };

const decoder = new TextDecoder("utf-8", { fatal: true });
const streamValidator = new Utf8Validator();

const impls: Impl[] = [
  { name: "isValidUtf8", run: (b) => isValidUtf8(b) },
  {
    name: "Utf8Validator push+end",
    run: (b) => {
      streamValidator.reset();
      return streamValidator.push(b) && streamValidator.end();
    },
  },
  {
    name: "TextDecoder fatal",
    run: (b) => {
      try {
        decoder.decode(b);
        return true;
      } catch {
        return false;
      }
    },
  },
  {
    name: "TextDecoder fatal stream",
    run: (b) => {
      try {
        decoder.decode(b, { stream: true });
        decoder.decode();
        return true;
      } catch {
        return false;
      }
    },
  },
];

const cases: { name: string; bytes: Uint8Array }[] = [
  { name: "20 B ASCII", bytes: asciiText(20) },
  { name: "64 KiB ASCII", bytes: asciiText(64 * 1024) },
  { name: "64 KiB mixed", bytes: mixedText(64 * 1024) },
  { name: "1 MiB ASCII", bytes: asciiText(1024 * 1024) },
  { name: "1 MiB mixed", bytes: mixedText(1024 * 1024) },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

let sink = 0;

function measure(impl: Impl, bytes: Uint8Array): number {
  const iterations = Math.max(1, Math.floor(BYTES_PER_ROUND / bytes.length));
  const rates: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      if (impl.run(bytes)) sink++;
    }
    const ms = performance.now() - start;
    if (round >= WARMUP_ROUNDS) rates.push((iterations * bytes.length) / 1e6 / (ms / 1e3));
  }
  return median(rates);
}

const rows: Record<string, Record<string, string>> = {};
for (const c of cases) {
  // Checked per case rather than up front: on Bun, running the large inputs
  // first left the 20 B case ~40x slower through this shared harness (a JIT
  // profile artefact that a standalone loop does not show).
  if (!impls.every((impl) => impl.run(c.bytes))) throw new Error(`${c.name}: input rejected`);
  const row: Record<string, string> = {};
  for (const impl of impls) row[impl.name] = `${measure(impl, c.bytes).toFixed(0)} MB/s`;
  rows[c.name] = row;
}
console.table(rows);
if (sink === 0) console.log("unreachable");
