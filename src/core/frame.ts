/**
 * The WebSocket frame (RFC 6455 section 5.2): opcodes, header encoding and
 * the pure frame encoder.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * ```
 *
 * @module
 */

import { applyMask } from "./mask.ts";

/** Frame opcodes (RFC 6455 section 5.2). 3–7 and 0xB–0xF are reserved. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of the defined opcodes. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RSV bit masks as they sit in the first header byte. */
export const Rsv = { Rsv1: 0x40, Rsv2: 0x20, Rsv3: 0x10 } as const;

/** The largest payload a control frame may carry (RFC 6455 section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest length JavaScript can index exactly; longer 64-bit lengths are refused. */
export const MAX_SAFE_FRAME_LENGTH = Number.MAX_SAFE_INTEGER;

/**
 * Whether an opcode is a control opcode (close, ping, pong and the reserved
 * 0xB–0xF): its most significant bit is set.
 *
 * @param opcode A 4-bit opcode.
 * @returns True for control opcodes.
 * @example
 * ```ts
 * isControlOpcode(Opcode.Ping); // true
 * ```
 */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Whether an opcode is one RFC 6455 defines (0, 1, 2, 8, 9, 10).
 *
 * @param opcode A 4-bit opcode.
 * @returns False for the reserved opcodes 3–7 and 0xB–0xF.
 * @example
 * ```ts
 * isKnownOpcode(3); // false
 * ```
 */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 2 || (opcode >= 8 && opcode <= 10);
}

/** Everything a frame header says, as the encoder takes it and the decoder returns it. */
export interface FrameHeader {
  fin: boolean;
  /** RSV1–RSV3 as the bits 0x40 | 0x20 | 0x10 of the first byte. */
  rsv: number;
  opcode: number;
  /** The masking key, or undefined for an unmasked frame. */
  mask: Uint8Array | undefined;
  length: number;
}

// --- memory for outgoing frames ---

// Outgoing frames are short-lived (written, then dropped), so small ones are
// bump-allocated from a shared pool: no allocation and zero-fill per frame,
// and frames queued one after another are adjacent in memory, so a
// connection's batch of small frames can leave as one chunk without a copy.
// Pool views are never written again once handed out.
const POOL_SIZE = 64 * 1024;
const POOL_MAX_ALLOCATION = POOL_SIZE / 4;
let pool: Uint8Array = new Uint8Array(POOL_SIZE);
let poolUsed = 0;

/** Allocates `size` bytes for an outgoing frame (from the pool when small). */
function allocate(size: number): Uint8Array {
  if (size > POOL_MAX_ALLOCATION) return new Uint8Array(size);
  if (poolUsed + size > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE);
    poolUsed = 0;
  }
  const out = pool.subarray(poolUsed, poolUsed + size);
  poolUsed += size;
  return out;
}

/**
 * Where {@link writePooledTextFrame} and {@link writePooledFrame} wrote
 * their frame: `pool[start..end)`. One object, overwritten by each call:
 * read it at once.
 */
export const pooled = { pool, start: 0, end: 0 };

/** Largest frame the pooled writers produce. */
export const POOLED_FRAME_MAX = POOL_MAX_ALLOCATION;

/** Reserves `size` bytes of the pool for a frame, into {@link pooled}. */
function reservePooled(size: number): number {
  if (poolUsed + size > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE);
    poolUsed = 0;
  }
  pooled.pool = pool;
  pooled.start = poolUsed;
  return poolUsed;
}

/**
 * Writes a server (unmasked) frame with a short text payload straight into
 * the frame pool, by index: no view is made per frame, which is what small
 * messages cost on JavaScriptCore. The result is in {@link pooled}.
 *
 * @param text The payload, at most 125 UTF-16 units (so the header is 2 bytes for ASCII; longer encodings fall back).
 * @param opcode The frame opcode.
 * @param fin Final fragment.
 * @returns False when the text is not all ASCII (nothing was written: use {@link encodeTextFrame}).
 */
export function writePooledTextFrame(text: string, opcode: number, fin: boolean): boolean {
  const length = text.length;
  const at = reservePooled(2 + length);
  const out = pool;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return false;
    out[at + 2 + i] = code;
  }
  out[at] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  out[at + 1] = length;
  poolUsed = at + 2 + length;
  pooled.end = poolUsed;
  return true;
}

/**
 * Writes a server (unmasked) frame with a small payload (at most
 * {@link POOLED_FRAME_MAX} bytes with its header) into the frame pool, by
 * index. The result is in {@link pooled}.
 *
 * @param opcode The frame opcode.
 * @param payload The payload (copied).
 * @param fin Final fragment.
 * @param rsv RSV bits.
 */
export function writePooledFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv: number): void {
  const length = payload.length;
  const headerSize = length < 126 ? 2 : 4;
  const at = reservePooled(headerSize + length);
  const out = pool;
  out[at] = (fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0f);
  if (length < 126) {
    out[at + 1] = length;
  } else {
    out[at + 1] = 126;
    out[at + 2] = length >>> 8;
    out[at + 3] = length & 0xff;
  }
  if (length <= 64) for (let i = 0; i < length; i++) out[at + headerSize + i] = payload[i]!;
  else out.set(payload, at + headerSize);
  poolUsed = at + headerSize + length;
  pooled.end = poolUsed;
}

/** Returns the unused end of the latest allocation to the pool. */
function shrink(chunk: Uint8Array, used: number): Uint8Array {
  if (chunk.buffer === pool.buffer && chunk.byteOffset + chunk.length === poolUsed) poolUsed -= chunk.length - used;
  return chunk.subarray(0, used);
}

/**
 * The size of a frame header.
 *
 * @param length Payload length.
 * @param masked Whether a masking key follows.
 * @returns 2 to 14.
 * @example
 * ```ts
 * frameHeaderSize(126, true); // 8
 * ```
 */
export function frameHeaderSize(length: number, masked: boolean): number {
  return 2 + (length < 126 ? 0 : length < 0x10000 ? 2 : 8) + (masked ? 4 : 0);
}

/** Writes a header at `out[at]`; returns its size. */
function writeHeader(out: Uint8Array, at: number, header: FrameHeader): number {
  const { length, mask } = header;
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`invalid frame length ${length}`);
  }
  out[at] = (header.fin ? 0x80 : 0) | (header.rsv & 0x70) | (header.opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  let size = 2;
  if (length < 126) {
    out[at + 1] = maskBit | length;
  } else if (length < 0x10000) {
    out[at + 1] = maskBit | 126;
    out[at + 2] = length >>> 8;
    out[at + 3] = length & 0xff;
    size = 4;
  } else {
    out[at + 1] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    out[at + 2] = high >>> 24; out[at + 3] = (high >>> 16) & 0xff;
    out[at + 4] = (high >>> 8) & 0xff; out[at + 5] = high & 0xff;
    out[at + 6] = low >>> 24; out[at + 7] = (low >>> 16) & 0xff;
    out[at + 8] = (low >>> 8) & 0xff; out[at + 9] = low & 0xff;
    size = 10;
  }
  if (mask) {
    out[at + size] = mask[0]!; out[at + size + 1] = mask[1]!;
    out[at + size + 2] = mask[2]!; out[at + size + 3] = mask[3]!;
    size += 4;
  }
  return size;
}

/**
 * Writes a frame header (2 to 14 bytes).
 *
 * @param header The header fields; `length` must be a safe integer.
 * @returns An array holding only the header (do not modify it).
 * @example
 * ```ts
 * encodeFrameHeader({ fin: true, rsv: 0, opcode: Opcode.Text, mask: undefined, length: 5 });
 * // Uint8Array [0x81, 0x05]
 * ```
 */
export function encodeFrameHeader(header: FrameHeader): Uint8Array {
  if (!Number.isSafeInteger(header.length) || header.length < 0) {
    throw new RangeError(`invalid frame length ${header.length}`);
  }
  const out = allocate(frameHeaderSize(header.length, header.mask !== undefined));
  writeHeader(out, 0, header);
  return out;
}

/** Options of {@link encodeFrame}. */
export interface EncodeFrameOptions {
  /** Final fragment of the message (default true). */
  fin?: boolean;
  /** RSV bits (0x40/0x20/0x10) an extension asked for (default 0). */
  rsv?: number;
  /** Masking key: required for client frames, absent for server frames. */
  mask?: Uint8Array;
}

/**
 * Encodes one frame as `[header, payload]` so a large payload is written
 * without being copied behind its header. Unmasked frames return the
 * caller's payload itself (zero copy; do not modify it until written).
 * Small payloads are copied behind their header instead (one chunk writes
 * faster than two). Masked frames never touch the caller's bytes.
 *
 * @param opcode The frame opcode.
 * @param payload The payload bytes.
 * @param options FIN, RSV and mask.
 * @returns The chunks to write, in order.
 * @example
 * ```ts
 * const [frame] = encodeFrame(Opcode.Text, new TextEncoder().encode("Hello"));
 * // [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array[] {
  const mask = options.mask;
  const header: FrameHeader = { fin: options.fin ?? true, rsv: options.rsv ?? 0, opcode, mask, length: payload.length };
  const headerSize = frameHeaderSize(payload.length, mask !== undefined);
  const inline = mask ? POOL_MAX_ALLOCATION : SMALL_UNMASKED_PAYLOAD;
  if (payload.length <= inline) {
    const frame = allocate(headerSize + payload.length);
    writeHeader(frame, 0, header);
    frame.set(payload, headerSize);
    if (mask) applyMask(frame, mask, headerSize);
    return [frame];
  }
  const head = encodeFrameHeader(header);
  if (!mask) return [head, payload];
  const masked = payload.slice();
  applyMask(masked, mask);
  return [head, masked];
}

/** Unmasked payloads up to this size are copied behind their header rather than sent as a second chunk. */
const SMALL_UNMASKED_PAYLOAD = 1024;

const encoder = new TextEncoder();
/** Strings up to this length get room for 3 bytes per UTF-16 unit, so non-ASCII text is encoded in one pass too. */
const SMALL_TEXT = 2048;

/**
 * Encodes a text frame with the UTF-8 written straight behind its header:
 * no intermediate `TextEncoder.encode` copy (slow on Node 20 for large
 * strings), and a masked frame is masked in place. Large non-ASCII strings
 * fall back to {@link encodeFrame}.
 *
 * @param text The message, or a fragment of it.
 * @param opcode `Opcode.Text` or `Opcode.Continuation`.
 * @param options FIN, RSV and mask.
 * @returns The chunks to write (one, unless the fallback applies).
 * @example
 * ```ts
 * encodeTextFrame("Hello", Opcode.Text); // [Uint8Array [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]]
 * ```
 */
export function encodeTextFrame(text: string, opcode: number = Opcode.Text, options: EncodeFrameOptions = {}): Uint8Array[] {
  const mask = options.mask;
  const capacity = text.length <= SMALL_TEXT ? text.length * 3 : text.length;
  // Room for the largest header the payload could need; moved down once the size is known.
  const reserve = frameHeaderSize(capacity, mask !== undefined);
  const frame = allocate(reserve + capacity);
  const { read, written } = encoder.encodeInto(text, frame.subarray(reserve));
  if (read !== text.length) {
    shrink(frame, 0);
    return encodeFrame(opcode, encoder.encode(text), options);
  }
  const headerSize = frameHeaderSize(written, mask !== undefined);
  if (headerSize < reserve) frame.copyWithin(headerSize, reserve, reserve + written);
  const header: FrameHeader = { fin: options.fin ?? true, rsv: options.rsv ?? 0, opcode, mask, length: written };
  writeHeader(frame, 0, header);
  if (mask) applyMask(frame, mask, headerSize, headerSize + written);
  return [shrink(frame, headerSize + written)];
}
