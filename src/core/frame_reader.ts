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
  /** Masking key, or null when the frame is unmasked. */
  mask: Uint8Array | null;
  length: number;
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
  if (queue.length < 2) return false;
  const b0 = queue.peek(0);
  const b1 = queue.peek(1);
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
  if (queue.length < size) return false;

  const head = queue.take(size);
  let length = len7;
  let at = 2;
  if (len7 === 126) {
    length = (head[2]! << 8) | head[3]!;
    at = 4;
  } else if (len7 === 127) {
    const high = ((head[2]! << 24) | (head[3]! << 16) | (head[4]! << 8) | head[5]!) >>> 0;
    const low = ((head[6]! << 24) | (head[7]! << 16) | (head[8]! << 8) | head[9]!) >>> 0;
    // RFC 6455 5.2: "the most significant bit MUST be 0".
    if (high >= 0x80000000) {
      return new InvalidFrameError("64-bit payload length has its top bit set", "WS_ERR_INVALID_LENGTH");
    }
    if (high > 0x1fffff) return new MessageTooBigError(Number.MAX_SAFE_INTEGER, maxFrameSize);
    length = high * 0x100000000 + low;
    at = 10;
  }
  if (length > maxFrameSize) return new MessageTooBigError(length, maxFrameSize, `frame of ${length} bytes exceeds the limit of ${maxFrameSize}`);
  out.fin = fin;
  out.rsv = rsv;
  out.opcode = opcode;
  out.length = length;
  // Copy the key: `head` may be a view of the caller's chunk.
  out.mask = masked ? head.slice(at, at + 4) : null;
  return true;
}
