// Codec bench: memory per compressor+decompressor pair ("mem" section), measured in child
// processes that run bench/codec_bench.ts --mem-child.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Bytes, codecFilter, fullGc, g, log, quick, runtime, sameBytes, sleep } from "./env.ts";
import { makeMessages } from "./data.ts";
import { CFG_12_5, CFG_15_8, CFG_9_1, CFG_FFLATE, CFG_FFLATE_MEM4, CODECS, type Compressor, type Config, type Decompressor } from "./codecs.ts";

export type MemRow = { codec: string; config: string; pairs: number; messagesPerPair: number; gc: boolean; rssPerPair: number; heapPerPair: number; externalPerPair: number; arrayBuffersPerPair: number; error?: string };

export const MEM_CASES: { codec: string; cfg: Config }[] = [
  ...[CFG_15_8, CFG_12_5, CFG_9_1].map((cfg) => ({ codec: "zlib-async", cfg })),
  ...[CFG_15_8, CFG_12_5, CFG_9_1].map((cfg) => ({ codec: "pako", cfg })),
  ...[CFG_FFLATE, CFG_FFLATE_MEM4].map((cfg) => ({ codec: "fflate", cfg })),
];

// Runs in a child process (a fresh heap and RSS per case, with gc exposed). Two samples, one
// after the other, each the growth since the previous measurement: `pairs` pairs that each
// compressed and decompressed one 4 KiB message, then `pairs16` more pairs that each went
// through 16 x 4 KiB (64 KiB, so windows and hash tables have been written all over: closer to
// a long-lived connection). Everything stays referenced until both are measured.
export async function memoryChild(codecName: string, cfgName: string, pairs: number, pairs16: number) {
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
export async function memory(): Promise<MemRow[]> {
  // The child runs the entry point, bench/codec_bench.ts, whose main() handles --mem-child.
  const script = fileURLToPath(new URL("../codec_bench.ts", import.meta.url));
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
