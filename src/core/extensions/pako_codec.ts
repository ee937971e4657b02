/**
 * The default {@link DeflateCodec}: pako, a pure-JS port of zlib, used
 * through its low-level stream API so one output buffer size, the inflate
 * size cap and resets are under our control. It is synchronous, so it
 * works in the sans-IO core on every runtime; see bench/codec.md for the
 * measurements behind the choice.
 *
 * @module
 */

import {
  Z_BUF_ERROR,
  Z_DEFAULT_STRATEGY,
  Z_OK,
  Z_STREAM_END,
  Z_SYNC_FLUSH,
  zlibDeflate,
  zlibDeflateEnd,
  zlibDeflateInit2,
  zlibDeflateReset,
  zlibDeflateSetDictionary,
  zlibInflate,
  zlibInflateEnd,
  zlibInflateInit2,
  zlibInflateReset,
  zlibInflateSetDictionary,
  ZStream,
} from "pako";
import { concat } from "../bytes.ts";
import { MessageTooBigError, ProtocolError } from "../errors.ts";
import { type Compressor, type CompressorSettings, compressionWindow, type DeflateCodec, type Decompressor } from "./deflate_codec.ts";
import { ringBytes } from "./ring.ts";

const Z_DEFLATED = 8;
const MIN_CHUNK = 1024;
const MAX_CHUNK = 64 * 1024;

class PakoCompressor implements Compressor {
  readonly #stream = new ZStream();

  constructor(settings: CompressorSettings, dictionary?: Uint8Array) {
    const windowBits = compressionWindow(settings.windowBits);
    // A negative window selects raw deflate (no zlib header), as RFC 7692 requires. `legacyHash`:
    // zlib's own hash, sized by memLevel (8 KiB at memLevel 5) instead of pako's fixed 64 KiB;
    // measured faster too (4 KiB JSON: 194-207 against 231-321 ms per MiB), for ~5% more bytes.
    const status = zlibDeflateInit2(this.#stream, settings.level, Z_DEFLATED, -windowBits, settings.memLevel, Z_DEFAULT_STRATEGY, true);
    if (status !== Z_OK) throw new RangeError(`invalid deflate settings ${JSON.stringify(settings)}`);
    // history() reads zlib's state by its field names; without them a hybrid keeps the window itself.
    if (!hasFields(this.#stream.state, DEFLATE_WINDOW_FIELDS)) (this as { history?: unknown }).history = undefined;
    if (dictionary !== undefined && dictionary.length > 0) zlibDeflateSetDictionary(this.#stream, dictionary);
  }

  compress(data: Uint8Array): Uint8Array {
    const stream = this.#stream;
    stream.input = data;
    stream.next_in = 0;
    stream.avail_in = data.length;
    const chunks: Uint8Array[] = [];
    // Stored blocks cost 5 bytes per 16 KiB at worst, plus the flush marker: one buffer is almost always enough.
    let size = data.length + (data.length >>> 10) + 64;
    do {
      const output = new Uint8Array(size);
      stream.output = output;
      stream.next_out = 0;
      stream.avail_out = size;
      const status = zlibDeflate(stream, Z_SYNC_FLUSH);
      if (status !== Z_OK && status !== Z_BUF_ERROR) throw new Error(`deflate failed (${status})`);
      chunks.push(output.subarray(0, stream.next_out));
      size = MAX_CHUNK;
    } while (stream.avail_out === 0);
    stream.input = EMPTY_INPUT;
    return chunks.length === 1 ? chunks[0]! : concat(chunks);
  }

  reset(): void {
    zlibDeflateReset(this.#stream);
  }

  history(): Uint8Array {
    // zlib's deflate state (pako keeps its field names): after a sync flush nothing is pending
    // and the window's last w_size bytes before strstart are what the next block may refer to.
    const state = this.#stream.state as { window?: Uint8Array; strstart?: number; w_size?: number; lookahead?: number } | null;
    const window = state?.window, end = state?.strstart, size = state?.w_size;
    if (!window || end === undefined || size === undefined || state!.lookahead !== 0) return EMPTY_INPUT;
    return window.slice(Math.max(0, end - size), end);
  }

  close(): void {
    zlibDeflateEnd(this.#stream);
  }
}

class PakoDecompressor implements Decompressor {
  readonly #stream = new ZStream();
  readonly #windowBits: number;

  constructor(windowBits: number, dictionary?: Uint8Array) {
    // An inflater with a 9-bit window reads any stream made with a window of 8.
    this.#windowBits = Math.max(windowBits, 9);
    if (zlibInflateInit2(this.#stream, -this.#windowBits) !== Z_OK) throw new RangeError(`invalid window ${windowBits}`);
    if (!hasFields(this.#stream.state, INFLATE_WINDOW_FIELDS)) (this as { history?: unknown }).history = undefined;
    if (dictionary !== undefined && dictionary.length > 0) zlibInflateSetDictionary(this.#stream, dictionary);
  }

  decompress(data: Uint8Array, maxOutput: number): Uint8Array {
    const stream = this.#stream;
    stream.input = data;
    stream.next_in = 0;
    stream.avail_in = data.length;
    const chunks: Uint8Array[] = [];
    let total = 0;
    const size = Math.min(Math.max(data.length * 4, MIN_CHUNK), MAX_CHUNK);
    for (;;) {
      const output = new Uint8Array(size);
      stream.output = output;
      stream.next_out = 0;
      stream.avail_out = size;
      const status = zlibInflate(stream, Z_SYNC_FLUSH);
      if (status !== Z_OK && status !== Z_BUF_ERROR && status !== Z_STREAM_END) {
        throw new ProtocolError(1007, "WS_ERR_INVALID_COMPRESSED_DATA", `invalid compressed data: ${stream.msg || status}`);
      }
      total += stream.next_out;
      // Checked per output chunk: a bomb costs at most one chunk past the limit.
      if (total > maxOutput) throw new MessageTooBigError(total, maxOutput, `message inflates past the limit of ${maxOutput} bytes`);
      if (stream.next_out > 0) chunks.push(output.subarray(0, stream.next_out));
      if (status === Z_STREAM_END) {
        // A final block (BFINAL) ends the DEFLATE stream; the next message starts a new one.
        zlibInflateReset(stream);
        break;
      }
      if (stream.avail_out !== 0) break; // all input consumed and flushed
    }
    stream.input = EMPTY_INPUT;
    if (chunks.length === 0) return EMPTY_INPUT;
    const out = chunks.length === 1 ? chunks[0]! : concat(chunks);
    // Do not let a small message pin a large output buffer.
    return out.length * 4 < out.buffer.byteLength ? out.slice() : out;
  }

  reset(): void {
    zlibInflateReset(this.#stream);
  }

  history(): Uint8Array {
    // zlib's inflate state (pako keeps its field names): the last `whave` bytes of output,
    // in a ring of `wsize` that the next write starts at `wnext`.
    const state = this.#stream.state as { window?: Uint8Array; wsize?: number; whave?: number; wnext?: number } | null;
    const window = state?.window, have = state?.whave ?? 0;
    if (!window || have === 0 || !state?.wsize) return EMPTY_INPUT;
    return ringBytes(window.subarray(0, state.wsize), state.wnext ?? 0, have);
  }

  close(): void {
    zlibInflateEnd(this.#stream);
  }
}

const EMPTY_INPUT = new Uint8Array(0);

// The fields of zlib's deflate and inflate state that history() reads (pako keeps zlib's names).
const DEFLATE_WINDOW_FIELDS = ["window", "strstart", "w_size", "lookahead"];
const INFLATE_WINDOW_FIELDS = ["window", "wsize", "whave", "wnext"];

function hasFields(state: unknown, fields: readonly string[]): boolean {
  return typeof state === "object" && state !== null && fields.every((field) => field in state);
}

/**
 * pako as a {@link DeflateCodec}: synchronous, portable, window bits 8–15
 * (8 as described in {@link compressionWindow}).
 *
 * @example
 * ```ts
 * import { pakoCodec, perMessageDeflate } from "wsport";
 *
 * const extension = perMessageDeflate({ codec: pakoCodec });
 * ```
 */
export const pakoCodec: DeflateCodec = {
  name: "pako",
  compressor: (settings, dictionary) => new PakoCompressor(settings, dictionary),
  decompressor: (windowBits, dictionary) => new PakoDecompressor(windowBits, dictionary),
};
