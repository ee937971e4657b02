// hybridCodec (src/core/extensions/hybrid_codec.ts): pako compresses small
// messages, node:zlib large ones, and a connection's compressor moves between
// them at message boundaries without losing its context. Checked against
// decompressors that keep one stream across all messages (pako and node:zlib),
// as a peer's does with context takeover.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import process from "node:process";
import type { Compressor, CompressorSettings, DeflateCodec, Decompressor } from "../src/core/extensions/deflate_codec.ts";
import { SYNC_FLUSH_TAIL } from "../src/core/extensions/deflate_codec.ts";
import { DEFAULT_HYBRID_HYSTERESIS, DEFAULT_HYBRID_INFLATE_THRESHOLD, DEFAULT_HYBRID_THRESHOLD, hybridCodec } from "../src/core/extensions/hybrid_codec.ts";
import { pakoCodec } from "../src/core/extensions/pako_codec.ts";
import { concat, equals } from "../src/core/bytes.ts";
import { zlibCodec } from "../adapters/zlib.ts";
import { skipIf } from "./skips.ts";

const SETTINGS: CompressorSettings = { level: 6, memLevel: 8, windowBits: 15 };
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** JSON-like text, different for every seed, compressible like real traffic. */
function message(size: number, seed: number): Uint8Array {
  let s = "";
  for (let i = 0; s.length < size; i++) s += `{"id":${seed * 7919 + i},"user":"u${(seed + i) % 97}","ok":${i % 3 === 0}},`;
  return new TextEncoder().encode(s.slice(0, size));
}

/** Wraps a codec to count the compressors it makes and the calls each one gets. */
function counting(codec: DeflateCodec): DeflateCodec & { made: number; calls: number; dictionaries: number[]; inflaters: number; inflaterDictionaries: number[] } {
  const counted = {
    name: codec.name,
    made: 0,
    calls: 0,
    dictionaries: [] as number[],
    compressor(settings: CompressorSettings, dictionary?: Uint8Array): Compressor {
      counted.made++;
      counted.dictionaries.push(dictionary?.length ?? 0);
      const inner = codec.compressor(settings, dictionary);
      const wrapped: Compressor = {
        compress: (data) => {
          counted.calls++;
          return inner.compress(data);
        },
        close: () => inner.close(),
      };
      if (inner.reset) wrapped.reset = () => inner.reset!();
      if (inner.history) wrapped.history = () => inner.history!();
      return wrapped;
    },
    inflaters: 0,
    inflaterDictionaries: [] as number[],
    decompressor(windowBits: number, dictionary?: Uint8Array): Decompressor {
      counted.inflaters++;
      counted.inflaterDictionaries.push(dictionary?.length ?? 0);
      return codec.decompressor(windowBits, dictionary);
    },
  };
  return counted;
}

/** Compresses each message (awaiting async codecs) and decodes the stream with one persistent decompressor. */
async function roundTrip(compressor: Compressor, decompressor: Decompressor, messages: Uint8Array[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const m of messages) {
    const compressed = await compressor.compress(m);
    // zlib writes nothing for an empty message right after a flush (permessage-deflate then sends one empty block).
    if (m.length > 0) assert.deepEqual([...compressed.subarray(-4)], [...SYNC_FLUSH_TAIL], "each message ends on a sync flush");
    out.push(await decompressor.decompress(compressed, 1 << 24));
  }
  return out;
}


test("hybridCodec: small messages go to pako, large ones to node:zlib; one persistent inflater (pako and node:zlib) reads the whole stream", async () => {
  const small = counting(pakoCodec), large = counting(zlibCodec());
  const codec = hybridCodec(small, large);
  assert.equal(codec.name, "pako+node:zlib");
  const T = DEFAULT_HYBRID_THRESHOLD;
  const sizes = [100, 4096, T, 64 * 1024, 300, ...Array(DEFAULT_HYBRID_HYSTERESIS + 2).fill(2000), 70_000, 10, 1 << 20, 5];
  const messages = sizes.map((n, i) => message(n, i % 5)); // repeats within the window: back-references across switches
  for (const inflater of [pakoCodec, zlibCodec()]) {
    const compressor = codec.compressor(SETTINGS);
    const decoded = await roundTrip(compressor, inflater.decompressor(15), messages);
    compressor.close();
    decoded.forEach((d, i) => assert.ok(equals(d, messages[i]!), `message ${i} (${sizes[i]} B) through ${inflater.name}`));
  }
  // Per pass: pako -> zlib at the 16 KiB message, back to pako after the run of small ones, zlib for 70,000 B.
  assert.equal(large.made, 2 * 2);
  assert.equal(small.made, 2 * 2);
  assert.ok(large.dictionaries.every((n) => n > 0), "each switch primes the new compressor with the history");
});

test("hybridCodec: the compressor taking over starts from the window, so repeats of earlier messages stay small", { skip: skipIf(isDeno && "Deno's node:zlib ignores `dictionary` on raw streams (bench/codec.md); the pako direction is checked below") }, async () => {
  const codec = hybridCodec(pakoCodec, zlibCodec());
  const a = message(12_000, 1);
  const big = concat([a, a]); // 24 KB: goes to zlib, all of it already in the peer's window
  const compressor = codec.compressor(SETTINGS);
  await compressor.compress(a); // pako
  const primed = await compressor.compress(big);
  compressor.close();
  const fresh = zlibCodec().compressor(SETTINGS);
  const unprimed = await fresh.compress(big);
  fresh.close();
  assert.ok(primed.length * 3 < unprimed.length, `primed ${primed.length} B against ${unprimed.length} B without history`);
});

test("hybridCodec: moving back to pako keeps the context too (pako honours the dictionary on every runtime)", async () => {
  const codec = hybridCodec(pakoCodec, zlibCodec(), { hysteresis: 1 });
  const big = message(40_000, 2);
  const compressor = codec.compressor(SETTINGS);
  const inflater = pakoCodec.decompressor(15);
  assert.ok(equals(await inflater.decompress(await compressor.compress(big), 1 << 20), big));
  const repeat = big.subarray(30_000, 34_000); // 4 KB already in the window: back to pako, primed
  const compressed = await compressor.compress(repeat);
  assert.ok(compressed.length < 100, `a repeat of the window compresses to ${compressed.length} B`);
  assert.ok(equals(await inflater.decompress(compressed, 1 << 20), repeat));
  compressor.close();
});

test("hybridCodec: reset() (no context takeover) makes every message readable by a fresh inflater", async () => {
  const codec = hybridCodec(pakoCodec, zlibCodec(), { hysteresis: 2 });
  const compressor = codec.compressor(SETTINGS);
  for (const [i, size] of [500, 20_000, 100, 100, 100, 50_000, 3000].entries()) {
    const m = message(size, 3);
    const compressed = await compressor.compress(m);
    compressor.reset!();
    const fresh = pakoCodec.decompressor(15);
    assert.ok(equals(fresh.decompress(concat([compressed]), 1 << 20) as Uint8Array, m), `message ${i} alone`);
    fresh.close();
  }
  compressor.close();
});

test("hybridCodec: any sequence of sizes round-trips through one persistent inflater, for every window (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 8, max: 15 }),
      fc.integer({ min: 1, max: 3 }),
      async (sizes, windowBits, hysteresis) => {
        const codec = hybridCodec(pakoCodec, zlibCodec(), { threshold: 8 * 1024, hysteresis });
        const compressor = codec.compressor({ level: 6, memLevel: 8, windowBits });
        const messages = sizes.map((n, i) => message(n, i % 3));
        const decoded = await roundTrip(compressor, pakoCodec.decompressor(windowBits), messages);
        compressor.close();
        decoded.forEach((d, i) => assert.ok(equals(d, messages[i]!), `message ${i} of ${sizes.join(",")} (window ${windowBits})`));
      },
    ),
    { numRuns: 25 },
  );
});

/** One persistent compressor (context takeover) over all messages: what a peer sends. */
async function peerStream(codec: DeflateCodec, messages: Uint8Array[], windowBits = 15): Promise<Uint8Array[]> {
  const compressor = codec.compressor({ level: 6, memLevel: 8, windowBits });
  const out: Uint8Array[] = [];
  for (const m of messages) out.push(await compressor.compress(m));
  compressor.close();
  return out;
}

test("hybridCodec: inflating moves between pako and node:zlib at message boundaries with the exact window, so a peer's back-references still resolve", { skip: skipIf(isDeno && "Deno's node:zlib ignores `dictionary` on raw streams, so its default is plain node:zlib; the no-context-takeover switch is checked below") }, async () => {
  const small = counting(pakoCodec), large = counting(zlibCodec());
  const codec = hybridCodec(small, large, { hysteresis: 2 });
  const base = message(45_000, 4);
  // Large ones (compressed >= 4 KiB) switch to zlib; two small in a row switch back; each repeats earlier text.
  const messages = [message(2000, 1), base, base.subarray(100, 3000), base.subarray(5000, 9000), message(120_000, 5), base.subarray(0, 50), message(300, 6), message(200, 6)];
  const wire = await peerStream(zlibCodec(), messages);
  assert.ok(wire[1]!.length >= DEFAULT_HYBRID_INFLATE_THRESHOLD && wire[4]!.length >= DEFAULT_HYBRID_INFLATE_THRESHOLD, "the large messages compress to 4 KiB and more");
  const inflater = codec.decompressor(15);
  for (const [i, compressed] of wire.entries()) {
    const out = await inflater.decompress(compressed, 1 << 24, true);
    assert.ok(equals(out, messages[i]!), `message ${i} (${messages[i]!.length} B, ${compressed.length} B compressed)`);
  }
  inflater.close();
  assert.equal(large.inflaters, 2, "two stretches on node:zlib");
  assert.equal(small.inflaters, 3, "pako at the start and after each stretch");
  assert.ok(large.inflaterDictionaries.every((n) => n > 0) && small.inflaterDictionaries.slice(1).every((n) => n > 0), "every switch hands the window over");
});

test("hybridCodec: with no context takeover (reset after each message) inflating switches freely, on every runtime", async () => {
  const codec = hybridCodec(pakoCodec, zlibCodec(), { hysteresis: 1 });
  const messages = [message(100, 1), message(90_000, 2), message(3000, 3), message(200_000, 4), message(10, 5)];
  const inflater = codec.decompressor(15);
  for (const [i, m] of messages.entries()) {
    const [compressed] = await peerStream(zlibCodec(), [m]);
    assert.ok(equals(await inflater.decompress(compressed!, 1 << 24, true), m), `message ${i}`);
    inflater.reset!();
  }
  inflater.close();
});

test("hybridCodec: inflating stays on one decompressor inside a fragmented message", { skip: skipIf(isDeno && "Deno's node:zlib ignores `dictionary` on raw streams (see above)") }, async () => {
  const large = counting(zlibCodec());
  const codec = hybridCodec(pakoCodec, large);
  const m = message(200_000, 7);
  const [compressed] = await peerStream(zlibCodec(), [m]);
  // Fragments: a small first one, then large ones; the choice is made at the message's first fragment.
  const cuts = [0, 100, 30_000, compressed!.length];
  const inflater = codec.decompressor(15);
  const parts: Uint8Array[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) parts.push(await inflater.decompress(compressed!.subarray(cuts[i]!, cuts[i + 1]!), 1 << 24, i + 2 === cuts.length));
  assert.ok(equals(concat(parts), m));
  assert.equal(large.inflaters, 0, "no switch in the middle of a message");
  inflater.close();
});

test("hybridCodec: with a small codec that cannot report its window (history() absent) the hybrid keeps the window itself", { skip: skipIf(isDeno && "Deno's node:zlib ignores `dictionary` on raw streams (see above)") }, async () => {
  // What pako's codec does if its internal state ever loses zlib's field names.
  const blind: DeflateCodec = {
    name: "pako-blind",
    compressor: (settings, dictionary) => {
      const inner = pakoCodec.compressor(settings, dictionary);
      return { compress: (d) => inner.compress(d), reset: () => inner.reset!(), close: () => inner.close() };
    },
    decompressor: (bits, dictionary) => {
      const inner = pakoCodec.decompressor(bits, dictionary);
      return { decompress: (d, max, end) => inner.decompress(d, max, end), reset: () => inner.reset!(), close: () => inner.close() };
    },
  };
  const codec = hybridCodec(blind, zlibCodec(), { hysteresis: 1 });
  const base = message(45_000, 8);
  const messages = [message(3000, 1), base, base.subarray(200, 2200), base.subarray(10_000), base.subarray(0, 900)];
  const inflater = codec.decompressor(15);
  const compressor = codec.compressor(SETTINGS);
  const reader = zlibCodec().decompressor(15);
  for (const [i, compressed] of (await peerStream(zlibCodec(), messages)).entries()) {
    assert.ok(equals(await inflater.decompress(compressed, 1 << 24, true), messages[i]!), `inflated message ${i}`);
  }
  for (const [i, m] of messages.entries()) assert.ok(equals(await reader.decompress(await compressor.compress(m), 1 << 24), m), `compressed message ${i}`);
  inflater.close();
  compressor.close();
});

test("pakoCodec: a decompressor's history() is the last window of its output; a dictionary primes a new one", () => {
  const inflater = pakoCodec.decompressor(12);
  const a = message(3000, 1), b = message(2500, 2);
  const compressor = pakoCodec.compressor({ level: 6, memLevel: 8, windowBits: 12 });
  inflater.decompress(compressor.compress(a) as Uint8Array, 1 << 20);
  assert.ok(equals(inflater.history!(), a));
  inflater.decompress(compressor.compress(b) as Uint8Array, 1 << 20);
  assert.ok(equals(inflater.history!(), concat([a, b]).subarray(-4096)), "the ring, in order, after it wrapped");
  // A fresh decompressor primed with that window reads what the compressor sends next.
  const c = concat([b.subarray(0, 1000), message(500, 3)]);
  const next = pakoCodec.decompressor(12, inflater.history!());
  assert.ok(equals(next.decompress(compressor.compress(c) as Uint8Array, 1 << 20) as Uint8Array, c));
  inflater.reset!();
  assert.equal(inflater.history!().length, 0);
});

test("pakoCodec: history() is the last window of what it compressed; a dictionary primes a new compressor", () => {
  const settings = { level: 6, memLevel: 8, windowBits: 12 };
  const compressor = pakoCodec.compressor(settings);
  const a = message(2500, 1), b = message(3000, 2);
  compressor.compress(a);
  assert.ok(equals(compressor.history!(), a));
  compressor.compress(b);
  assert.ok(equals(compressor.history!(), concat([a, b]).subarray(-4096)));
  compressor.reset!();
  assert.equal(compressor.history!().length, 0);
  compressor.close();
  // A peer whose window holds b (sent stored), then b again from a compressor primed with b.
  const inflater = pakoCodec.decompressor(12);
  assert.equal((inflater.decompress(pakoCodec.compressor({ ...settings, level: 0 }).compress(b) as Uint8Array, 1 << 20) as Uint8Array).length, b.length);
  const again = pakoCodec.compressor(settings, b).compress(b) as Uint8Array;
  const alone = pakoCodec.compressor(settings).compress(b) as Uint8Array;
  assert.ok(again.length * 10 < alone.length, `b again, from the dictionary: ${again.length} B, against ${alone.length} B without`);
  assert.ok(equals(inflater.decompress(again, 1 << 20) as Uint8Array, b));
});

test("hybridCodec: the Node network's default deflate codec is pako+node:zlib", { skip: skipIf(typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" || isDeno ? "the Node network is Node's default only" : false) }, async () => {
  const { nodeNetwork } = await import("../adapters/node.ts");
  assert.equal(nodeNetwork.deflateCodec?.name, "pako+node:zlib");
  assert.ok(process.versions.node);
});
