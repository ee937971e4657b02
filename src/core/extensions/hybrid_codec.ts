/**
 * A {@link DeflateCodec} made of two: one for small messages (pako: no
 * thread hop, cheap per message) and one for large ones (native zlib: two
 * to three times faster from 64 KiB, bench/codec.md). A connection's
 * compressor moves between them at message boundaries and keeps its
 * context: the new compressor starts from the last window of history, so
 * it may refer back into what the peer's decompressor already holds.
 *
 * Only compression switches. Decompression stays with the small codec:
 * the peer's stream may refer back into anything it sent, so a new
 * decompressor would need the exact window, which not every `node:zlib`
 * honours (Deno ignores `dictionary` on raw streams), and inflating is the
 * cheap direction (pako 80–240 MB/s).
 *
 * @module
 */

import type { Compressor, CompressorSettings, DeflateCodec } from "./deflate_codec.ts";
import type { MaybePromise } from "./extension.ts";

/** Options of {@link hybridCodec}. */
export interface HybridCodecOptions {
  /** Messages of this many bytes and more go to the large codec. Default 16 KiB (bench/codec.md, Node). */
  threshold?: number;
  /** After this many smaller messages in a row a compressor moves back to the small codec. Default 16. */
  hysteresis?: number;
}

/** Default of {@link HybridCodecOptions.threshold}. */
export const DEFAULT_HYBRID_THRESHOLD: number = 16 * 1024;
/** Default of {@link HybridCodecOptions.hysteresis}. */
export const DEFAULT_HYBRID_HYSTERESIS: number = 16;

/**
 * Combines a codec for small messages with one for large ones.
 *
 * @param small Compresses messages below the threshold and decompresses everything (e.g. `pakoCodec`).
 * @param large Compresses messages from the threshold up; it should honour the
 *   `dictionary` of {@link DeflateCodec.compressor} (e.g. `zlibCodec()` on Node or Bun).
 * @param options Threshold and hysteresis.
 * @returns The combined codec, named `small+large`.
 * @example
 * ```ts
 * import { pakoCodec, perMessageDeflate } from "wsport";
 * import { zlibCodec } from "wsport/zlib";
 *
 * const extension = perMessageDeflate({ codec: hybridCodec(pakoCodec, zlibCodec()) });
 * ```
 */
export function hybridCodec(small: DeflateCodec, large: DeflateCodec, options: HybridCodecOptions = {}): DeflateCodec {
  const threshold = options.threshold ?? DEFAULT_HYBRID_THRESHOLD;
  const hysteresis = options.hysteresis ?? DEFAULT_HYBRID_HYSTERESIS;
  return {
    name: `${small.name}+${large.name}`,
    compressor: (settings, dictionary) => new HybridCompressor(small, large, settings, threshold, hysteresis, dictionary),
    decompressor: (windowBits) => small.decompressor(windowBits),
  };
}

class HybridCompressor implements Compressor {
  readonly #small: DeflateCodec;
  readonly #large: DeflateCodec;
  readonly #settings: CompressorSettings;
  readonly #threshold: number;
  readonly #hysteresis: number;
  #current: Compressor | undefined;
  #usingLarge = false;
  #smallInARow = 0;
  // What the compressor in use may refer back to, where it cannot tell itself (see #remember).
  #history: History | undefined;
  #start: Uint8Array | undefined;

  constructor(small: DeflateCodec, large: DeflateCodec, settings: CompressorSettings, threshold: number, hysteresis: number, dictionary?: Uint8Array) {
    this.#small = small;
    this.#large = large;
    this.#settings = settings;
    this.#threshold = threshold;
    this.#hysteresis = hysteresis;
    this.#start = dictionary;
  }

  compress(data: Uint8Array): MaybePromise<Uint8Array> {
    if (data.length >= this.#threshold) {
      this.#smallInARow = 0;
      if (!this.#usingLarge || this.#current === undefined) this.#switchTo(true);
    } else if (this.#usingLarge && ++this.#smallInARow >= this.#hysteresis) {
      this.#switchTo(false);
    }
    const compressor = this.#current ??= this.#open(this.#usingLarge, this.#takeStart());
    this.#history?.append(data);
    return compressor.compress(data);
  }

  reset(): void {
    this.#start = undefined;
    this.#history?.clear();
    const current = this.#current;
    if (current?.reset) current.reset();
    else {
      current?.close();
      this.#current = undefined;
    }
  }

  history(): Uint8Array {
    if (this.#current === undefined) return this.#start ?? EMPTY;
    return this.#history?.bytes() ?? this.#current.history?.() ?? EMPTY;
  }

  close(): void {
    this.#current?.close();
    this.#current = undefined;
    this.#history = undefined;
  }

  /** Hands the stream over at a message boundary: the next compressor starts from the window so far. */
  #switchTo(large: boolean): void {
    const previous = this.#current;
    const window = previous === undefined ? this.#takeStart() : this.history();
    previous?.close();
    this.#usingLarge = large;
    this.#current = this.#open(large, window);
  }

  #open(large: boolean, dictionary: Uint8Array | undefined): Compressor {
    const compressor = (large ? this.#large : this.#small).compressor(this.#settings, dictionary);
    // A compressor that cannot report its own window gets one kept for it, seeded with its dictionary.
    if (compressor.history === undefined) {
      this.#history ??= new History(1 << this.#settings.windowBits);
      this.#history.clear();
      if (dictionary !== undefined) this.#history.append(dictionary);
    } else {
      this.#history = undefined;
    }
    return compressor;
  }

  #takeStart(): Uint8Array | undefined {
    const start = this.#start;
    this.#start = undefined;
    return start;
  }
}

/** The last `size` bytes appended, in a ring: one copy per message, none to read until asked. */
class History {
  readonly #ring: Uint8Array;
  #end = 0; // next write position
  #length = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  append(data: Uint8Array): void {
    const ring = this.#ring, size = ring.length;
    const tail = data.length > size ? data.subarray(data.length - size) : data;
    const first = Math.min(tail.length, size - this.#end);
    ring.set(tail.subarray(0, first), this.#end);
    ring.set(tail.subarray(first), 0);
    this.#end = (this.#end + tail.length) % size;
    this.#length = Math.min(size, this.#length + tail.length);
  }

  bytes(): Uint8Array {
    const ring = this.#ring, start = (this.#end - this.#length + ring.length) % ring.length;
    const out = new Uint8Array(this.#length);
    const first = Math.min(this.#length, ring.length - start);
    out.set(ring.subarray(start, start + first), 0);
    out.set(ring.subarray(0, this.#length - first), first);
    return out;
  }

  clear(): void {
    this.#end = 0;
    this.#length = 0;
  }
}

const EMPTY = new Uint8Array(0);
