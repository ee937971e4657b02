// Codec bench: what windowBits 8 really gives ("w8" section), with a small DEFLATE decoder
// that measures back-reference distances exactly.
import zlib from "node:zlib";
import { Z_RLE, Z_HUFFMAN_ONLY } from "pako";
import { type Bytes, TAIL, concat, log, sameBytes, stripTail } from "./env.ts";
import { makeMessages, makeRng } from "./data.ts";
import { CFG_FFLATE, type Config, FflateCompressor, PakoCompressor, PakoDecompressor, ZlibAsyncDecompressor } from "./codecs.ts";
import { checkSame, decompressAll, referenceCompress } from "./verify.ts";

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

export type W8Row = {
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

export async function window8(): Promise<W8Row[]> {
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
