/**
 * wsport's messages between servers on a broker (Redis channels and
 * streams): a small versioned binary envelope around the message, so that
 * binary and text survive the trip, the receiver knows who published it and
 * in which order, and anything else written on the channel is recognised
 * and dropped.
 *
 * ```
 * offset  size  field
 * 0       2     magic "WS" (0x57 0x53)
 * 2       1     version: 1
 * 3       1     flags: bit 0 binary (else UTF-8 text), bit 1 broadcast (else publish); others 0
 * 4       1     n, length of the origin (1..255)
 * 5       n     origin: the publishing node's id (ASCII)
 * 5+n     8     seq: the node's sequence number, unsigned big-endian (< 2^53)
 * 13+n    1     m, length of the history id (0: none)
 * 14+n    m     history id (ASCII, e.g. a Redis stream id "1718000000000-0")
 * 14+n+m  ...   the message: the bytes, or the text in UTF-8
 * ```
 *
 * The history id comes last in the header so that a Redis script can
 * insert it between the two halves a node sends (`head` and `body`):
 * the node cannot know it before Redis assigns it.
 *
 * @module
 */

import type { Message } from "../handlers.ts";
import { PubSubError, type PubSubKind } from "./engine.ts";

/** The version this code writes, and the only one it reads. */
export const WIRE_VERSION = 1;
const MAGIC_0 = 0x57;
const MAGIC_1 = 0x53;
const FLAG_BINARY = 1;
const FLAG_BROADCAST = 2;

/** A decoded envelope. */
export interface WireMessage {
  kind: PubSubKind;
  /** The publishing node. */
  origin: string;
  /** Its sequence number on that node. */
  seq: number;
  /** The history id, when it has one. */
  id: string | undefined;
  message: Message;
}

/** An envelope before its history id: the header up to the sequence number, and the message. */
export interface WireParts {
  head: Uint8Array;
  body: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a message's envelope in two parts, to be joined around a history id.
 *
 * @param kind Broadcast or publish.
 * @param origin The publishing node's id (ASCII, 1 to 255 characters).
 * @param seq Its sequence number (a safe non-negative integer).
 * @param message Text or bytes.
 * @returns The head and body.
 * @throws RangeError on an origin or sequence number out of range (a programming error).
 * @example
 * ```ts
 * const { head, body } = encodeWire("publish", "n1", 1, "hi");
 * joinWire(head, body); // 57 53 01 00 02 6e 31 00..01 00 68 69
 * ```
 */
export function encodeWire(kind: PubSubKind, origin: string, seq: number, message: Message): WireParts {
  if (origin.length < 1 || origin.length > 255 || !/^[\x21-\x7e]+$/.test(origin)) throw new RangeError("a node id is 1 to 255 printable ASCII characters");
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError("a sequence number is a safe non-negative integer");
  const n = origin.length;
  const head = new Uint8Array(13 + n);
  head[0] = MAGIC_0;
  head[1] = MAGIC_1;
  head[2] = WIRE_VERSION;
  head[3] = (typeof message === "string" ? 0 : FLAG_BINARY) | (kind === "broadcast" ? FLAG_BROADCAST : 0);
  head[4] = n;
  for (let i = 0; i < n; i++) head[5 + i] = origin.charCodeAt(i);
  const view = new DataView(head.buffer);
  view.setUint32(5 + n, Math.floor(seq / 2 ** 32));
  view.setUint32(9 + n, seq >>> 0);
  const body = typeof message === "string" ? encoder.encode(message) : message;
  return { head, body };
}

/**
 * Joins the two parts around a history id (none by default): the envelope as sent.
 *
 * @param head From {@link encodeWire}.
 * @param body From {@link encodeWire}.
 * @param id A history id (ASCII, at most 255 characters), or "".
 * @returns The envelope.
 */
export function joinWire(head: Uint8Array, body: Uint8Array, id = ""): Uint8Array {
  const out = new Uint8Array(head.length + 1 + id.length + body.length);
  out.set(head, 0);
  out[head.length] = id.length;
  for (let i = 0; i < id.length; i++) out[head.length + 1 + i] = id.charCodeAt(i);
  out.set(body, head.length + 1 + id.length);
  return out;
}

/**
 * Decodes an envelope. Never throws: anything that is not a wsport
 * envelope of this version comes back as an error value.
 *
 * @param bytes What was received.
 * @param id The history id when the envelope came from the history (it is stored without one).
 * @returns The message, or a {@link PubSubError} coded `"WS_ERR_PUBSUB_FOREIGN_MESSAGE"` or `"WS_ERR_PUBSUB_VERSION"`.
 */
export function decodeWire(bytes: Uint8Array, id?: string): WireMessage | PubSubError {
  if (bytes.length < 3 || bytes[0] !== MAGIC_0 || bytes[1] !== MAGIC_1) return foreign("it does not start with wsport's magic bytes");
  if (bytes[2] !== WIRE_VERSION) return new PubSubError("WS_ERR_PUBSUB_VERSION", `wsport envelope version ${bytes[2]}; this node reads version ${WIRE_VERSION}`);
  if (bytes.length < 5) return foreign("the header is truncated");
  const flags = bytes[3]!;
  if ((flags & ~(FLAG_BINARY | FLAG_BROADCAST)) !== 0) return foreign("unknown flags");
  const n = bytes[4]!;
  if (n === 0 || bytes.length < 14 + n) return foreign("the header is truncated");
  let origin = "";
  for (let i = 0; i < n; i++) {
    const c = bytes[5 + i]!;
    if (c < 0x21 || c > 0x7e) return foreign("the node id is not printable ASCII");
    origin += String.fromCharCode(c);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const high = view.getUint32(5 + n);
  if (high >= 2 ** 21) return foreign("the sequence number is out of range");
  const seq = high * 2 ** 32 + view.getUint32(9 + n);
  const m = bytes[13 + n]!;
  const start = 14 + n + m;
  if (bytes.length < start) return foreign("the history id is truncated");
  let embedded = "";
  for (let i = 14 + n; i < start; i++) embedded += String.fromCharCode(bytes[i]!);
  const payload = bytes.subarray(start);
  let message: Message;
  if ((flags & FLAG_BINARY) !== 0) message = payload.slice();
  else {
    try {
      message = decoder.decode(payload);
    } catch {
      return foreign("its text is not UTF-8");
    }
  }
  return { kind: (flags & FLAG_BROADCAST) !== 0 ? "broadcast" : "publish", origin, seq, id: id ?? (m > 0 ? embedded : undefined), message };
}

function foreign(why: string): PubSubError {
  return new PubSubError("WS_ERR_PUBSUB_FOREIGN_MESSAGE", `not a wsport message: ${why}`);
}
