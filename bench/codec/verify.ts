// Codec bench: running a codec over a sequence of messages, comparing the result, and the
// node:zlib reference every codec is checked against.
import { type Bytes, sameBytes } from "./env.ts";
import { type Compressor, type Config, type Decompressor, ZlibAsyncCompressor, ZlibAsyncDecompressor, ZlibSyncCompressor, ZlibSyncDecompressor } from "./codecs.ts";

export async function compressAll(c: Compressor, msgs: Bytes[], async: boolean): Promise<Bytes[]> {
  const out: Bytes[] = [];
  for (const m of msgs) out.push(async ? await c.compress(m) : (c.compress(m) as Bytes));
  return out;
}

export async function decompressAll(d: Decompressor, payloads: Bytes[], async: boolean): Promise<Bytes[]> {
  const out: Bytes[] = [];
  for (const p of payloads) out.push(async ? await d.decompress(p) : (d.decompress(p) as Bytes));
  return out;
}

export function checkSame(what: string, got: Bytes[], want: Bytes[]) {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} messages, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (!sameBytes(got[i]!, want[i]!)) throw new Error(`${what}: message ${i} differs (${got[i]!.length} vs ${want[i]!.length} bytes)`);
  }
}

// node:zlib reference: the inflater used to cross-check every compressor and the compressor
// whose output every decompressor is timed on.
export async function referenceInflate(payloads: Bytes[], cfg: Config, contextTakeover: boolean): Promise<Bytes[]> {
  if (!contextTakeover) return payloads.map((p) => new ZlibSyncDecompressor(cfg).decompress(p));
  const d = new ZlibAsyncDecompressor(cfg);
  try {
    return await decompressAll(d, payloads, true);
  } finally {
    d.close();
  }
}

export async function referenceCompress(msgs: Bytes[], cfg: Config, contextTakeover: boolean): Promise<Bytes[]> {
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
