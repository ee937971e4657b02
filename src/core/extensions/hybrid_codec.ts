/**
 * A {@link DeflateCodec} made of two: one for small messages (pako: no
 * thread hop, cheap per message) and one for large ones (native zlib: two
 * to three times faster from 64 KiB, bench/codec.md). A connection's
 * compressor moves between them at message boundaries and keeps its
 * context: the new compressor starts from the last window of history, so
 * it may refer back into what the peer's decompressor already holds.
 *
 * Decompression switches the same way, by the size of the compressed
 * payload (from 4 KiB: a 64 KiB JSON message compresses to about 5 KiB),
 * and only at message boundaries. There the new decompressor must start
 * from the exact window, since the peer may refer back into anything it
 * sent: both pako and Node's and Bun's `node:zlib` honour a dictionary on
 * raw streams, Deno's does not (so Deno's default is plain `node:zlib`).
 *
 * @module
 */

import type { Compressor, CompressorSettings, Decompressor, DeflateCodec } from "./deflate_codec.ts";
import type { MaybePromise } from "./extension.ts";
import { after } from "./pipeline.ts";
import { History } from "./ring.ts";

/** Options of {@link hybridCodec}. */
export interface HybridCodecOptions {
  /** Messages of this many bytes and more go to the large codec. Default 16 KiB (bench/codec.md, Node). */
  threshold?: number;
  /** After this many smaller messages in a row a compressor moves back to the small codec. Default 16. */
  hysteresis?: number;
  /** Compressed messages of this many bytes and more are inflated by the large codec. Default 4 KiB. */
  inflateThreshold?: number;
}

/** Default of {@link HybridCodecOptions.threshold}. */
export const DEFAULT_HYBRID_THRESHOLD: number = 16 * 1024;
/** Default of {@link HybridCodecOptions.hysteresis}. */
export const DEFAULT_HYBRID_HYSTERESIS: number = 16;
/** Default of {@link HybridCodecOptions.inflateThreshold}. */
export const DEFAULT_HYBRID_INFLATE_THRESHOLD: number = 4 * 1024;

/**
 * Combines a codec for small messages with one for large ones.
 *
 * @param small Handles messages below the thresholds (e.g. `pakoCodec`).
 * @param large Handles messages from the thresholds up; both codecs must honour
 *   the `dictionary` of {@link DeflateCodec.decompressor} (e.g. `zlibCodec()` on Node or Bun).
 * @param options Thresholds and hysteresis.
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
  const inflateThreshold = options.inflateThreshold ?? DEFAULT_HYBRID_INFLATE_THRESHOLD;
  return {
    name: `${small.name}+${large.name}`,
    compressor: (settings, dictionary) => new HybridCompressor(small, large, settings, threshold, hysteresis, dictionary),
    decompressor: (windowBits, dictionary) => new HybridDecompressor(small, large, windowBits, inflateThreshold, hysteresis, dictionary),
  };
}

/** What a compressor and a decompressor share here: a window they may report, a reset, a close. */
interface Stream {
  reset?(): void;
  history?(): Uint8Array;
  close(): void;
}

/**
 * One direction's stream, run by the small or the large codec: moves to the
 * large one on a message at or over the threshold and back after
 * `hysteresis` smaller ones in a row, handing the window over at each move.
 */
class Switcher<T extends Stream> {
  readonly #open: (large: boolean, dictionary: Uint8Array | undefined) => T;
  readonly #threshold: number;
  readonly #hysteresis: number;
  readonly #windowBits: number;
  #current: T | undefined;
  #usingLarge = false;
  #smallInARow = 0;
  // The window, where the stream in use cannot report it: its bytes, kept as they pass.
  #history: History | undefined;
  #start: Uint8Array | undefined;

  constructor(open: (large: boolean, dictionary: Uint8Array | undefined) => T, threshold: number, hysteresis: number, windowBits: number, dictionary?: Uint8Array) {
    this.#open = open;
    this.#threshold = threshold;
    this.#hysteresis = hysteresis;
    this.#windowBits = windowBits;
    this.#start = dictionary;
  }

  /** The stream for a message of `size` bytes; call at message boundaries only. */
  choose(size: number): void {
    if (size >= this.#threshold) {
      this.#smallInARow = 0;
      if (!this.#usingLarge || this.#current === undefined) this.#switchTo(true);
    } else if (this.#usingLarge && ++this.#smallInARow >= this.#hysteresis) {
      this.#switchTo(false);
    }
  }

  /** The stream in use (opened on first use). */
  get current(): T {
    return this.#current ??= this.#make(this.#usingLarge, this.#takeStart());
  }

  /** Where bytes that enter the window must be appended, when the stream cannot report it. */
  get window(): History | undefined {
    return this.#history;
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

  /** Hands the stream over at a message boundary: the next one starts from the window so far. */
  #switchTo(large: boolean): void {
    const previous = this.#current;
    const window = previous === undefined ? this.#takeStart() : this.history();
    previous?.close();
    this.#usingLarge = large;
    this.#current = this.#make(large, window);
  }

  #make(large: boolean, dictionary: Uint8Array | undefined): T {
    const stream = this.#open(large, dictionary);
    // A stream that cannot report its own window gets one kept for it, seeded with its dictionary.
    if (stream.history === undefined) {
      this.#history ??= new History(1 << this.#windowBits);
      this.#history.clear();
      if (dictionary !== undefined) this.#history.append(dictionary);
    } else {
      this.#history = undefined;
    }
    return stream;
  }

  #takeStart(): Uint8Array | undefined {
    const start = this.#start;
    this.#start = undefined;
    return start;
  }
}

/** Compresses with one codec or the other, chosen per message by its size. */
class HybridCompressor implements Compressor {
  readonly #switcher: Switcher<Compressor>;

  constructor(small: DeflateCodec, large: DeflateCodec, settings: CompressorSettings, threshold: number, hysteresis: number, dictionary?: Uint8Array) {
    const open = (useLarge: boolean, window: Uint8Array | undefined) => (useLarge ? large : small).compressor(settings, window);
    this.#switcher = new Switcher(open, threshold, hysteresis, settings.windowBits, dictionary);
  }

  compress(data: Uint8Array): MaybePromise<Uint8Array> {
    const switcher = this.#switcher;
    switcher.choose(data.length);
    const compressor = switcher.current;
    switcher.window?.append(data);
    return compressor.compress(data);
  }

  reset(): void {
    this.#switcher.reset();
  }

  history(): Uint8Array {
    return this.#switcher.history();
  }

  close(): void {
    this.#switcher.close();
  }
}

/**
 * Inflates with one codec or the other, chosen at each message boundary by
 * the compressed size, the window handed over at each switch.
 */
class HybridDecompressor implements Decompressor {
  readonly #switcher: Switcher<Decompressor>;
  #atBoundary = true;

  constructor(small: DeflateCodec, large: DeflateCodec, windowBits: number, threshold: number, hysteresis: number, dictionary?: Uint8Array) {
    const bits = Math.max(windowBits, 9);
    const open = (useLarge: boolean, window: Uint8Array | undefined) => (useLarge ? large : small).decompressor(bits, window);
    this.#switcher = new Switcher(open, threshold, hysteresis, bits, dictionary);
  }

  decompress(data: Uint8Array, maxOutput: number, messageEnd = false): MaybePromise<Uint8Array> {
    const switcher = this.#switcher;
    if (this.#atBoundary) switcher.choose(data.length);
    this.#atBoundary = messageEnd;
    const decompressor = switcher.current;
    const window = switcher.window;
    const output = decompressor.decompress(data, maxOutput, messageEnd);
    if (window === undefined) return output;
    // Decodes run one at a time, so the window is complete before the next message chooses.
    return after(output, (bytes) => {
      window.append(bytes);
      return bytes;
    });
  }

  reset(): void {
    this.#atBoundary = true;
    this.#switcher.reset();
  }

  history(): Uint8Array {
    return this.#switcher.history();
  }

  close(): void {
    this.#switcher.close();
  }
}

const EMPTY = new Uint8Array(0);
