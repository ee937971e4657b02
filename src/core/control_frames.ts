/**
 * Control frame payloads (RFC 6455 section 5.5): the close frame's code
 * and reason both ways, and the limits every control frame obeys.
 *
 * @module
 */

import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from "./close_code.ts";
import { InvalidFrameError, InvalidUtf8Error, type ProtocolError } from "./errors.ts";
import { MAX_CONTROL_PAYLOAD } from "./frame.ts";
import type { ReadHeader } from "./frame_reader.ts";
import type { CloseRecord } from "./protocol_options.ts";
import { Utf8Validator } from "./utf8.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Reads a received close frame's payload.
 *
 * @param data The unmasked payload.
 * @param isUtf8 A native whole-buffer UTF-8 check, if the runtime has one.
 * @returns The code (1005 when there is none) and reason, or the error to fail with.
 */
export function parseClosePayload(data: Uint8Array, isUtf8?: (bytes: Uint8Array) => boolean): CloseRecord | ProtocolError {
  if (data.length === 0) return { code: 1005, reason: "" };
  if (data.length === 1) return new InvalidFrameError("close frame payload of 1 byte", "WS_ERR_INVALID_CLOSE");
  const code = (data[0]! << 8) | data[1]!;
  if (!isValidWireCloseCode(code)) return new InvalidFrameError(`invalid close code ${code}`, "WS_ERR_INVALID_CLOSE_CODE");
  const reasonBytes = data.subarray(2);
  const validator = new Utf8Validator(isUtf8);
  if (!validator.push(reasonBytes) || !validator.end()) return new InvalidUtf8Error("invalid UTF-8 in close reason");
  return { code, reason: decoder.decode(reasonBytes) };
}

/**
 * A close frame's payload: empty without a code, else the code in network
 * order and the reason in UTF-8.
 *
 * @param code The close code, or undefined for none.
 * @param reason The reason (ignored without a code).
 * @returns The payload.
 */
export function encodeClosePayload(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) return EMPTY;
  const reasonBytes = encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/** Extensions never transform control frames, so no RSV bit can mean anything there (RFC 7692 6.1). */
export function checkControlHeader(header: ReadHeader): ProtocolError | undefined {
  return header.rsv === 0 ? undefined : new InvalidFrameError("RSV bit set on a control frame", "WS_ERR_UNEXPECTED_RSV");
}

/** A ping or pong payload, checked against the 125-byte limit. */
export function controlPayload(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (bytes.length > MAX_CONTROL_PAYLOAD) throw new RangeError("control frame payload is longer than 125 bytes");
  return bytes;
}

/** Cuts an error message to fit a close reason, on a code point boundary. */
export function truncateReason(message: string): string {
  let reason = message;
  while (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}
