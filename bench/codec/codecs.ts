// Codec bench: the codecs under test, each wrapped as a Compressor/Decompressor that works the
// way permessage-deflate needs (see the list at the top of bench/codec_bench.ts), and the check
// of fflate's Deflate#flush(true) as shipped.
import zlib from "node:zlib";
import { Deflate as PakoDeflate, Inflate as PakoInflate, Z_NO_FLUSH, Z_SYNC_FLUSH, Z_DEFAULT_STRATEGY } from "pako";
import { Deflate as FflateDeflate, Inflate as FflateInflate } from "fflate";
import { type Bytes, TAIL, concat, sameBytes, stripTail } from "./env.ts";
import { makeMessages } from "./data.ts";

// `dictionary` primes a new stream with the last 2^windowBits bytes of the one it replaces
// (used by the "switch" section only).
export type Config = { name: string; level: number; windowBits: number; memLevel: number; strategy?: number; fflateMem?: number; dictionary?: Bytes };
export const CFG_15_8: Config = { name: "15/8", level: 6, windowBits: 15, memLevel: 8 };
export const CFG_12_5: Config = { name: "12/5", level: 6, windowBits: 12, memLevel: 5 };
export const CFG_9_1: Config = { name: "9/1", level: 6, windowBits: 9, memLevel: 1 };
// fflate has no window option (always 32 KiB); `mem` sizes its hash table (2^(12+mem) entries,
// 2^20 when unset on a stream).
export const CFG_FFLATE: Config = { name: "default", level: 6, windowBits: 15, memLevel: 8 };
export const CFG_FFLATE_MEM4: Config = { name: "mem 4", level: 6, windowBits: 15, memLevel: 8, fflateMem: 4 };

export type MaybeAsync<T> = T | Promise<T>;
export interface Compressor {
  compress(message: Bytes): MaybeAsync<Bytes>;
  close(): void;
}
export interface Decompressor {
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
export class ZlibAsyncCompressor implements Compressor {
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

export class ZlibAsyncDecompressor implements Decompressor {
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

export class ZlibSyncCompressor implements Compressor {
  private opts: zlib.ZlibOptions;
  constructor(cfg: Config) {
    this.opts = { level: cfg.level, windowBits: cfg.windowBits, memLevel: cfg.memLevel, strategy: cfg.strategy ?? zlib.constants.Z_DEFAULT_STRATEGY, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  }
  compress(message: Bytes): Bytes {
    return stripTail(zlib.deflateRawSync(message, this.opts));
  }
  close() {}
}

export class ZlibSyncDecompressor implements Decompressor {
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

export class PakoCompressor implements Compressor {
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

export class PakoDecompressor implements Decompressor {
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
export class FflateCompressor implements Compressor {
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
export async function fflateShippedFlushCheck(): Promise<Record<string, unknown>[]> {
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

export const CODECS: Codec[] = [
  { name: "zlib-async", async: true, contextTakeover: true, configs: [CFG_15_8, CFG_12_5], newCompressor: (c) => new ZlibAsyncCompressor(c), newDecompressor: (c) => new ZlibAsyncDecompressor(c) },
  { name: "zlib-sync", async: false, contextTakeover: false, configs: [CFG_15_8, CFG_12_5], newCompressor: (c) => new ZlibSyncCompressor(c), newDecompressor: (c) => new ZlibSyncDecompressor(c) },
  { name: "pako", async: false, contextTakeover: true, configs: [CFG_15_8, CFG_12_5], newCompressor: (c) => new PakoCompressor(c), newDecompressor: (c) => new PakoDecompressor(c) },
  // pako's Inflate allocates a fresh chunkSize output buffer (64 KiB by default) for every
  // message that ends in a flush; 16 KiB is the same as its Deflate default.
  { name: "pako-inflate-16k", async: false, contextTakeover: true, configs: [CFG_15_8], only: "decompress", newCompressor: (c) => new PakoCompressor(c), newDecompressor: (c) => new PakoDecompressor(c, 16384) },
  { name: "fflate", async: false, contextTakeover: true, configs: [CFG_FFLATE, CFG_FFLATE_MEM4], newCompressor: (c) => new FflateCompressor(c), newDecompressor: (c) => new FflateDecompressor(c) },
];
