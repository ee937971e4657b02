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
//                  plus a sync-flush block written by the wrapper, because fflate 0.8.3's
//                  flush(true) emits a corrupt block (see FflateCompressor in codec/codecs.ts
//                  and the "ff" section).
//
// Correctness is checked before anything is timed: every codec's compressed messages
// must inflate with a node:zlib inflater (the same window bits, context kept) to the
// input, and its own decompressor must give the input back (round trip); every
// decompressor must turn a node:zlib-compressed sequence back into the input.
//
// This file is the entry point: it runs the selected sections, prints the tables and saves the
// JSON; with --mem-child it is also the child process of the memory section. The code lives in
// bench/codec/: env.ts (runtime, options, helpers), data.ts (test data), codecs.ts (the codec
// wrappers and the "ff" check), verify.ts (node:zlib cross-checks), throughput.ts ("tp"),
// loop_probe.ts ("loop"), switch_check.ts ("switch"), memory.ts ("mem"), window8.ts ("w8"),
// tables.ts (Markdown output).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { argv, flag, log, quick, runtime, runtimeVersion, sections, sizeLabel } from "./codec/env.ts";
import { fflateShippedFlushCheck } from "./codec/codecs.ts";
import { PLAN, POOL, throughput } from "./codec/throughput.ts";
import { eventLoopProbe } from "./codec/loop_probe.ts";
import { switchCheck } from "./codec/switch_check.ts";
import { memory, memoryChild } from "./codec/memory.ts";
import { window8 } from "./codec/window8.ts";
import { printResult } from "./codec/tables.ts";

// ---------------------------------------------------------------- main

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
