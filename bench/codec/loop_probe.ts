// Codec bench: does async node:zlib leave the main thread? ("loop" section)
import zlib from "node:zlib";
import { setImmediate } from "node:timers";
import { TAIL, log, median, sizeLabel, sleep } from "./env.ts";
import { makeMessages } from "./data.ts";
import { CFG_15_8 } from "./codecs.ts";
import { referenceCompress } from "./verify.ts";

// For one message: how long write()+flush() take before returning (work done synchronously on
// the main thread), the time until the flush callback, and how many setImmediate turns the
// event loop made in between (0 means nothing else could run while the message was processed).
export type LoopRow = { direction: string; size: number; syncMs: number; totalMs: number; loopTurns: number };

export async function eventLoopProbe(): Promise<LoopRow[]> {
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
