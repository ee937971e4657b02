/**
 * The chunked transfer coding (RFC 9112 section 7.1): an incremental
 * decoder that hands out chunk data as views of the received bytes, and
 * the encoder's framing. The decoder is strict where parsers disagree and
 * smuggling lives: a chunk size is hex digits and nothing else (no sign, no
 * `0x`, no space before CRLF), its value must fit, every line ends in CRLF,
 * and the size line (extensions included) and the trailers are bounded.
 *
 * @module
 */

import type { ByteQueue } from "../byte_queue.ts";
import { HttpError } from "../errors.ts";
import { HeaderMap } from "./header_map.ts";
import { type HeadLimits, HeadScanner } from "./head.ts";
import { parseTrailers } from "./head_syntax.ts";
import { encodeLatin1, isFieldValueChar, isOws } from "./tokens.ts";

/**
 * Longest chunk-size line accepted, extensions included. Extensions carry
 * nothing wsport uses (RFC 9112 7.1.1: recipients ignore unknown ones), and
 * unbounded ones were a denial of service in other parsers (llhttp's
 * CVE-2024-22019).
 */
export const MAX_CHUNK_LINE = 4096;

/** Hex digits of a chunk size, leading zeros included: 16 say any 64-bit value. */
const MAX_SIZE_DIGITS = 16;

const CR = 0x0d;
const LF = 0x0a;
const SEMICOLON = 0x3b;

const enum State {
  SizeStart, // the first hex digit
  Size, // more hex digits, or what follows them
  BeforeExtension, // whitespace after the size: only ";" may follow
  Extension, // up to the CR
  SizeLF, // the LF of the size line
  Data,
  DataCR,
  DataLF,
  Trailers,
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function bad(message: string): HttpError {
  return new HttpError(400, "WS_ERR_HTTP_CHUNK", message);
}

/** Data read by {@link ChunkedDecoder.read}, in order. */
export type ChunkSink = (data: Uint8Array) => void;

/**
 * Incremental decoder of one chunked body. Call {@link read} whenever bytes
 * arrive: it consumes what it can, passes chunk data (views, never copies)
 * to the sink and reports when the body ended, with its trailers.
 *
 * @example
 * ```ts
 * import { ByteQueue, ChunkedDecoder, HeaderMap } from "wsport/core";
 *
 * const queue = new ByteQueue();
 * queue.push(new TextEncoder().encode("5\r\nhello\r\n0\r\n\r\n"));
 * const parts: Uint8Array[] = [];
 * const decoder = new ChunkedDecoder(1 << 20);
 * const result = decoder.read(queue, (data) => parts.push(data));
 * if (result instanceof HeaderMap) console.log("done, trailers:", [...result]);
 * ```
 */
export class ChunkedDecoder {
  #state = State.SizeStart;
  #size = 0; // the chunk size being read, then the data left in the chunk
  #digits = 0;
  #line = 0; // bytes of the current size line
  #received = 0; // data bytes so far
  #limit: number;
  readonly #trailerLimits: Partial<HeadLimits> | undefined;
  #trailers: HeadScanner<HeaderMap> | undefined;

  /**
   * @param limit - Largest body accepted, in data bytes (413 past it, before the chunk is read).
   * @param trailerLimits - Limits on the trailer section (the head limits).
   */
  constructor(limit: number, trailerLimits?: Partial<HeadLimits>) {
    this.#limit = limit;
    this.#trailerLimits = trailerLimits;
  }

  /** Data bytes decoded so far. */
  get received(): number {
    return this.#received;
  }

  /** Changes the body limit (e.g. once the route is known); checked from the next chunk size on. */
  set limit(limit: number) {
    this.#limit = limit;
  }

  /**
   * Consumes bytes from `input`.
   *
   * @param input - The received bytes; what is consumed is removed.
   * @param sink - Receives chunk data, in order.
   * @returns `undefined` while more bytes are needed, the trailers (an
   *   empty map when none) once the body ended, or the error to answer with.
   */
  read(input: ByteQueue, sink: ChunkSink): HeaderMap | HttpError | undefined {
    while (input.length > 0) {
      if (this.#state === State.Data) {
        const data = input.takeUpTo(this.#size);
        this.#size -= data.length;
        sink(data);
        if (this.#size === 0) this.#state = State.DataCR;
        continue;
      }
      if (this.#state === State.Trailers) return this.#readTrailers(input);
      // The line states, byte by byte over the first chunk, until data or trailers start.
      const bytes = input.peekChunk();
      let i = 0;
      while (i < bytes.length && this.#inLine()) {
        const error = this.#step(bytes[i++]!);
        if (error !== undefined) return error;
      }
      input.skip(i);
    }
    return undefined;
  }

  /** Whether the decoder is in a size line or a data CRLF (read byte by byte). */
  #inLine(): boolean {
    return this.#state !== State.Data && this.#state !== State.Trailers;
  }

  /** Advances the line states by one byte; returns an error to stop. */
  #step(b: number): HttpError | undefined {
    if (this.#state <= State.SizeLF && ++this.#line > MAX_CHUNK_LINE) {
      return bad(`chunk size line longer than ${MAX_CHUNK_LINE} bytes`);
    }
    switch (this.#state) {
      case State.SizeStart: {
        const digit = hexValue(b);
        if (digit < 0) return bad(b === CR || b === LF ? "empty chunk size" : "chunk size does not start with a hex digit");
        this.#size = digit;
        this.#digits = 1;
        this.#state = State.Size;
        return undefined;
      }
      case State.Size: {
        const digit = hexValue(b);
        if (digit >= 0) {
          // Checked before multiplying: past 2^53 the value would be wrong, not just large.
          if (++this.#digits > MAX_SIZE_DIGITS || this.#size > (Number.MAX_SAFE_INTEGER - digit) / 16) return bad("chunk size overflows");
          this.#size = this.#size * 16 + digit;
          return undefined;
        }
        if (b === CR) return this.#endSizeLine();
        if (b === SEMICOLON) this.#state = State.Extension;
        else if (isOws(b)) this.#state = State.BeforeExtension;
        else return bad(b === LF ? "bare LF after chunk size" : "invalid character after chunk size");
        return undefined;
      }
      case State.BeforeExtension:
        if (b === SEMICOLON) this.#state = State.Extension;
        else if (!isOws(b)) return bad("whitespace after chunk size without an extension");
        return undefined;
      case State.Extension:
        if (b === CR) return this.#endSizeLine();
        if (!isFieldValueChar(b)) return bad(b === LF ? "bare LF in chunk extension" : "control character in chunk extension");
        return undefined;
      case State.SizeLF:
        if (b !== LF) return bad("bare CR in chunk size line");
        this.#line = 0;
        if (this.#size === 0) {
          this.#state = State.Trailers;
        } else {
          this.#state = State.Data;
        }
        return undefined;
      case State.DataCR:
        if (b !== CR) return bad("chunk data not followed by CRLF");
        this.#state = State.DataLF;
        return undefined;
      case State.DataLF:
        if (b !== LF) return bad("chunk data not followed by CRLF");
        this.#state = State.SizeStart;
        return undefined;
      default:
        return undefined;
    }
  }

  #endSizeLine(): HttpError | undefined {
    if (this.#received + this.#size > this.#limit) {
      return new HttpError(413, "WS_ERR_HTTP_BODY_TOO_LARGE", `chunked body exceeds the limit of ${this.#limit} bytes`);
    }
    this.#received += this.#size;
    this.#state = State.SizeLF;
    return undefined;
  }

  #readTrailers(input: ByteQueue): HeaderMap | HttpError | undefined {
    const scanner = (this.#trailers ??= new HeadScanner("trailers", this.#trailerLimits, parseTrailers));
    while (input.length > 0) {
      const bytes = input.peekChunk();
      const result = scanner.push(bytes);
      if (result.state === "incomplete") {
        input.skip(bytes.length);
        continue;
      }
      this.#trailers = undefined;
      if (result.state === "error") return new HttpError(result.error.status, result.error.code, result.error.message);
      input.skip(bytes.length - result.rest.length);
      return result.head;
    }
    return undefined;
  }
}

const CRLF = encodeLatin1("\r\n");
const LAST_CHUNK = encodeLatin1("0\r\n\r\n");

/**
 * The framing of one chunk: its size line, the data itself (not copied) and
 * the CRLF after it. An empty chunk would end the body, so none is made.
 *
 * @param data - The chunk's data.
 * @returns The parts to write in order (empty for empty data).
 * @example
 * ```ts
 * encodeChunk(new TextEncoder().encode("hello")); // ["5\r\n", "hello", "\r\n"]
 * ```
 */
export function encodeChunk(data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return [];
  return [encodeLatin1(data.length.toString(16) + "\r\n"), data, CRLF];
}

/**
 * The last chunk and an empty trailer section: what ends a chunked body.
 *
 * @returns `0\r\n\r\n`.
 * @example
 * ```ts
 * lastChunk(); // "0\r\n\r\n"
 * ```
 */
export function lastChunk(): Uint8Array {
  return LAST_CHUNK;
}
