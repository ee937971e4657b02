/**
 * Reads frame headers off a {@link ByteQueue} and enforces the rules a
 * single header can break (RFC 6455 section 5.2–5.5). Rules that need the
 * message in progress (continuation order, message size) are the
 * connection's.
 *
 * @module
 */

import type { ByteQueue } from "./byte_queue.ts";
import { InvalidFrameError, MessageTooBigError, type ProtocolError } from "./errors.ts";
import { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD } from "./frame.ts";

/** Which end of the connection this is. */
export type Side = "server" | "client";

/** A parsed frame header. Fields are overwritten by the next header. */
export interface ReadHeader {
  fin: boolean;
  rsv: number;
  opcode: number;
  /** Masking key ({@link ReadHeader.key}), or null when the frame is unmasked. */
  mask: Uint8Array | null;
  length: number;
  /** Four bytes the masking key is read into: one per reader, not one per frame. */
  readonly key: Uint8Array;
}

/**
 * A header ready for {@link readFrameHeader} to fill.
 *
 * @returns A header with room for a key.
 */
export function emptyHeader(): ReadHeader {
  return { fin: false, rsv: 0, opcode: 0, mask: null, length: 0, key: new Uint8Array(4) };
}

/**
 * Parses one header from the front of `queue` when it is complete.
 *
 * @param queue Received bytes.
 * @param side Which side reads: a server requires masked frames, a client unmasked ones.
 * @param allowedRsv RSV bits owned by negotiated extensions.
 * @param maxFrameSize Largest payload accepted, checked before any payload is buffered.
 * @param out Where to write the header (reused to avoid an allocation per frame).
 * @returns `true` when `out` holds a header, `false` when more bytes are needed, or the error to fail with.
 */
export function readFrameHeader(
  queue: ByteQueue,
  side: Side,
  allowedRsv: number,
  maxFrameSize: number,
  out: ReadHeader,
): boolean | ProtocolError {
  const available = queue.length;
  if (available < 2) return false;
  // The header is read in place from the first chunk when it lies there (nearly always), else from a copy.
  let bytes = queue.front;
  let at = queue.frontOffset;
  const inFront = bytes.length - at >= 2;
  const b0 = inFront ? bytes[at]! : queue.peek(0);
  const b1 = inFront ? bytes[at + 1]! : queue.peek(1);
  const masked = (b1 & 0x80) !== 0;
  const len7 = b1 & 0x7f;
  const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);

  // Decide what can be decided from two bytes before waiting for the rest.
  const opcode = b0 & 0x0f;
  const rsv = b0 & 0x70;
  if ((rsv & ~allowedRsv) !== 0) {
    return new InvalidFrameError("RSV bit set without a negotiated extension", "WS_ERR_UNEXPECTED_RSV");
  }
  if (!isKnownOpcode(opcode)) {
    return new InvalidFrameError(`reserved opcode ${opcode}`, "WS_ERR_INVALID_OPCODE");
  }
  const fin = (b0 & 0x80) !== 0;
  if (isControlOpcode(opcode)) {
    // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
    if (!fin) return new InvalidFrameError("fragmented control frame", "WS_ERR_FRAGMENTED_CONTROL");
    if (len7 > MAX_CONTROL_PAYLOAD) {
      return new InvalidFrameError("control frame payload over 125 bytes", "WS_ERR_CONTROL_TOO_LONG");
    }
  }
  // RFC 6455 5.1: a server MUST close on an unmasked frame; a client MUST close on a masked one.
  if (masked !== (side === "server")) {
    return side === "server"
      ? new InvalidFrameError("client frame is not masked", "WS_ERR_EXPECTED_MASK")
      : new InvalidFrameError("server frame is masked", "WS_ERR_UNEXPECTED_MASK");
  }
  if (available < size) return false;
  if (bytes.length - at < size) {
    bytes = queue.take(size);
    at = 0;
  } else {
    queue.skip(size);
  }
  let length = len7;
  let keyAt = at + 2;
  if (len7 === 126) {
    length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    keyAt = at + 4;
  } else if (len7 === 127) {
    const high = ((bytes[at + 2]! << 24) | (bytes[at + 3]! << 16) | (bytes[at + 4]! << 8) | bytes[at + 5]!) >>> 0;
    const low = ((bytes[at + 6]! << 24) | (bytes[at + 7]! << 16) | (bytes[at + 8]! << 8) | bytes[at + 9]!) >>> 0;
    // RFC 6455 5.2: "the most significant bit MUST be 0".
    if (high >= 0x80000000) {
      return new InvalidFrameError("64-bit payload length has its top bit set", "WS_ERR_INVALID_LENGTH");
    }
    if (high > 0x1fffff) return new MessageTooBigError(Number.MAX_SAFE_INTEGER, maxFrameSize);
    length = high * 0x100000000 + low;
    keyAt = at + 10;
  }
  if (length > maxFrameSize) return new MessageTooBigError(length, maxFrameSize, `frame of ${length} bytes exceeds the limit of ${maxFrameSize}`);
  out.fin = fin;
  out.rsv = rsv;
  out.opcode = opcode;
  out.length = length;
  if (masked) {
    // Copied: `bytes` may be a view of the caller's chunk.
    const key = out.key;
    key[0] = bytes[keyAt]!;
    key[1] = bytes[keyAt + 1]!;
    key[2] = bytes[keyAt + 2]!;
    key[3] = bytes[keyAt + 3]!;
    out.mask = key;
  } else {
    out.mask = null;
  }
  return true;
}
