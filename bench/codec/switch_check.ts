// Codec bench: switching codec mid-stream ("switch" section).
import { type Bytes, concat, log, median } from "./env.ts";
import { makeMessages } from "./data.ts";
import { CFG_15_8, type Compressor, type Decompressor, PakoCompressor, PakoDecompressor, ZlibAsyncCompressor, ZlibAsyncDecompressor } from "./codecs.ts";
import { checkSame, referenceCompress, referenceInflate } from "./verify.ts";

// Can one connection move between pako (sync) and node:zlib (async) at a message boundary and
// keep context takeover? The new stream is primed with the last 2^windowBits bytes of the
// uncompressed history as a preset dictionary (deflateSetDictionary / inflateSetDictionary on
// a raw stream). Sender side: pako, zlib-async, pako, and the peer's single node:zlib inflater
// must decode it all; receiver side: a single node:zlib stream decoded by pako, then
// zlib-async, then pako. Also reports the cost of creating a primed stream.
export type SwitchRow = { check: string; result: string; compressedBytes?: number; singleStreamBytes?: number; primeUs?: Record<string, number> };

export async function switchCheck(): Promise<SwitchRow[]> {
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
