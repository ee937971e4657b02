// Codec bench: throughput of every codec x config x size x direction ("tp" section).
import { type Bytes, SIZES, codecFilter, log, median, quick, sizeLabel } from "./env.ts";
import { makeMessages } from "./data.ts";
import { CFG_15_8, CODECS, type Compressor, type Config, type Decompressor, type MaybeAsync, ZlibAsyncCompressor } from "./codecs.ts";
import { checkSame, compressAll, decompressAll, referenceCompress, referenceInflate } from "./verify.ts";

// Concurrent streams ("connections") in the zlib-async-x8 rows.
const LANES = 8;

export type Row = {
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
export const PLAN = quick
  ? { perRound: new Map([[100, 1000], [4096, 150], [65536, 12], [1048576, 2]]), passes: 1, warmup: 1, minRounds: 3, maxRounds: 6, minMs: 100 }
  : { perRound: new Map([[100, 1000], [4096, 200], [65536, 16], [1048576, 2]]), passes: 3, warmup: 1, minRounds: 2, maxRounds: 5, minMs: 60 };
// Distinct messages per size, cycled; large enough that a message never repeats within a 32 KiB
// window, also for the 8 interleaved streams of zlib-async-x8.
export const POOL = new Map([[100, 1000], [4096, 128], [65536, 8], [1048576, 3]]);

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

export async function throughput(): Promise<Row[]> {
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
