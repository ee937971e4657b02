// Deflate codecs for permessage-deflate (RFC 7692), measured on the runtime that runs this file.
//
//   node --import tsx bench/codec_bench.ts [--quick]
//   deno run -A bench/codec_bench.ts [--quick]
//   bun bench/codec_bench.ts [--quick]
//
// Options: --quick (one timing pass instead of three, 300 pairs instead of 1,000 in the first
// memory sample), --print (print the tables of the saved results file, measure nothing),
// --sections ff,loop,switch,tp,mem,w8 (fflate flush(true) check, where node:zlib's async work
// runs, switching codec mid-stream, throughput, memory per context, window-bits-8 checks),
// --codecs zlib-async,zlib-async-x8,zlib-sync,pako,pako-inflate-16k,fflate, --no-save (print only).
// Writes bench/results/codec-<runtime>.json and prints Markdown tables on stdout
// (progress on stderr). bench/codec.md has the method and the results.
//
// Every codec works the way permessage-deflate needs: raw DEFLATE, each message ended
// with a sync flush whose trailing 00 00 ff ff is stripped by the sender and appended
// again by the receiver. "Context takeover" means one compressor (decompressor) per
// direction that keeps its window from message to message.
//
//   zlib-async     node:zlib createDeflateRaw/createInflateRaw kept open; write() + flush(Z_SYNC_FLUSH, cb)
//                  per message, awaited one at a time (what `ws` does).
//   zlib-async-x8  the same, 8 independent streams (8 "connections") each one message at a time,
//                  running concurrently: compression only, 100 B and 4 KiB.
//   zlib-sync      deflateRawSync/inflateRawSync one-shot per message, finishFlush Z_SYNC_FLUSH:
//                  no_context_takeover only (a new stream per message, so no shared window).
//   pako           pako 3 Deflate/Inflate ({ raw: true }) kept open, push(data, Z_SYNC_FLUSH).
//   pako-inflate-16k  the same Inflate with chunkSize 16 KiB instead of its 64 KiB default.
//   fflate         fflate Deflate/Inflate streams kept open, push(data) + flush: flush(false)
//                  plus a sync-flush block written here, because fflate 0.8.3's flush(true)
//                  emits a corrupt block (see FflateCompressor and the "ff" section).
//
// Correctness is checked before anything is timed: every codec's compressed messages
// must inflate with a node:zlib inflater (the same window bits, context kept) to the
// input, and its own decompressor must give the input back (round trip); every
// decompressor must turn a node:zlib-compressed sequence back into the input.
import zlib from "node:zlib";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";
import {
  Deflate as PakoDeflate,
  Inflate as PakoInflate,
  Z_NO_FLUSH,
  Z_SYNC_FLUSH,
  Z_DEFAULT_STRATEGY,
  Z_RLE,
  Z_HUFFMAN_ONLY,
} from "pako";
import { Deflate as FflateDeflate, Inflate as FflateInflate } from "fflate";

// ---------------------------------------------------------------- runtime, arguments

type G = {
  Deno?: { args: string[]; version: { deno: string }; execPath(): string };
  Bun?: { version: string; gc(force: boolean): void };
  gc?: () => void;
};
const g = globalThis as unknown as G;
const runtime: "node" | "deno" | "bun" = g.Bun ? "bun" : g.Deno ? "deno" : "node";
const runtimeVersion = g.Bun ? g.Bun.version : g.Deno ? g.Deno.version.deno : process.version;
const argv: string[] = g.Deno ? g.Deno.args : process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const quick = flag("quick");
const sections = new Set(option("sections", "ff,loop,switch,tp,mem,w8").split(","));
const codecFilter = new Set(option("codecs", "zlib-async,zlib-async-x8,zlib-sync,pako,pako-inflate-16k,fflate").split(","));
const log = (...a: unknown[]) => console.error(...a);

type Bytes = Uint8Array;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const SIZES = [100, 4096, 65536, 1048576];
const sizeLabel = (n: number) => (n >= 1048576 ? `${n / 1048576} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);

// ---------------------------------------------------------------- small helpers

function concat(chunks: Bytes[], total?: number): Bytes {
  if (chunks.length === 1) return chunks[0]!;
  let n = total ?? 0;
  if (total === undefined) for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

// Removes the 00 00 ff ff a sync flush leaves at the end (RFC 7692 7.2.1); throws if absent,
// so a codec that does not end a message on a sync-flush marker fails the run.
function stripTail(b: Bytes): Bytes {
  const n = b.length;
  if (n < 4 || b[n - 4] !== 0 || b[n - 3] !== 0 || b[n - 2] !== 0xff || b[n - 1] !== 0xff) {
    throw new Error(`compressed message does not end with 00 00 ff ff (${n} bytes)`);
  }
  return b.subarray(0, n - 4);
}

function sameBytes(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function fullGc(): boolean {
  if (g.Bun) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- test data

// xorshift32: deterministic, so every runtime compresses the same bytes.
function makeRng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the a to of and in is it for on that with as was at by this be from are have not " +
  "order price update status ready error retry queue stream socket frame buffer server client " +
  "latency window token session user room message channel event payload request response " +
  "green blue red fast slow north south river market ticket coffee window garden planet"
).split(" ");
const NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "Zoë", "José", "Łukasz"];
const SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "ORCL", "INTC", "AMD", "BTC-USD", "ETH-USD"];
const enc = new TextEncoder();

function makeRecordSource(seed: number) {
  const r = makeRng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  let ts = 1732550400000;
  let id = int(1000, 90000);
  const sentence = (n: number) => {
    const w: string[] = [];
    for (let i = 0; i < n; i++) w.push(pick(WORDS));
    return w.join(" ");
  };
  return (): string => {
    ts += int(1, 2500);
    id += int(1, 7);
    switch (int(0, 3)) {
      case 0:
        return JSON.stringify({ type: "trade", id, sym: pick(SYMBOLS), px: +(r() * 900 + 10).toFixed(2), qty: int(1, 5000), side: r() < 0.5 ? "buy" : "sell", ts });
      case 1:
        return JSON.stringify({ type: "chat", id, room: `room-${int(1, 40)}`, user: { id: int(1, 100000), name: pick(NAMES) }, text: sentence(int(3, 20)), ts });
      case 2:
        return JSON.stringify({ type: "metrics", host: `web-${int(1, 64)}`, cpu: +(r() * 100).toFixed(1), mem: int(100000, 16000000), load: [+(r() * 4).toFixed(2), +(r() * 4).toFixed(2), +(r() * 4).toFixed(2)], ok: r() < 0.9, ts });
      default:
        return JSON.stringify({ type: "presence", id, user: pick(NAMES), online: r() < 0.7, tags: Array.from({ length: int(0, 4) }, () => pick(WORDS)), seen: new Date(ts).toISOString() });
    }
  };
}

// `count` distinct messages of exactly `size` bytes: JSON arrays of records cut to size.
function makeMessages(size: number, count: number, seed: number): Bytes[] {
  const next = makeRecordSource(seed);
  const out: Bytes[] = [];
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    let len = 1;
    while (len < size + 8) {
      const s = next();
      parts.push(s);
      len += s.length + 1;
    }
    const bytes = enc.encode("[" + parts.join(",") + "]");
    out.push(bytes.slice(0, size));
  }
  return out;
}

// ---------------------------------------------------------------- codecs

// `dictionary` primes a new stream with the last 2^windowBits bytes of the one it replaces
// (used by the "switch" section only).
type Config = { name: string; level: number; windowBits: number; memLevel: number; strategy?: number; fflateMem?: number; dictionary?: Bytes };
const CFG_15_8: Config = { name: "15/8", level: 6, windowBits: 15, memLevel: 8 };
const CFG_12_5: Config = { name: "12/5", level: 6, windowBits: 12, memLevel: 5 };
const CFG_9_1: Config = { name: "9/1", level: 6, windowBits: 9, memLevel: 1 };
// fflate has no window option (always 32 KiB); `mem` sizes its hash table (2^(12+mem) entries,
// 2^20 when unset on a stream).
const CFG_FFLATE: Config = { name: "default", level: 6, windowBits: 15, memLevel: 8 };
const CFG_FFLATE_MEM4: Config = { name: "mem 4", level: 6, windowBits: 15, memLevel: 8, fflateMem: 4 };

type MaybeAsync<T> = T | Promise<T>;
interface Compressor {
  compress(message: Bytes): MaybeAsync<Bytes>;
  close(): void;
}
interface Decompressor {
  decompress(payload: Bytes): MaybeAsync<Bytes>;
  close(): void;
}
interface Codec {
  name: string;
  async: boolean;
  contextTakeover: boolean;
  configs: Config[];
  only?: "compress" | "decompress";
  newCompressor(cfg: Config): Compressor;
  newDecompressor(cfg: Config): Decompressor;
}

// node:zlib stream, one message in flight: write, flush(Z_SYNC_FLUSH), collect what
// 'data' delivered before the flush callback.
class ZlibAsyncCompressor implements Compressor {
  private s: zlib.DeflateRaw;
  private chunks: Bytes[] = [];
  private len = 0;
  private failure: Error | null = null;
  private pending: ((e: Error) => void) | null = null;
  constructor(cfg: Config) {
    this.s = zlib.createDeflateRaw({
      level: cfg.level, windowBits: cfg.windowBits, memLevel: cfg.memLevel, strategy: cfg.strategy ?? zlib.constants.Z_DEFAULT_STRATEGY,
      ...(cfg.dictionary ? { dictionary: cfg.dictionary } : {}),
    });
    this.s.on("data", (c: Bytes) => {
      this.chunks.push(c);
      this.len += c.length;
    });
    this.s.on("error", (e: Error) => {
      this.failure = e;
      this.pending?.(e);
    });
  }
  compress(message: Bytes): Promise<Bytes> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.pending = reject;
      this.s.write(message);
      this.s.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (this.failure) return reject(this.failure);
        const out = concat(this.chunks, this.len);
        this.chunks = [];
        this.len = 0;
        try {
          resolve(stripTail(out));
        } catch (e) {
          reject(e);
        }
      });
    });
  }
  close() {
    this.s.close();
  }
}

class ZlibAsyncDecompressor implements Decompressor {
  private s: zlib.InflateRaw;
  private chunks: Bytes[] = [];
  private len = 0;
  private failure: Error | null = null;
  // An inflate error ends the stream and the flush callback may never run: reject from 'error'.
  private pending: ((e: Error) => void) | null = null;
  constructor(cfg: Config, chunkSize?: number) {
    this.s = zlib.createInflateRaw({ windowBits: cfg.windowBits, ...(chunkSize ? { chunkSize } : {}), ...(cfg.dictionary ? { dictionary: cfg.dictionary } : {}) });
    this.s.on("data", (c: Bytes) => {
      this.chunks.push(c);
      this.len += c.length;
    });
    this.s.on("error", (e: Error) => {
      this.failure = e;
      this.pending?.(e);
    });
  }
  decompress(payload: Bytes): Promise<Bytes> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.pending = reject;
      this.s.write(payload);
      this.s.write(TAIL);
      this.s.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (this.failure) return reject(this.failure);
        const out = concat(this.chunks, this.len);
        this.chunks = [];
        this.len = 0;
        resolve(out);
      });
    });
  }
  close() {
    this.s.close();
  }
}

class ZlibSyncCompressor implements Compressor {
  private opts: zlib.ZlibOptions;
  constructor(cfg: Config) {
    this.opts = { level: cfg.level, windowBits: cfg.windowBits, memLevel: cfg.memLevel, strategy: cfg.strategy ?? zlib.constants.Z_DEFAULT_STRATEGY, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  }
  compress(message: Bytes): Bytes {
    return stripTail(zlib.deflateRawSync(message, this.opts));
  }
  close() {}
}

class ZlibSyncDecompressor implements Decompressor {
  private opts: zlib.ZlibOptions;
  constructor(cfg: Config) {
    this.opts = { windowBits: cfg.windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  }
  decompress(payload: Bytes): Bytes {
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set(TAIL, payload.length);
    return zlib.inflateRawSync(input, this.opts);
  }
  close() {}
}

class PakoCompressor implements Compressor {
  private d: PakoDeflate;
  private chunks: Bytes[] = [];
  constructor(cfg: Config) {
    this.d = new PakoDeflate({ raw: true, level: cfg.level, windowBits: cfg.windowBits, memLevel: cfg.memLevel, strategy: (cfg.strategy ?? Z_DEFAULT_STRATEGY) as 0, ...(cfg.dictionary ? { dictionary: cfg.dictionary } : {}) });
    this.d.onData = (c: Bytes) => {
      this.chunks.push(c);
    };
  }
  compress(message: Bytes): Bytes {
    if (!this.d.push(message, Z_SYNC_FLUSH)) throw new Error(`pako deflate: ${this.d.msg}`);
    const out = concat(this.chunks);
    this.chunks = [];
    return stripTail(out);
  }
  close() {}
}

class PakoDecompressor implements Decompressor {
  private d: PakoInflate;
  private chunks: Bytes[] = [];
  constructor(cfg: Config, chunkSize?: number) {
    this.d = new PakoInflate({ raw: true, windowBits: cfg.windowBits, ...(chunkSize ? { chunkSize } : {}), ...(cfg.dictionary ? { dictionary: cfg.dictionary } : {}) });
    this.d.onData = (c: Bytes) => {
      this.chunks.push(c);
    };
  }
  decompress(payload: Bytes): Bytes {
    this.d.push(payload, Z_NO_FLUSH);
    if (!this.d.push(TAIL, Z_SYNC_FLUSH) || this.d.err) throw new Error(`pako inflate: ${this.d.msg}`);
    const out = concat(this.chunks);
    this.chunks = [];
    return out;
  }
  close() {}
}

// fflate 0.8.3's Deflate#flush(true) writes the empty stored block at the wrong bit offset
// whenever the last deflate block did not end on a byte boundary (it passes the packed
// `s.r` state, partial byte << 3 | bit offset, as a bit position): the LEN/NLEN bytes come
// out as 00 00 00 00 instead of 00 00 ff ff, which zlib and pako reject ("invalid stored
// block lengths") and fflate's own Inflate silently decodes wrong (no output, no error). See
// fflateShippedFlushCheck() below (open upstream: fflate issue #267, PR #286). So this
// wrapper calls flush(false), which leaves the partial byte in `s.r` (a private field), and
// writes the sync-flush block itself: the partial byte with a 3-bit header (BFINAL 0,
// BTYPE 00), padding to the byte boundary, LEN 0000, NLEN ffff.
class FflateCompressor implements Compressor {
  private d: FflateDeflate;
  private chunks: Bytes[] = [];
  constructor(cfg: Config) {
    const opts = cfg.fflateMem === undefined ? { level: cfg.level as 6 } : { level: cfg.level as 6, mem: cfg.fflateMem as 4 };
    this.d = new FflateDeflate(opts, (c: Bytes) => {
      if (c.length) this.chunks.push(c);
    });
  }
  compress(message: Bytes): Bytes {
    this.d.push(message);
    this.d.flush(false);
    const state = (this.d as unknown as { s: { r?: number } }).s;
    const r = state.r ?? 0;
    const bit = r & 7;
    const marker = new Uint8Array(bit + 3 > 8 ? 6 : 5);
    marker[0] = r >> 3;
    marker[marker.length - 2] = 0xff;
    marker[marker.length - 1] = 0xff;
    state.r = 0;
    this.chunks.push(marker);
    const out = concat(this.chunks);
    this.chunks = [];
    return stripTail(out);
  }
  close() {}
}

// fflate as shipped: Deflate#push + flush(true) per message. Counts the messages that do not
// end in 00 00 ff ff and tries node:zlib and pako on the sequence (context kept).
async function fflateShippedFlushCheck(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [size, count] of [[100, 200], [4096, 64], [65536, 8]] as const) {
    const msgs = makeMessages(size, count, 0xf1a7e + size);
    let chunks: Bytes[] = [];
    const d = new FflateDeflate({ level: 6 }, (c: Bytes) => {
      if (c.length) chunks.push(c);
    });
    const raw: Bytes[] = [];
    for (const m of msgs) {
      d.push(m);
      d.flush(true);
      raw.push(concat(chunks));
      chunks = [];
    }
    const badTail = raw.filter((b) => !(b.length >= 4 && b[b.length - 4] === 0 && b[b.length - 3] === 0 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xff)).length;
    const all = concat(raw);
    let zlibResult = "ok";
    try {
      const back = zlib.inflateRawSync(all, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      if (!sameBytes(back, concat(msgs))) zlibResult = "wrong output";
    } catch (e) {
      zlibResult = `error: ${(e as Error).message}`;
    }
    const pk = new PakoInflate({ raw: true });
    const pchunks: Bytes[] = [];
    pk.onData = (c: Bytes) => {
      pchunks.push(c);
    };
    pk.push(all, Z_SYNC_FLUSH);
    const pakoResult = pk.err ? `error: ${pk.msg}` : sameBytes(concat(pchunks), concat(msgs)) ? "ok" : "wrong output";
    const own: Bytes[] = [];
    const fi = new FflateInflate((c: Bytes) => {
      if (c.length) own.push(c);
    });
    let ownResult = "ok";
    try {
      fi.push(all);
      if (!sameBytes(concat(own), concat(msgs))) ownResult = "wrong output";
    } catch (e) {
      ownResult = `error: ${(e as Error).message}`;
    }
    out.push({ size, messages: count, withoutSyncMarker: badTail, zlibInflate: zlibResult, pakoInflate: pakoResult, fflateInflate: ownResult });
  }
  return out;
}

class FflateDecompressor implements Decompressor {
  private d: FflateInflate;
  private chunks: Bytes[] = [];
  constructor(_cfg: Config) {
    this.d = new FflateInflate((c: Bytes) => {
      if (c.length) this.chunks.push(c);
    });
  }
  decompress(payload: Bytes): Bytes {
    // One push: each Inflate#push re-slices its 32 KiB window, so a second push for the
    // 4-byte tail would cost as much as the message itself when messages are small.
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set(TAIL, payload.length);
    this.d.push(input);
    const out = concat(this.chunks);
    this.chunks = [];
    return out;
  }
  close() {}
}

const CODECS: Codec[] = [
  { name: "zlib-async", async: true, contextTakeover: true, configs: [CFG_15_8, CFG_12_5], newCompressor: (c) => new ZlibAsyncCompressor(c), newDecompressor: (c) => new ZlibAsyncDecompressor(c) },
  { name: "zlib-sync", async: false, contextTakeover: false, configs: [CFG_15_8, CFG_12_5], newCompressor: (c) => new ZlibSyncCompressor(c), newDecompressor: (c) => new ZlibSyncDecompressor(c) },
  { name: "pako", async: false, contextTakeover: true, configs: [CFG_15_8, CFG_12_5], newCompressor: (c) => new PakoCompressor(c), newDecompressor: (c) => new PakoDecompressor(c) },
  // pako's Inflate allocates a fresh chunkSize output buffer (64 KiB by default) for every
  // message that ends in a flush; 16 KiB is the same as its Deflate default.
  { name: "pako-inflate-16k", async: false, contextTakeover: true, configs: [CFG_15_8], only: "decompress", newCompressor: (c) => new PakoCompressor(c), newDecompressor: (c) => new PakoDecompressor(c, 16384) },
  { name: "fflate", async: false, contextTakeover: true, configs: [CFG_FFLATE, CFG_FFLATE_MEM4], newCompressor: (c) => new FflateCompressor(c), newDecompressor: (c) => new FflateDecompressor(c) },
];
const LANES = 8;

// ---------------------------------------------------------------- throughput

type Row = {
  codec: string;
  config: string;
  contextTakeover: boolean;
  size: number;
  direction: "compress" | "decompress";
  messagesPerRound: number;
  rounds: number;
  roundMs: number[];
  medianMs: number;
  messagesPerSec: number;
  MBps: number;
  usPerMessage: number;
  bestMs: number;
  compressedBytes: number;
  uncompressedBytes: number;
  ratio: number;
  verified: boolean;
};

// Timing: every cell (codec x config x size x direction) is prepared and verified first; then
// the whole grid is run in PASSES interleaved passes, each cell getting one warm-up round and
// at least minRounds timed rounds (and minMs) per pass. The reported value is the median of all
// timed rounds of a cell. On a shared machine this spreads each cell's samples over the whole
// run instead of letting one burst of outside load hit all rounds of one cell.
const PLAN = quick
  ? { perRound: new Map([[100, 1000], [4096, 150], [65536, 12], [1048576, 2]]), passes: 1, warmup: 1, minRounds: 3, maxRounds: 6, minMs: 100 }
  : { perRound: new Map([[100, 1000], [4096, 200], [65536, 16], [1048576, 2]]), passes: 3, warmup: 1, minRounds: 2, maxRounds: 5, minMs: 60 };
// Distinct messages per size, cycled; large enough that a message never repeats within a 32 KiB
// window, also for the 8 interleaved streams of zlib-async-x8.
const POOL = new Map([[100, 1000], [4096, 128], [65536, 8], [1048576, 3]]);

async function compressAll(c: Compressor, msgs: Bytes[], async: boolean): Promise<Bytes[]> {
  const out: Bytes[] = [];
  for (const m of msgs) out.push(async ? await c.compress(m) : (c.compress(m) as Bytes));
  return out;
}

async function decompressAll(d: Decompressor, payloads: Bytes[], async: boolean): Promise<Bytes[]> {
  const out: Bytes[] = [];
  for (const p of payloads) out.push(async ? await d.decompress(p) : (d.decompress(p) as Bytes));
  return out;
}

function checkSame(what: string, got: Bytes[], want: Bytes[]) {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} messages, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (!sameBytes(got[i]!, want[i]!)) throw new Error(`${what}: message ${i} differs (${got[i]!.length} vs ${want[i]!.length} bytes)`);
  }
}

// node:zlib reference: the inflater used to cross-check every compressor and the compressor
// whose output every decompressor is timed on.
async function referenceInflate(payloads: Bytes[], cfg: Config, contextTakeover: boolean): Promise<Bytes[]> {
  if (!contextTakeover) return payloads.map((p) => new ZlibSyncDecompressor(cfg).decompress(p));
  const d = new ZlibAsyncDecompressor(cfg);
  try {
    return await decompressAll(d, payloads, true);
  } finally {
    d.close();
  }
}

async function referenceCompress(msgs: Bytes[], cfg: Config, contextTakeover: boolean): Promise<Bytes[]> {
  if (!contextTakeover) {
    const c = new ZlibSyncCompressor(cfg);
    return msgs.map((m) => c.compress(m));
  }
  const c = new ZlibAsyncCompressor(cfg);
  try {
    return await compressAll(c, msgs, true);
  } finally {
    c.close();
  }
}

type Cell = {
  label: string;
  codec: string;
  cfg: Config;
  contextTakeover: boolean;
  size: number;
  direction: Row["direction"];
  n: number;
  compressedBytes: number;
  setup: () => unknown;
  body: (state: any) => MaybeAsync<unknown>;
  teardown: (state: any) => void;
  times: number[];
};

// One pass over a cell: warm-up rounds, then timed rounds (a fresh stream per round, made
// outside the timer).
async function runPass(cell: Cell, warmup: number) {
  const once = async () => {
    const st = cell.setup();
    const t0 = performance.now();
    await cell.body(st);
    const t = performance.now() - t0;
    cell.teardown(st);
    return t;
  };
  for (let i = 0; i < warmup; i++) await once();
  let total = 0;
  let k = 0;
  while (k < PLAN.minRounds || (total < PLAN.minMs && k < PLAN.maxRounds)) {
    const t = await once();
    cell.times.push(t);
    total += t;
    k++;
  }
}

function makeRow(cell: Cell): Row {
  const { n, size, times } = cell;
  const med = median(times);
  const bytes = size * n;
  return {
    codec: cell.codec, config: cell.cfg.name, contextTakeover: cell.contextTakeover, size, direction: cell.direction,
    messagesPerRound: n, rounds: times.length, roundMs: times.map((t) => +t.toFixed(3)), medianMs: +med.toFixed(3),
    bestMs: +Math.min(...times).toFixed(3),
    messagesPerSec: Math.round((n / med) * 1000),
    MBps: +(bytes / 1e6 / (med / 1000)).toFixed(2),
    usPerMessage: +((med * 1000) / n).toFixed(2),
    compressedBytes: cell.compressedBytes, uncompressedBytes: bytes, ratio: +(cell.compressedBytes / bytes).toFixed(4),
    verified: true,
  };
}

// Builds and verifies every cell (nothing timed yet).
async function prepareCells(): Promise<Cell[]> {
  const cells: Cell[] = [];
  const total = (ps: Bytes[]) => ps.reduce((a, p) => a + p.length, 0);
  for (const size of SIZES) {
    const n = PLAN.perRound.get(size)!;
    const pool = makeMessages(size, POOL.get(size)!, 0xc0dec + size);
    const msgs = Array.from({ length: n }, (_, i) => pool[i % pool.length]!);
    const refs = new Map<string, Bytes[]>();
    const reference = async (cfg: Config, ctx: boolean) => {
      const key = `${cfg.windowBits}/${cfg.memLevel}/${ctx}`;
      if (!refs.has(key)) refs.set(key, await referenceCompress(msgs, cfg, ctx));
      return refs.get(key)!;
    };
    for (const codec of CODECS) {
      if (!codecFilter.has(codec.name)) continue;
      for (const cfg of codec.configs) {
        const label = `${codec.name} ${cfg.name} ${sizeLabel(size)}`;
        const base = { codec: codec.name, cfg, contextTakeover: codec.contextTakeover, size, n };
        if (codec.only !== "decompress") {
          // correctness: compress, cross-check with node:zlib, round trip
          const c0 = codec.newCompressor(cfg);
          const payloads = await compressAll(c0, msgs, codec.async);
          c0.close();
          checkSame(`${label}: node:zlib inflate of ${codec.name} output`, await referenceInflate(payloads, cfg, codec.contextTakeover), msgs);
          const d0 = codec.newDecompressor(cfg);
          checkSame(`${label}: round trip`, await decompressAll(d0, payloads, codec.async), msgs);
          d0.close();
          cells.push({
            ...base, times: [], label: `${label} compress`, direction: "compress", compressedBytes: total(payloads),
            setup: () => codec.newCompressor(cfg),
            body: codec.async
              ? async (c: Compressor) => {
                  for (let i = 0; i < n; i++) await c.compress(msgs[i]!);
                }
              : (c: Compressor) => {
                  for (let i = 0; i < n; i++) c.compress(msgs[i]!);
                },
            teardown: (c: Compressor) => c.close(),
          });
        }
        // decompress node:zlib-compressed input (fflate's second config only differs when compressing)
        if (cfg.fflateMem !== undefined || codec.only === "compress") continue;
        const input = await reference(cfg, codec.contextTakeover);
        const d1 = codec.newDecompressor(cfg);
        checkSame(`${label}: ${codec.name} inflate of node:zlib output`, await decompressAll(d1, input, codec.async), msgs);
        d1.close();
        cells.push({
          ...base, times: [], label: `${label} decompress`, direction: "decompress", compressedBytes: total(input),
          setup: () => codec.newDecompressor(cfg),
          body: codec.async
            ? async (d: Decompressor) => {
                for (let i = 0; i < n; i++) await d.decompress(input[i]!);
              }
            : (d: Decompressor) => {
                for (let i = 0; i < n; i++) d.decompress(input[i]!);
              },
          teardown: (d: Decompressor) => d.close(),
        });
      }
    }

    // 8 streams ("connections") compressing concurrently, each one message at a time.
    if (codecFilter.has("zlib-async-x8") && size <= 4096) {
      const cfg = CFG_15_8;
      const lanes = Array.from({ length: LANES }, (_, k) => msgs.filter((_, i) => i % LANES === k));
      const comps = lanes.map(() => new ZlibAsyncCompressor(cfg));
      const outs = await Promise.all(lanes.map((lane, k) => compressAll(comps[k]!, lane, true)));
      comps.forEach((c) => c.close());
      for (let k = 0; k < LANES; k++) checkSame(`zlib-async-x8 lane ${k}`, await referenceInflate(outs[k]!, cfg, true), lanes[k]!);
      cells.push({
        codec: `zlib-async-x${LANES}`, cfg, contextTakeover: true, size, n, times: [],
        label: `zlib-async-x${LANES} ${sizeLabel(size)} compress`, direction: "compress", compressedBytes: outs.reduce((a, o) => a + total(o), 0),
        setup: () => lanes.map(() => new ZlibAsyncCompressor(cfg)),
        body: (cs: ZlibAsyncCompressor[]) =>
          Promise.all(
            lanes.map(async (lane, k) => {
              for (const m of lane) await cs[k]!.compress(m);
            }),
          ),
        teardown: (cs: ZlibAsyncCompressor[]) => cs.forEach((c) => c.close()),
      });
    }
    log(`prepared and verified ${sizeLabel(size)}`);
  }
  return cells;
}

async function throughput(): Promise<Row[]> {
  const cells = await prepareCells();
  for (let pass = 0; pass < PLAN.passes; pass++) {
    const t0 = performance.now();
    for (const cell of cells) await runPass(cell, pass === 0 ? PLAN.warmup + 1 : PLAN.warmup);
    log(`throughput pass ${pass + 1}/${PLAN.passes}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const rows = cells.map(makeRow);
  for (const r of rows) log(`${r.codec} ${r.config} ${sizeLabel(r.size)} ${r.direction}: ${r.MBps} MB/s, ${r.messagesPerSec} msg/s (${r.rounds} rounds)`);
  return rows;
}

// ---------------------------------------------------------------- does async node:zlib leave the main thread?

// For one message: how long write()+flush() take before returning (work done synchronously on
// the main thread), the time until the flush callback, and how many setImmediate turns the
// event loop made in between (0 means nothing else could run while the message was processed).
type LoopRow = { direction: string; size: number; syncMs: number; totalMs: number; loopTurns: number };

async function eventLoopProbe(): Promise<LoopRow[]> {
  const rows: LoopRow[] = [];
  for (let round = 0; round < 2; round++) {
    // control: the same counter while the loop is idle for 20 ms (the first round is a warm-up)
    let done = false;
    let n = 0;
    const spin = () => {
      if (done) return;
      n++;
      setImmediate(spin);
    };
    const t0 = performance.now();
    setImmediate(spin);
    await sleep(20);
    done = true;
    if (round === 1) rows.push({ direction: "control: idle sleep(20)", size: 0, syncMs: 0, totalMs: +(performance.now() - t0).toFixed(3), loopTurns: n });
  }
  for (const size of [4096, 1048576]) {
    const msgs = makeMessages(size, 6, 0x100b + size);
    const payloads = await referenceCompress(msgs, CFG_15_8, true);
    for (const direction of ["compress", "decompress"] as const) {
      const stream = direction === "compress" ? zlib.createDeflateRaw({ level: 6, windowBits: 15, memLevel: 8 }) : zlib.createInflateRaw({ windowBits: 15 });
      stream.on("data", () => {});
      const syncs: number[] = [], totals: number[] = [], turns: number[] = [];
      for (let i = 0; i < msgs.length; i++) {
        let done = false;
        let n = 0;
        const spin = () => {
          if (done) return;
          n++;
          setImmediate(spin);
        };
        const t0 = performance.now();
        let t1 = 0;
        await new Promise<void>((resolve) => {
          if (direction === "compress") stream.write(msgs[i]!);
          else {
            stream.write(payloads[i]!);
            stream.write(TAIL);
          }
          stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            done = true;
            resolve();
          });
          t1 = performance.now();
          setImmediate(spin);
        });
        const t2 = performance.now();
        if (i === 0) continue; // warm-up
        syncs.push(t1 - t0);
        totals.push(t2 - t0);
        turns.push(n);
      }
      stream.close();
      rows.push({ direction, size, syncMs: +median(syncs).toFixed(3), totalMs: +median(totals).toFixed(3), loopTurns: median(turns) });
      log(`event loop, zlib-async ${direction} ${sizeLabel(size)}: sync part ${rows.at(-1)!.syncMs} ms of ${rows.at(-1)!.totalMs} ms, ${rows.at(-1)!.loopTurns} loop turns meanwhile`);
    }
  }
  return rows;
}

// ---------------------------------------------------------------- switching codec mid-stream

// Can one connection move between pako (sync) and node:zlib (async) at a message boundary and
// keep context takeover? The new stream is primed with the last 2^windowBits bytes of the
// uncompressed history as a preset dictionary (deflateSetDictionary / inflateSetDictionary on
// a raw stream). Sender side: pako, zlib-async, pako, and the peer's single node:zlib inflater
// must decode it all; receiver side: a single node:zlib stream decoded by pako, then
// zlib-async, then pako. Also reports the cost of creating a primed stream.
type SwitchRow = { check: string; result: string; compressedBytes?: number; singleStreamBytes?: number; primeUs?: Record<string, number> };

async function switchCheck(): Promise<SwitchRow[]> {
  const rows: SwitchRow[] = [];
  const msgs = [...makeMessages(4096, 8, 0x5157), ...makeMessages(65536, 4, 0x5158), ...makeMessages(4096, 8, 0x5159)];
  const cfg = CFG_15_8;
  const win = 1 << cfg.windowBits;
  const tailOf = (parts: Bytes[]) => {
    const all = concat(parts);
    return all.slice(Math.max(0, all.length - win));
  };
  const phaseOf = (i: number) => (i < 8 ? 0 : i < 12 ? 1 : 2); // pako, zlib-async, pako
  // sender side
  try {
    const payloads: Bytes[] = [];
    let comp: Compressor = new PakoCompressor(cfg);
    for (let i = 0; i < msgs.length; i++) {
      if (i > 0 && phaseOf(i) !== phaseOf(i - 1)) {
        comp.close();
        const primed = { ...cfg, dictionary: tailOf(msgs.slice(0, i)) };
        comp = phaseOf(i) === 1 ? new ZlibAsyncCompressor(primed) : new PakoCompressor(primed);
      }
      payloads.push(phaseOf(i) === 1 ? await comp.compress(msgs[i]!) : (comp.compress(msgs[i]!) as Bytes));
    }
    comp.close();
    checkSame("switch (sender)", await referenceInflate(payloads, cfg, true), msgs);
    const single = await referenceCompress(msgs, cfg, true);
    rows.push({
      check: "sender: pako -> zlib-async -> pako, primed with the last 32 KiB; one node:zlib inflater",
      result: "ok", compressedBytes: payloads.reduce((a, p) => a + p.length, 0), singleStreamBytes: single.reduce((a, p) => a + p.length, 0),
    });
  } catch (e) {
    rows.push({ check: "sender: pako -> zlib-async -> pako", result: `error: ${(e as Error).message}` });
  }
  // receiver side
  try {
    const payloads = await referenceCompress(msgs, cfg, true);
    const out: Bytes[] = [];
    let dec: Decompressor = new PakoDecompressor(cfg);
    for (let i = 0; i < msgs.length; i++) {
      if (i > 0 && phaseOf(i) !== phaseOf(i - 1)) {
        dec.close();
        const primed = { ...cfg, dictionary: tailOf(out) };
        dec = phaseOf(i) === 1 ? new ZlibAsyncDecompressor(primed) : new PakoDecompressor(primed);
      }
      out.push(phaseOf(i) === 1 ? await dec.decompress(payloads[i]!) : (dec.decompress(payloads[i]!) as Bytes));
    }
    dec.close();
    checkSame("switch (receiver)", out, msgs);
    rows.push({ check: "receiver: one node:zlib stream decoded by pako -> zlib-async -> pako, primed with the last 32 KiB", result: "ok" });
  } catch (e) {
    rows.push({ check: "receiver: pako -> zlib-async -> pako", result: `error: ${(e as Error).message}` });
  }
  // cost of a primed stream (creation + dictionary), median of 30
  const dict = tailOf(msgs);
  const primed = { ...cfg, dictionary: dict };
  const cost = (make: () => { close(): void }) => {
    const ts: number[] = [];
    for (let i = 0; i < 31; i++) {
      const t0 = performance.now();
      const x = make();
      const t = performance.now() - t0;
      x.close();
      if (i) ts.push(t * 1000);
    }
    return +median(ts).toFixed(1);
  };
  // zlib applies the dictionary when the stream is set up (synchronously on Node); pako and the
  // zlib inflater likewise in the constructor.
  rows.push({
    check: "cost of creating a stream primed with 32 KiB (µs, median of 30)", result: "measured",
    primeUs: {
      pakoDeflate: cost(() => new PakoCompressor(primed)),
      pakoInflate: cost(() => new PakoDecompressor(primed)),
      zlibDeflateRaw: cost(() => new ZlibAsyncCompressor(primed)),
      zlibInflateRaw: cost(() => new ZlibAsyncDecompressor(primed)),
      pakoDeflateUnprimed: cost(() => new PakoCompressor(cfg)),
      zlibDeflateRawUnprimed: cost(() => new ZlibAsyncCompressor(cfg)),
    },
  });
  for (const r of rows) log(`switch: ${JSON.stringify(r)}`);
  return rows;
}

// ---------------------------------------------------------------- memory per context

type MemRow = { codec: string; config: string; pairs: number; messagesPerPair: number; gc: boolean; rssPerPair: number; heapPerPair: number; externalPerPair: number; arrayBuffersPerPair: number; error?: string };

const MEM_CASES: { codec: string; cfg: Config }[] = [
  ...[CFG_15_8, CFG_12_5, CFG_9_1].map((cfg) => ({ codec: "zlib-async", cfg })),
  ...[CFG_15_8, CFG_12_5, CFG_9_1].map((cfg) => ({ codec: "pako", cfg })),
  ...[CFG_FFLATE, CFG_FFLATE_MEM4].map((cfg) => ({ codec: "fflate", cfg })),
];

// Runs in a child process (a fresh heap and RSS per case, with gc exposed). Two samples, one
// after the other, each the growth since the previous measurement: `pairs` pairs that each
// compressed and decompressed one 4 KiB message, then `pairs16` more pairs that each went
// through 16 x 4 KiB (64 KiB, so windows and hash tables have been written all over: closer to
// a long-lived connection). Everything stays referenced until both are measured.
async function memoryChild(codecName: string, cfgName: string, pairs: number, pairs16: number) {
  const c = MEM_CASES.find((m) => m.codec === codecName && m.cfg.name === cfgName);
  const codec = CODECS.find((x) => x.name === codecName);
  if (!c || !codec) throw new Error(`unknown memory case ${codecName} ${cfgName}`);
  const msgs = makeMessages(4096, 64, 0x5eed);
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      fullGc();
      await sleep(60);
    }
    return process.memoryUsage();
  };
  const hadGc = fullGc();
  const keep: [Compressor, Decompressor][] = [];
  let before = await settle();
  for (const [count, perPair] of [[pairs, 1], [pairs16, 16]] as const) {
    for (let i = 0; i < count; i++) {
      const comp = codec.newCompressor(c.cfg);
      const decomp = codec.newDecompressor(c.cfg);
      for (let j = 0; j < perPair; j++) {
        const m = msgs[(i + j) % msgs.length]!;
        const p = codec.async ? await comp.compress(m) : (comp.compress(m) as Bytes);
        const back = codec.async ? await decomp.decompress(p) : (decomp.decompress(p) as Bytes);
        if (!sameBytes(back, m)) throw new Error(`memory case ${codecName} ${cfgName}: round trip failed`);
      }
      keep.push([comp, decomp]);
    }
    const after = await settle();
    const per = (k: "rss" | "heapUsed" | "external" | "arrayBuffers") => Math.round(((after[k] ?? 0) - (before[k] ?? 0)) / count);
    const row: MemRow = {
      codec: codecName, config: cfgName, pairs: count, messagesPerPair: perPair, gc: hadGc,
      rssPerPair: per("rss"), heapPerPair: per("heapUsed"), externalPerPair: per("external"), arrayBuffersPerPair: per("arrayBuffers"),
    };
    console.log("MEMRESULT " + JSON.stringify(row));
    before = after;
  }
  for (const [a, b] of keep) {
    a.close();
    b.close();
  }
}

// One child process per case, two at a time (each measures only its own RSS and heap).
async function memory(): Promise<MemRow[]> {
  const script = fileURLToPath(import.meta.url);
  const pairs = quick ? 300 : 1000;
  const pairs16 = 100;
  const cases = MEM_CASES.filter((m) => codecFilter.has(m.codec));
  const results: MemRow[][] = [];
  const runCase = (m: (typeof MEM_CASES)[number]) =>
    new Promise<MemRow[]>((resolve) => {
      const childArgs = ["--mem-child", m.codec, m.cfg.name, String(pairs), String(pairs16)];
      const [cmd, args] =
        runtime === "deno"
          ? [g.Deno!.execPath(), ["run", "-A", "--v8-flags=--expose-gc", script, ...childArgs]]
          : runtime === "bun"
            ? [process.execPath, [script, ...childArgs]]
            : [process.execPath, [...process.execArgv, "--expose-gc", script, ...childArgs]];
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      child.stdout!.on("data", (d: Bytes) => (out += d.toString()));
      child.stderr!.on("data", (d: Bytes) => (err += d.toString()));
      const timer = setTimeout(() => child.kill(), 180_000);
      child.on("close", (status: number | null) => {
        clearTimeout(timer);
        const found = out.split("\n").filter((l) => l.startsWith("MEMRESULT "));
        if (found.length < 2) {
          const error = `child failed (status ${status}): ${err.trim().split("\n").slice(-3).join(" | ")}`;
          log(`memory ${m.codec} ${m.cfg.name}: ${error}`);
          return resolve([{ codec: m.codec, config: m.cfg.name, pairs, messagesPerPair: 1, gc: false, rssPerPair: NaN, heapPerPair: NaN, externalPerPair: NaN, arrayBuffersPerPair: NaN, error }]);
        }
        const rows = found.map((line) => JSON.parse(line.slice("MEMRESULT ".length)) as MemRow);
        for (const row of rows) log(`memory ${m.codec} ${m.cfg.name} x${row.messagesPerPair}: rss ${(row.rssPerPair / 1024).toFixed(1)} KiB/pair, heap ${(row.heapPerPair / 1024).toFixed(1)} KiB/pair, external ${(row.externalPerPair / 1024).toFixed(1)} KiB/pair`);
        resolve(rows);
      });
    });
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runCase(cases[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return results.flat();
}

// ---------------------------------------------------------------- window bits 8

// A small DEFLATE decoder (RFC 1951) that records the longest back-reference distance.
// Decodes a raw stream made of sync-flushed messages; stops at the end of the input.
type ParseResult = { output: Bytes; matches: number; maxDistance: number; over256: number; over512: number };

function parseDeflate(data: Bytes): ParseResult {
  let bitPos = 0;
  const totalBits = data.length * 8;
  const bit = () => {
    if (bitPos >= totalBits) throw new Error("deflate parse: out of input");
    const b = (data[bitPos >> 3]! >> (bitPos & 7)) & 1;
    bitPos++;
    return b;
  };
  const bits = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++) v |= bit() << i;
    return v;
  };
  type Huff = { count: Uint16Array; symbol: Uint16Array };
  const build = (lengths: ArrayLike<number>): Huff => {
    const count = new Uint16Array(16);
    for (let i = 0; i < lengths.length; i++) count[lengths[i]!]!++;
    count[0] = 0;
    const offs = new Uint16Array(16);
    for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + count[len]!;
    const symbol = new Uint16Array(lengths.length);
    for (let i = 0; i < lengths.length; i++) if (lengths[i]) symbol[offs[lengths[i]!]!++] = i;
    return { count, symbol };
  };
  const decode = (h: Huff) => {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= bit();
      const cnt = h.count[len]!;
      if (code - first < cnt) return h.symbol[index + (code - first)]!;
      index += cnt;
      first = (first + cnt) << 1;
      code <<= 1;
    }
    throw new Error("deflate parse: bad code");
  };
  const LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  const DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
  const DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
  const fixedL = new Uint8Array(288);
  fixedL.fill(8, 0, 144);
  fixedL.fill(9, 144, 256);
  fixedL.fill(7, 256, 280);
  fixedL.fill(8, 280, 288);
  const fixedLit = build(fixedL);
  const fixedDist = build(new Uint8Array(30).fill(5));
  const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

  let out = new Uint8Array(1 << 16);
  let outLen = 0;
  const put = (b: number) => {
    if (outLen === out.length) {
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = bigger;
    }
    out[outLen++] = b;
  };
  let matches = 0, maxDistance = 0, over256 = 0, over512 = 0;
  let last = 0;
  while (!last && ((bitPos + 7) >> 3) < data.length) {
    last = bit();
    const type = bits(2);
    if (type === 0) {
      bitPos = (bitPos + 7) & ~7;
      const len = bits(16);
      const nlen = bits(16);
      if ((len ^ 0xffff) !== nlen) throw new Error("deflate parse: bad stored length");
      for (let i = 0; i < len; i++) put(bits(8));
      continue;
    }
    let lit: Huff, dist: Huff;
    if (type === 1) {
      lit = fixedLit;
      dist = fixedDist;
    } else if (type === 2) {
      const nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
      const cl = new Uint8Array(19);
      for (let i = 0; i < ncode; i++) cl[ORDER[i]!] = bits(3);
      const clh = build(cl);
      const lengths = new Uint8Array(nlen + ndist);
      for (let i = 0; i < nlen + ndist; ) {
        const sym = decode(clh);
        if (sym < 16) lengths[i++] = sym;
        else {
          let rep = 0, val = 0;
          if (sym === 16) {
            if (i === 0) throw new Error("deflate parse: repeat with no previous length");
            val = lengths[i - 1]!;
            rep = 3 + bits(2);
          } else if (sym === 17) rep = 3 + bits(3);
          else rep = 11 + bits(7);
          while (rep--) lengths[i++] = val;
        }
      }
      lit = build(lengths.subarray(0, nlen));
      dist = build(lengths.subarray(nlen));
    } else throw new Error("deflate parse: block type 3");
    for (;;) {
      const sym = decode(lit);
      if (sym < 256) put(sym);
      else if (sym === 256) break;
      else {
        const li = sym - 257;
        const len = LBASE[li]! + bits(LEXT[li]!);
        const di = decode(dist);
        const d = DBASE[di]! + bits(DEXT[di]!);
        if (d > outLen) throw new Error(`deflate parse: distance ${d} before start of stream`);
        matches++;
        if (d > maxDistance) maxDistance = d;
        if (d > 256) over256++;
        if (d > 512) over512++;
        for (let i = 0; i < len; i++) put(out[outLen - d]!);
      }
    }
  }
  return { output: out.slice(0, outLen), matches, maxDistance, over256, over512 };
}

// Random bytes (so short-distance matches are rare) with segments copied from 300-500 bytes back.
function farRepeats(size: number, seed: number): Bytes {
  const r = makeRng(seed);
  const out = new Uint8Array(size);
  let p = 0;
  while (p < size) {
    if (p > 600 && r() < 0.6) {
      const d = 300 + Math.floor(r() * 201);
      const len = Math.min(16 + Math.floor(r() * 33), size - p);
      for (let i = 0; i < len; i++, p++) out[p] = out[p - d]!;
    } else {
      const len = Math.min(8 + Math.floor(r() * 24), size - p);
      for (let i = 0; i < len; i++, p++) out[p] = Math.floor(r() * 256);
    }
  }
  return out;
}

type W8Row = {
  data: string;
  codec: string;
  requested: string;
  accepted: boolean;
  error?: string;
  identicalToWb9?: boolean;
  compressedBytes?: number;
  ratio?: number;
  matches?: number;
  maxDistance?: number;
  over256?: number;
  over512?: number;
  zlibInflateWb8?: string;
  pakoInflateWb8?: string;
};

async function window8(): Promise<W8Row[]> {
  const rows: W8Row[] = [];
  const datasets: { name: string; msgs: Bytes[] }[] = [
    { name: "far repeats (300-500 B back), 4 x 12 KiB", msgs: [0, 1, 2, 3].map((i) => farRepeats(12288, 77 + i)) },
    { name: "JSON-like, 12 x 4 KiB", msgs: makeMessages(4096, 12, 0x8888) },
  ];
  const full = (payloads: Bytes[]) => concat(payloads.flatMap((p) => [p, TAIL]));
  const inflateCheck = async (payloads: Bytes[], msgs: Bytes[]) => {
    // Limited-window inflaters, one message at a time (context kept), 64-byte output buffers so
    // that references must be served from the inflater's own 256-byte window.
    const cfg8: Config = { name: "8", level: 6, windowBits: 8, memLevel: 8 };
    let zres: string, pres: string;
    try {
      const z = new ZlibAsyncDecompressor(cfg8, 64);
      const got = await decompressAll(z, payloads, true);
      z.close();
      checkSame("zlib wb8", got, msgs);
      zres = "ok";
    } catch (e) {
      zres = `error: ${(e as Error).message}`;
    }
    try {
      const pk = new PakoDecompressor(cfg8, 64);
      checkSame("pako wb8", await decompressAll(pk, payloads, false), msgs);
      pres = "ok";
    } catch (e) {
      pres = `error: ${(e as Error).message}`;
    }
    return { zlibInflateWb8: zres, pakoInflateWb8: pres };
  };
  const analyse = async (data: string, codec: string, requested: string, payloads: Bytes[], msgs: Bytes[], extra: Partial<W8Row> = {}): Promise<W8Row> => {
    const parsed = parseDeflate(full(payloads));
    if (!sameBytes(parsed.output, concat(msgs))) throw new Error(`window8 ${codec} ${requested}: own decoder disagrees with input`);
    const compressed = payloads.reduce((a, p) => a + p.length, 0);
    const input = msgs.reduce((a, m) => a + m.length, 0);
    return {
      data, codec, requested, accepted: true, ...extra,
      compressedBytes: compressed, ratio: +(compressed / input).toFixed(4),
      matches: parsed.matches, maxDistance: parsed.maxDistance, over256: parsed.over256, over512: parsed.over512,
      ...(await inflateCheck(payloads, msgs)),
    };
  };
  const strategies: [string, number][] = [["default", zlib.constants.Z_DEFAULT_STRATEGY], ["Z_RLE", zlib.constants.Z_RLE], ["Z_HUFFMAN_ONLY", zlib.constants.Z_HUFFMAN_ONLY]];
  for (const { name, msgs } of datasets) {
    // node:zlib of this runtime, context takeover (one stream, sync flush per message)
    const zcases: { req: string; cfg: Config }[] = [
      { req: "wb 15, level 6 (control)", cfg: { name: "", level: 6, windowBits: 15, memLevel: 8 } },
      { req: "wb 9, level 6", cfg: { name: "", level: 6, windowBits: 9, memLevel: 8 } },
      ...[1, 6, 9].map((level) => ({ req: `wb 8, level ${level}`, cfg: { name: "", level, windowBits: 8, memLevel: 8 } })),
      ...strategies.slice(1).map(([s, v]) => ({ req: `wb 8, level 6, ${s}`, cfg: { name: "", level: 6, windowBits: 8, memLevel: 8, strategy: v } })),
    ];
    const wb9 = await referenceCompress(msgs, zcases[1]!.cfg, true).catch(() => null);
    for (const zc of zcases) {
      let payloads: Bytes[];
      try {
        payloads = await referenceCompress(msgs, zc.cfg, true);
      } catch (e) {
        rows.push({ data: name, codec: "node:zlib", requested: zc.req, accepted: false, error: (e as Error).message });
        continue;
      }
      const extra: Partial<W8Row> = {};
      if (zc.cfg.windowBits === 8 && wb9 && zc.cfg.level === 6 && zc.cfg.strategy === undefined) {
        extra.identicalToWb9 = sameBytes(full(payloads), full(wb9));
      }
      rows.push(await analyse(name, "node:zlib", zc.req, payloads, msgs, extra));
    }
    // also the one-shot API (what a no_context_takeover sender would call)
    try {
      const one = msgs.map((m) => stripTail(zlib.deflateRawSync(m, { windowBits: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH })));
      const oneWb9 = msgs.map((m) => stripTail(zlib.deflateRawSync(m, { windowBits: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH })));
      // each message is its own stream here: parse/inflate them one by one
      let maxD = 0, over = 0;
      for (const p of one) {
        const r = parseDeflate(concat([p, TAIL]));
        maxD = Math.max(maxD, r.maxDistance);
        over += r.over256;
      }
      rows.push({
        data: name, codec: "node:zlib deflateRawSync", requested: "wb 8, level 6 (one-shot per message)", accepted: true,
        identicalToWb9: sameBytes(full(one), full(oneWb9)), compressedBytes: one.reduce((a, p) => a + p.length, 0),
        maxDistance: maxD, over256: over,
      });
    } catch (e) {
      rows.push({ data: name, codec: "node:zlib deflateRawSync", requested: "wb 8 (one-shot)", accepted: false, error: (e as Error).message });
    }
    // pako
    const pcases: { req: string; cfg: Config }[] = [
      { req: "wb 8, level 6", cfg: { name: "", level: 6, windowBits: 8, memLevel: 8 } },
      { req: "wb 9, level 6", cfg: { name: "", level: 6, windowBits: 9, memLevel: 8 } },
      { req: "wb 9, level 6, Z_RLE", cfg: { name: "", level: 6, windowBits: 9, memLevel: 8, strategy: Z_RLE } },
      { req: "wb 9, level 6, Z_HUFFMAN_ONLY", cfg: { name: "", level: 6, windowBits: 9, memLevel: 8, strategy: Z_HUFFMAN_ONLY } },
    ];
    for (const pc of pcases) {
      let payloads: Bytes[];
      try {
        const c = new PakoCompressor(pc.cfg);
        payloads = msgs.map((m) => c.compress(m));
      } catch (e) {
        rows.push({ data: name, codec: "pako", requested: pc.req, accepted: false, error: (e as Error).message });
        continue;
      }
      rows.push(await analyse(name, "pako", pc.req, payloads, msgs));
    }
    // fflate: no window option at all
    const fc = new FflateCompressor(CFG_FFLATE);
    rows.push(await analyse(name, "fflate", "(no window option) level 6", msgs.map((m) => fc.compress(m)), msgs));
  }
  for (const r of rows) log(`w8 ${r.codec} ${r.requested} [${r.data.slice(0, 12)}]: ${r.accepted ? `max dist ${r.maxDistance}, >256: ${r.over256}, zlib wb8 inflate ${r.zlibInflateWb8}, pako wb8 ${r.pakoInflateWb8}${r.identicalToWb9 !== undefined ? `, same as wb9: ${r.identicalToWb9}` : ""}` : `rejected: ${r.error}`}`);
  return rows;
}

// ---------------------------------------------------------------- output

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function throughputTable(rows: Row[]): string {
  const us = (r: Row) => `${fmt(r.usPerMessage)} (${fmt((r.bestMs * 1000) / r.messagesPerRound)})`;
  const lines = [
    "| codec | config | size | compress msg/s | compress MB/s | µs/msg | decompress msg/s | decompress MB/s | µs/msg | compressed/original |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  const keys: string[] = [];
  for (const r of rows) {
    const k = `${r.codec}|${r.config}|${r.size}`;
    if (!keys.includes(k)) keys.push(k);
  }
  const order = (k: string) => {
    const [name, config, size] = k.split("|");
    const base = name!.startsWith("zlib-async-x") ? "zlib-async" : name!;
    const i = CODECS.findIndex((c) => c.name === base);
    const codec = CODECS[i];
    const ci = codec ? codec.configs.findIndex((c) => c.name === config) : 0;
    return [i + (base !== name ? 0.5 : 0), ci, Number(size)] as const;
  };
  keys.sort((a, b) => {
    const [ca, fa, sa] = order(a), [cb, fb, sb] = order(b);
    return ca - cb || fa - fb || sa - sb;
  });
  for (const k of keys) {
    const [codec, config, size] = k.split("|");
    const c = rows.find((r) => `${r.codec}|${r.config}|${r.size}` === k && r.direction === "compress");
    const d = rows.find((r) => `${r.codec}|${r.config}|${r.size}` === k && r.direction === "decompress");
    const ctx = (c ?? d)!.contextTakeover ? "" : " (no ctx)";
    lines.push(
      `| ${codec}${ctx} | ${config} | ${sizeLabel(Number(size))} | ${c ? fmt(c.messagesPerSec) : "–"} | ${c ? fmt(c.MBps) : "–"} | ${c ? us(c) : "–"} | ${d ? fmt(d.messagesPerSec) : "–"} | ${d ? fmt(d.MBps) : "–"} | ${d ? us(d) : "–"} | ${c ? (c.ratio * 100).toFixed(1) + "%" : "–"} |`,
    );
  }
  return lines.join("\n");
}

function memoryTable(rows: MemRow[]): string {
  const kib = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? (n / 1024).toFixed(1) : "n/a");
  const lines = [
    "| codec | config | RSS KiB/pair, 1 msg | JS heap | external | RSS KiB/pair, 16 msgs | JS heap | external | pairs | gc |",
    "|---|---|--:|--:|--:|--:|--:|--:|---|---|",
  ];
  for (const m of MEM_CASES) {
    const a = rows.find((r) => r.codec === m.codec && r.config === m.cfg.name && r.messagesPerPair === 1);
    const b = rows.find((r) => r.codec === m.codec && r.config === m.cfg.name && r.messagesPerPair === 16);
    if (!a && !b) continue;
    const err = [a?.error, b?.error].filter(Boolean).join("; ");
    lines.push(
      `| ${m.codec} | ${m.cfg.name} | ${kib(a?.rssPerPair)} | ${kib(a?.heapPerPair)} | ${kib(a?.externalPerPair)} | ${kib(b?.rssPerPair)} | ${kib(b?.heapPerPair)} | ${kib(b?.externalPerPair)} | ${a?.pairs ?? "-"} / ${b?.pairs ?? "-"} | ${err || ((a?.gc ?? b?.gc) ? "yes" : "no")} |`,
    );
  }
  return lines.join("\n");
}

function w8Table(rows: W8Row[]): string {
  return [
    "| data | codec | requested | result | max distance | refs > 256 | same bytes as wb 9 | zlib inflate wb 8 | pako inflate wb 8 |",
    "|---|---|---|---|--:|--:|---|---|---|",
    ...rows.map((r) =>
      r.accepted
        ? `| ${r.data} | ${r.codec} | ${r.requested} | accepted, ${r.compressedBytes} B | ${r.maxDistance} | ${r.over256} | ${r.identicalToWb9 === undefined ? "" : r.identicalToWb9 ? "yes" : "no"} | ${r.zlibInflateWb8 ?? ""} | ${r.pakoInflateWb8 ?? ""} |`
        : `| ${r.data} | ${r.codec} | ${r.requested} | rejected: ${r.error} | | | | | |`,
    ),
  ].join("\n");
}

// ---------------------------------------------------------------- main

// Prints every section present in a result object (also used by --print).
function printResult(result: Record<string, any>) {
  const head = `${result.runtime} ${result.runtimeVersion}`;
  const m = result.machine ?? {};
  console.log(`\n## ${head} (node:zlib reports zlib ${result.zlibVersion}; ${m.cpus} CPUs, load average ${m.loadavgAtStart?.[0]} at start, ${m.loadavgAtEnd?.[0]} at end; ${result.date})`);
  if (result.fflateShippedFlush) {
    const rows = result.fflateShippedFlush as Record<string, unknown>[];
    console.log(
      `\n### ${head}: fflate Deflate#flush(true) as shipped\n\n| size | messages | without 00 00 ff ff | node:zlib inflate | pako inflate | fflate inflate |\n|---|--:|--:|---|---|---|\n` +
        rows.map((r) => `| ${sizeLabel(r.size as number)} | ${r.messages} | ${r.withoutSyncMarker} | ${r.zlibInflate} | ${r.pakoInflate} | ${r.fflateInflate} |`).join("\n") + "\n",
    );
  }
  if (result.eventLoop) {
    const rows = result.eventLoop as LoopRow[];
    console.log(
      `\n### ${head}: zlib-async, time on the main thread per message (15/8)\n\n| direction | size | write+flush return after (ms) | callback after (ms) | event-loop turns meanwhile |\n|---|---|--:|--:|--:|\n` +
        rows.map((r) => `| ${r.direction} | ${r.size ? sizeLabel(r.size) : ""} | ${r.syncMs} | ${r.totalMs} | ${r.loopTurns} |`).join("\n") + "\n",
    );
  }
  if (result.switchCodec) {
    const rows = result.switchCodec as SwitchRow[];
    console.log(
      `\n### ${head}: switching codec at a message boundary (15/8, context takeover)\n\n| check | result |\n|---|---|\n` +
        rows
          .map((r) => `| ${r.check} | ${r.result}${r.compressedBytes ? ` (${r.compressedBytes} B; one node:zlib stream: ${r.singleStreamBytes} B)` : ""}${r.primeUs ? ": " + Object.entries(r.primeUs).map(([k, v]) => `${k} ${v}`).join(", ") : ""} |`)
          .join("\n") + "\n",
    );
  }
  if (result.throughput) console.log(`\n### ${head}: throughput (µs/msg: median, best round in parentheses)\n\n${throughputTable(result.throughput as Row[])}\n`);
  if (result.memory) console.log(`\n### ${head}: memory per compressor+decompressor pair\n\n${memoryTable(result.memory as MemRow[])}\n`);
  if (result.window8) console.log(`\n### ${head}: windowBits 8\n\n${w8Table(result.window8 as W8Row[])}\n`);
}

async function main() {
  const memIdx = argv.indexOf("--mem-child");
  if (memIdx >= 0) {
    await memoryChild(argv[memIdx + 1]!, argv[memIdx + 2]!, Number(argv[memIdx + 3]), Number(argv[memIdx + 4]));
    return;
  }
  const resultFile = fileURLToPath(new URL(`./results/codec-${runtime}.json`, import.meta.url));
  if (flag("print")) {
    printResult(JSON.parse(readFileSync(resultFile, "utf8")));
    return;
  }
  const started = performance.now();
  const zlibVersion = (process.versions as Record<string, string | undefined>).zlib ?? "unknown";
  log(`codec bench on ${runtime} ${runtimeVersion} (node:zlib reports zlib ${zlibVersion})${quick ? ", quick" : ""}`);
  const result: Record<string, unknown> = {
    runtime, runtimeVersion, zlibVersion, quick, date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", totalMemGiB: +(totalmem() / 2 ** 30).toFixed(1), loadavgAtStart: loadavg().map((x) => +x.toFixed(2)) },
    plan: { ...PLAN, perRound: Object.fromEntries(PLAN.perRound), pool: Object.fromEntries(POOL) },
  };
  const sectionSec: Record<string, number> = {};
  result.sectionSec = sectionSec;
  const section = async (name: string, key: string, run: () => Promise<unknown>) => {
    if (!sections.has(name)) return;
    const t0 = performance.now();
    result[key] = await run();
    sectionSec[name] = +((performance.now() - t0) / 1000).toFixed(1);
  };
  await section("ff", "fflateShippedFlush", async () => {
    const rows = await fflateShippedFlushCheck();
    for (const r of rows) log(`fflate flush(true) as shipped, ${sizeLabel(r.size as number)}: ${JSON.stringify(r)}`);
    return rows;
  });
  await section("loop", "eventLoop", eventLoopProbe);
  await section("switch", "switchCodec", switchCheck);
  await section("tp", "throughput", throughput);
  await section("mem", "memory", memory);
  await section("w8", "window8", window8);
  result.elapsedSec = +((performance.now() - started) / 1000).toFixed(1);
  (result.machine as Record<string, unknown>).loadavgAtEnd = loadavg().map((x) => +x.toFixed(2));
  log(`load average at start ${(result.machine as { loadavgAtStart: number[] }).loadavgAtStart.join(" ")}, at end ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  log(`done in ${result.elapsedSec} s (${Object.entries(sectionSec).map(([k, v]) => `${k} ${v} s`).join(", ")})`);
  printResult(result);
  if (!flag("no-save")) {
    mkdirSync(dirname(resultFile), { recursive: true });
    writeFileSync(resultFile, JSON.stringify(result, null, 2) + "\n");
    log(`wrote ${resultFile}`);
  }
}

await main();
