/**
 * What permessage-deflate needs from a DEFLATE implementation: a raw
 * compressor that ends each call with a sync flush, and a raw decompressor
 * that stops at a size limit. Codecs may be synchronous (a pure-JS port of
 * zlib) or asynchronous (a native zlib on a thread pool).
 *
 * @module
 */

import type { MaybePromise } from "./extension.ts";

/** How to compress. */
export interface CompressorSettings {
  /** 0 (store) to 9 (smallest). */
  level: number;
  /** 1 to 9: memory for the match finder (zlib's memLevel). */
  memLevel: number;
  /** 8 to 15: the LZ77 window the peer agreed to keep. */
  windowBits: number;
}

/** A raw DEFLATE compressor whose state carries over between calls (context takeover). */
export interface Compressor {
  /**
   * Compresses `data` and sync-flushes, so the output ends on a byte
   * boundary with the empty stored block `00 00 ff ff`.
   */
  compress(data: Uint8Array): MaybePromise<Uint8Array>;
  /** Forgets the history (no context takeover); cheaper than a new compressor where the codec allows. */
  reset?(): void;
  /**
   * The uncompressed bytes the next call may refer back to (at most the
   * window), when the codec can tell: another compressor primed with them
   * continues this one's stream at a message boundary (see `hybridCodec`).
   */
  history?(): Uint8Array;
  /** Frees the compressor. */
  close(): void;
}

/** A raw DEFLATE decompressor whose window carries over between calls. */
export interface Decompressor {
  /**
   * Decompresses `data`. Throws (or rejects with) `MessageTooBigError` as
   * soon as the output would pass `maxOutput`, without producing more than
   * a bounded amount past it, and a `ProtocolError` with code 1007 on
   * invalid data. `messageEnd`: `data` ends a message (the sync flush tail
   * appended), so the stream is at a block boundary after it.
   */
  decompress(data: Uint8Array, maxOutput: number, messageEnd?: boolean): MaybePromise<Uint8Array>;
  /** Forgets the window (the peer uses no context takeover). */
  reset?(): void;
  /**
   * The last window of decompressed output, when the codec can tell:
   * another decompressor primed with it continues this one's stream at a
   * message boundary (see `hybridCodec`).
   */
  history?(): Uint8Array;
  /** Frees the decompressor. */
  close(): void;
}

/** Makes compressors and decompressors. */
export interface DeflateCodec {
  /** For diagnostics and benchmarks, e.g. `"pako"`. */
  readonly name: string;
  /**
   * @param settings How to compress.
   * @param dictionary History to start from, so the compressor can take over
   * another one's stream at a message boundary (the peer's window holds these
   * bytes). A codec may ignore it: its output stays valid, only larger.
   */
  compressor(settings: CompressorSettings, dictionary?: Uint8Array): Compressor;
  /**
   * @param windowBits 8 to 15: the window the peer compresses with at most.
   * @param dictionary The window so far, so the decompressor can take over
   * another one's stream at a message boundary. Unlike a compressor, a
   * decompressor that ignores it cannot read back-references into it.
   */
  decompressor(windowBits: number, dictionary?: Uint8Array): Decompressor;
}

/** The empty stored block a sync flush ends with (RFC 7692 7.2.1). */
export const SYNC_FLUSH_TAIL: Uint8Array = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * The window to give zlib (or pako) for a negotiated window.
 *
 * Both refuse a raw-deflate window of 8 bits (zlib since 1.2.9 turns it
 * into 9; pako rejects it). Window 9 is still correct for a peer that keeps
 * only 256 bytes: zlib's compressor never reaches back further than
 * `MAX_DIST = window size - MIN_LOOKAHEAD` = 512 - 262 = 250 bytes
 * (deflate.h), which fits in 256. A test pins this down: with window 9 a
 * block repeated at distance 250 is found and one at distance 251 is not.
 *
 * @param windowBits The negotiated window, 8 to 15.
 * @returns The window bits to initialise the compressor with.
 */
export function compressionWindow(windowBits: number): number {
  return Math.max(windowBits, 9);
}
