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

/**
 * Writes a frame header (2 to 14 bytes).
 *
 * @param header The header fields; `length` must be a safe integer.
 * @returns A new array holding only the header.
 * @example
 * ```ts
 * encodeFrameHeader({ fin: true, rsv: 0, opcode: Opcode.Text, mask: undefined, length: 5 });
 * // Uint8Array [0x81, 0x05]
 * ```
 */
export function encodeFrameHeader(header: FrameHeader): Uint8Array {
  const { length, mask } = header;
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`invalid frame length ${length}`);
  }
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const size = 2 + lengthBytes + (mask ? 4 : 0);
  const out = new Uint8Array(size);
  out[0] = (header.fin ? 0x80 : 0) | (header.rsv & 0x70) | (header.opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  if (lengthBytes === 0) {
    out[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    out[1] = maskBit | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    out[2] = high >>> 24; out[3] = (high >>> 16) & 0xff;
    out[4] = (high >>> 8) & 0xff; out[5] = high & 0xff;
    out[6] = low >>> 24; out[7] = (low >>> 16) & 0xff;
    out[8] = (low >>> 8) & 0xff; out[9] = low & 0xff;
  }
  if (mask) out.set(mask, size - 4);
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
 * Masked frames never touch the caller's bytes: small payloads are masked
 * into the header's allocation and returned as one chunk, larger ones into a
 * fresh copy.
 *
 * @param opcode The frame opcode.
 * @param payload The payload bytes.
 * @param options FIN, RSV and mask.
 * @returns The chunks to write, in order.
 * @example
 * ```ts
 * const [header, body] = encodeFrame(Opcode.Text, new TextEncoder().encode("Hello"));
 * // header = [0x81, 0x05], body = "Hello"
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array[] {
  const mask = options.mask;
  const header = encodeFrameHeader({
    fin: options.fin ?? true,
    rsv: options.rsv ?? 0,
    opcode,
    mask,
    length: payload.length,
  });
  if (!mask) return payload.length === 0 ? [header] : [header, payload];
  if (payload.length <= SMALL_MASKED_PAYLOAD) {
    const frame = new Uint8Array(header.length + payload.length);
    frame.set(header, 0);
    frame.set(payload, header.length);
    applyMask(frame, mask, header.length);
    return [frame];
  }
  const masked = payload.slice();
  applyMask(masked, mask);
  return [header, masked];
}

/** Masked payloads up to this size share the header's allocation: one chunk is cheaper to write than two. */
const SMALL_MASKED_PAYLOAD = 1024;

const encoder = new TextEncoder();
const MAX_HEADER = 14;
/** Strings up to this length get room for 3 bytes per UTF-16 unit, so non-ASCII text is encoded in one pass too. */
const SMALL_TEXT = 2048;

/**
 * Encodes a text frame with the UTF-8 written straight after its header in
 * one allocation: no intermediate `TextEncoder.encode` copy (which is slow
 * on Node 20 for large strings), and a masked frame is masked in place.
 * Large non-ASCII strings fall back to {@link encodeFrame}.
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
  const capacity = text.length <= SMALL_TEXT ? text.length * 3 : text.length;
  const frame = new Uint8Array(MAX_HEADER + capacity);
  const { read, written } = encoder.encodeInto(text, frame.subarray(MAX_HEADER));
  if (read !== text.length) return encodeFrame(opcode, encoder.encode(text), options);
  const mask = options.mask;
  const header = encodeFrameHeader({ fin: options.fin ?? true, rsv: options.rsv ?? 0, opcode, mask, length: written });
  const start = MAX_HEADER - header.length;
  frame.set(header, start);
  if (mask) applyMask(frame, mask, MAX_HEADER, MAX_HEADER + written);
  return [frame.subarray(start, MAX_HEADER + written)];
}
