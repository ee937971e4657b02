/**
 * Turns the payloads of received data frames into messages (RFC 6455
 * section 5.4): fragments joined in order, the message size limit charged
 * from each header before its payload is buffered, and text validated as
 * it arrives, so bad UTF-8 fails at its first byte. With `streamMessages`
 * it hands pieces over as they arrive instead of whole messages.
 *
 * The frame loop of {@link WebSocketProtocol} owns headers and control
 * frames; this module owns everything about the data message in progress.
 *
 * @module
 */

import type { ByteQueue } from "./byte_queue.ts";
import { concat } from "./bytes.ts";
import { InvalidFrameError, InvalidUtf8Error, MessageTooBigError, type ProtocolError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { Opcode } from "./frame.ts";
import type { ReadHeader } from "./frame_reader.ts";
import { applyMask, maskInto } from "./mask.ts";
import { Utf8Validator } from "./utf8.ts";

/**
 * A data frame split across reads is read into one buffer of its full
 * length, each piece copied (and unmasked) into place once: at its first
 * piece when the frame is up to this size, else once a quarter of it has
 * arrived, so a peer that announces a large frame and sends little costs
 * at most four times what it sent. Pieces that came before the buffer are
 * moved into it then (at most a quarter of the frame is copied twice).
 */
const PREALLOCATE_LIMIT = 256 * 1024;

/**
 * With `inPlace`, payloads from this size on are unmasked where they lie in
 * the received chunk: the message then keeps the chunk (at most 64 KiB on
 * Node) alive, so small ones, which the pool serves cheaply, are copied.
 */
const IN_PLACE_MIN = 16 * 1024;

/** Whole single-frame text messages up to this size are unmasked into {@link scratch}. */
const SCRATCH_SIZE = 16 * 1024;
// Shared by every connection: it is only used within one synchronous call.
const scratch = new Uint8Array(SCRATCH_SIZE);

const decoder = new TextDecoder();
const EMPTY: Uint8Array = new Uint8Array(0);

/** Single-frame messages up to this size that lie in one received chunk are read in place. */
const SMALL_MESSAGE = 1024;
// Received messages up to MESSAGE_POOL_MAX bytes are cut from a shared pool, as
// Node's Buffer.allocUnsafe does: a fresh ArrayBuffer per small message (its
// allocation, zero-fill and external-memory bookkeeping) cost four times the
// unmasking of a 1 KiB message. A message kept by the application keeps its
// 64 KiB pool alive; its views never overlap another message's.
const MESSAGE_POOL_SIZE = 64 * 1024;
const MESSAGE_POOL_MAX = 4 * 1024;
let messagePool = new Uint8Array(MESSAGE_POOL_SIZE);
let messagePoolUsed = 0;

// Large payloads get a buffer of their own, made without zero-filling where the
// runtime can (useUninitializedAllocation): the unmasking writes every byte anyway.
let allocateOwn: (size: number) => Uint8Array = (size) => new Uint8Array(size);

/**
 * Installs (or, with undefined, removes) an allocator of uninitialised
 * buffers for received payloads larger than 4 KiB, e.g. Node's
 * `Buffer.allocUnsafeSlow`. Every byte of such a buffer is written before
 * the application sees it, so the zero-filling of `new Uint8Array` is pure
 * cost: on Node 20 it was a quarter of the server's time echoing 64 KiB
 * messages. Each buffer must be a plain `Uint8Array` over an `ArrayBuffer`
 * of its own (not a pool), since the application may keep it. Adapters
 * call it; every connection in the process then uses it.
 *
 * @param allocate Returns `size` bytes, not necessarily zeroed.
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
 *
 * useUninitializedAllocation((size) => new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size));
 * ```
 */
export function useUninitializedAllocation(allocate: ((size: number) => Uint8Array) | undefined): void {
  allocateOwn = allocate ?? ((size) => new Uint8Array(size));
}

/** Bytes for a received message's payload, every one of which the caller writes: from the pool when small. */
function allocateMessage(size: number): Uint8Array {
  if (size > MESSAGE_POOL_MAX) return allocateOwn(size);
  if (messagePoolUsed + size > MESSAGE_POOL_SIZE) {
    messagePool = new Uint8Array(MESSAGE_POOL_SIZE);
    messagePoolUsed = 0;
  }
  const out = messagePool.subarray(messagePoolUsed, messagePoolUsed + size);
  messagePoolUsed = (messagePoolUsed + size + 7) & ~7; // each message word-aligned, for word-wise masking
  return out;
}

/**
 * Below this length {@link unmaskAt} unmasks byte by byte, with no view;
 * from it on, a view and the word-wise (or native) masking win: 1 KiB
 * binary frames parsed 4x faster that way (`bench/core_bench.ts`, core parse 1 KiB).
 */
const BYTE_LOOP_LIMIT = 128;
// Views of the scratch buffer's first n bytes, made once per length.
const scratchViews: Uint8Array[] = [];
function scratchView(length: number): Uint8Array {
  return (scratchViews[length] ??= scratch.subarray(0, length));
}

/** Unmasks `length` bytes of `source` from `from` into the start of `output`, by index: no view, no call. */
function unmaskAt(source: Uint8Array, from: number, length: number, key: Uint8Array, output: Uint8Array): void {
  if (length >= BYTE_LOOP_LIMIT) {
    // Longer payloads: a view is cheaper than the byte loop (word-wise or native masking).
    maskInto(source.subarray(from, from + length), key, 0, output, 0);
    return;
  }
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
  let i = 0;
  for (const whole = length & ~3; i < whole; i += 4) {
    output[i] = source[from + i]! ^ k0;
    output[i + 1] = source[from + i + 1]! ^ k1;
    output[i + 2] = source[from + i + 2]! ^ k2;
    output[i + 3] = source[from + i + 3]! ^ k3;
  }
  if (i < length) output[i] = source[from + i]! ^ k0;
  if (++i < length) output[i] = source[from + i]! ^ k1;
  if (++i < length) output[i] = source[from + i]! ^ k2;
}

/**
 * What reading a frame's payload came to: `true` the frame is complete,
 * `false` more input is needed, or the error that fails the connection.
 */
export type ReadProgress = boolean | ProtocolError;

/** Limits and options of a {@link MessageReader}. */
export interface MessageReaderOptions {
  maxMessageSize: number;
  fragmentOverhead: number;
  streaming: boolean;
  isUtf8: ((bytes: Uint8Array) => boolean) | undefined;
  /** Received chunks are the reader's to modify (`ProtocolOptions.unmaskInPlace`). */
  inPlace: boolean;
}

/** The data message being received on one connection. */
export class MessageReader {
  /** Report `"chunk"` events instead of whole messages. */
  streaming: boolean;
  /** Payload bytes of the current frame read so far. */
  payloadRead = 0;

  readonly #maxMessageSize: number;
  readonly #fragmentOverhead: number;
  readonly #utf8: Utf8Validator;
  readonly #inPlace: boolean;
  #opcode = 0; // 0: no message in progress
  #parts: Uint8Array[] = [];
  #cost = 0;
  #decodedSize = 0;
  // The payload of the data frame being read, when it is copied into one buffer as it arrives,
  // and where the frame's pieces start in #parts until then.
  #frameBuffer: Uint8Array | undefined;
  #frameStart = 0;
  // The frame's pieces in #parts are still masked (a large binary frame before its buffer exists).
  #piecesMasked = false;

  constructor(options: MessageReaderOptions) {
    this.#maxMessageSize = options.maxMessageSize;
    this.#fragmentOverhead = options.fragmentOverhead;
    this.streaming = options.streaming;
    this.#utf8 = new Utf8Validator(options.isUtf8);
    this.#inPlace = options.inPlace;
  }

  /** Whether the message in progress is text. */
  get isText(): boolean {
    return this.#opcode === Opcode.Text;
  }

  /** Room left under the message size limit for decoded (extension) data. */
  get decodedRoom(): number {
    return this.#maxMessageSize - this.#decodedSize;
  }

  /**
   * Checks a data frame's header against the message in progress and
   * charges its length to the message. Call before its payload.
   *
   * @param header A data frame's header.
   * @returns The error to fail with, if the frame breaks a rule.
   */
  startFrame(header: ReadHeader): ProtocolError | undefined {
    const opcode = header.opcode;
    if (opcode === Opcode.Continuation) {
      if (this.#opcode === 0) {
        return new InvalidFrameError("continuation frame without a message in progress", "WS_ERR_UNEXPECTED_CONTINUATION");
      }
      this.#cost += this.#fragmentOverhead;
    } else {
      if (this.#opcode !== 0) {
        return new InvalidFrameError("new message before the previous one finished", "WS_ERR_EXPECTED_CONTINUATION");
      }
      this.#opcode = opcode;
      this.#cost = 0;
      this.#decodedSize = 0;
      this.#utf8.reset();
    }
    const cost = this.#cost + header.length;
    if (cost > this.#maxMessageSize) return new MessageTooBigError(cost, this.#maxMessageSize);
    this.#cost = cost;
    this.payloadRead = 0;
    this.#frameBuffer = undefined;
    this.#frameStart = this.#parts.length;
    this.#piecesMasked = false;
    return undefined;
  }

  /**
   * Reads as much of the current frame's payload as `input` holds (no
   * extension in between): into whole messages, or as chunks when streaming.
   *
   * @param input Received bytes.
   * @param header The current frame's header.
   * @param events Where completed messages go.
   * @returns Whether the frame is complete, or the error to fail with.
   */
  read(input: ByteQueue, header: ReadHeader, events: WsEvent[]): ReadProgress {
    if (this.streaming) return this.#stream(input, header, events);
    if (this.payloadRead === 0 && header.fin && header.length <= SMALL_MESSAGE && this.#parts.length === 0) {
      const chunk = input.front;
      const at = input.frontOffset;
      if (chunk.length - at >= header.length) return this.#smallMessage(input, chunk, at, header, events) ?? true;
    }
    while (this.payloadRead < header.length) {
      const view = input.takeUpTo(header.length - this.payloadRead);
      if (view.length === 0) return false;
      const at = this.payloadRead;
      let part: Uint8Array;
      if (at === 0 && view.length === header.length) {
        // The whole payload arrived in one piece.
        if (header.fin && this.#opcode === Opcode.Text && this.#parts.length === 0 && view.length <= SCRATCH_SIZE) {
          return this.#finishSmallText(view, header, events) ?? true;
        }
        if (this.#inPlace && view.length >= IN_PLACE_MIN && header.mask !== null) {
          applyMask(view, header.mask, 0, view.length, 0);
          part = view;
        } else {
          part = unmasked(view, header, 0);
        }
        this.#parts.push(part);
      } else {
        // Split across reads: one buffer for the payload, no join at the end (see PREALLOCATE_LIMIT).
        const buffer = this.#frameBuffer ?? this.#allocateFrame(header, at + view.length);
        if (buffer !== undefined) {
          if (header.mask !== null) maskInto(view, header.mask, at, buffer, at);
          else buffer.set(view, at);
          part = buffer.subarray(at, at + view.length);
        } else if (header.mask !== null && this.#opcode !== Opcode.Text) {
          // Binary needs no look at its bytes before the buffer exists: kept masked, it is
          // unmasked once, straight into the buffer (text is unmasked now, to check its UTF-8).
          part = view;
          this.#parts.push(view);
          this.#piecesMasked = true;
        } else {
          part = unmasked(view, header, at);
          this.#parts.push(part);
        }
      }
      this.payloadRead += part.length;
      if (this.#opcode === Opcode.Text && !this.#utf8.push(part)) return new InvalidUtf8Error();
    }
    return header.fin ? this.#finishMessage(events) ?? true : true;
  }

  /**
   * Takes the rest of the current frame's payload, unmasked, without
   * interpreting it (for the extension stage, which decodes whole frames).
   *
   * @param input Received bytes.
   * @param header The current frame's header.
   * @param pieces Where the pieces go.
   * @returns True once the whole payload is in `pieces`.
   */
  collect(input: ByteQueue, header: ReadHeader, pieces: Uint8Array[]): boolean {
    while (this.payloadRead < header.length) {
      const view = input.takeUpTo(header.length - this.payloadRead);
      if (view.length === 0) return false;
      pieces.push(unmasked(view, header, this.payloadRead));
      this.payloadRead += view.length;
    }
    return true;
  }

  /**
   * A data frame decoded by the extensions joins the message in progress.
   *
   * @param data The decoded payload.
   * @param rsv RSV bits the extensions left set (any is an error).
   * @param fin Whether it ends the message.
   * @param events Where completed messages (or chunks) go.
   * @returns The error to fail with, if any.
   */
  acceptDecoded(data: Uint8Array, rsv: number, fin: boolean, events: WsEvent[]): ProtocolError | undefined {
    if (rsv !== 0) return new InvalidFrameError("RSV bit set that no extension consumed", "WS_ERR_UNEXPECTED_RSV");
    this.#decodedSize += data.length;
    if (this.#decodedSize > this.#maxMessageSize) return new MessageTooBigError(this.#decodedSize, this.#maxMessageSize);
    const text = this.#opcode === Opcode.Text;
    if (this.streaming) return this.#emitChunk(data, 0, fin, text, events);
    if (text && !this.#utf8.push(data)) return new InvalidUtf8Error();
    if (data.length > 0) this.#parts.push(data);
    return fin ? this.#finishMessage(events) : undefined;
  }

  /** Drops the message in progress (the connection failed). */
  clear(): void {
    this.#parts = [];
  }

  /**
   * The buffer for the current frame's payload, once it may be allocated
   * (see {@link PREALLOCATE_LIMIT}): the pieces already read move into it.
   */
  #allocateFrame(header: ReadHeader, received: number): Uint8Array | undefined {
    if (header.length > PREALLOCATE_LIMIT && received * 4 < header.length) return undefined;
    const buffer = allocateMessage(header.length);
    let offset = 0;
    for (let i = this.#frameStart; i < this.#parts.length; i++) {
      const piece = this.#parts[i]!;
      if (this.#piecesMasked) maskInto(piece, header.mask!, offset, buffer, offset);
      else buffer.set(piece, offset);
      offset += piece.length;
    }
    this.#piecesMasked = false;
    this.#parts.length = this.#frameStart;
    this.#parts.push(buffer);
    this.#frameBuffer = buffer;
    return buffer;
  }

  /** Streaming mode: reports each piece of a data frame as it arrives. */
  #stream(input: ByteQueue, header: ReadHeader, events: WsEvent[]): ReadProgress {
    const text = this.#opcode === Opcode.Text;
    do {
      const view = input.takeUpTo(header.length - this.payloadRead);
      if (view.length === 0 && header.length > 0) return false;
      const part = unmasked(view, header, this.payloadRead);
      this.payloadRead += part.length;
      const error = this.#emitChunk(part, header.length - this.payloadRead, header.fin, text, events);
      if (error) return error;
    } while (this.payloadRead < header.length);
    return true;
  }

  /** Checks and reports one chunk of a streamed message; ends the message on its last chunk. */
  #emitChunk(data: Uint8Array, frameRemaining: number, fin: boolean, text: boolean, events: WsEvent[]): ProtocolError | undefined {
    const last = fin && frameRemaining === 0;
    if (text && (!this.#utf8.push(data) || (last && !this.#utf8.end()))) return new InvalidUtf8Error();
    if (data.length > 0 || last) events.push({ type: "chunk", messageType: text ? "text" : "binary", data, frameRemaining, last });
    if (last) this.#endMessage();
    return undefined;
  }

  /**
   * A whole single-frame message that lies in the first received chunk,
   * read in place: small messages are most of the traffic, and on
   * JavaScriptCore every typed-array view made per message costs as much as
   * the rest of the work. Text is unmasked into the scratch buffer and
   * decoded from a cached view of it; binary is unmasked into the message's
   * own buffer (or, unmasked, viewed where it lies).
   */
  #smallMessage(input: ByteQueue, chunk: Uint8Array, at: number, header: ReadHeader, events: WsEvent[]): ProtocolError | undefined {
    const length = header.length;
    const key = header.mask;
    input.skip(length);
    this.payloadRead = length;
    const opcode = this.#opcode;
    this.#endMessage();
    if (opcode === Opcode.Text) {
      let bytes: Uint8Array;
      if (key !== null) {
        unmaskAt(chunk, at, length, key, scratch);
        bytes = scratchView(length);
      } else {
        bytes = chunk.subarray(at, at + length);
      }
      if (!this.#utf8.push(bytes) || !this.#utf8.end()) return new InvalidUtf8Error();
      events.push({ type: "text", data: decoder.decode(bytes) });
      return undefined;
    }
    let data: Uint8Array;
    if (key !== null) {
      data = allocateMessage(length);
      unmaskAt(chunk, at, length, key, data);
    } else {
      data = chunk.subarray(at, at + length);
    }
    events.push({ type: "binary", data });
    return undefined;
  }

  /**
   * A single-frame text message that arrived whole: unmasked into a shared
   * scratch buffer, checked and decoded at once, with no allocation but the
   * string.
   */
  #finishSmallText(view: Uint8Array, header: ReadHeader, events: WsEvent[]): ProtocolError | undefined {
    let bytes = view;
    if (header.mask !== null) {
      scratch.set(view);
      applyMask(scratch, header.mask, 0, view.length, 0);
      bytes = scratch.subarray(0, view.length);
    }
    this.payloadRead = view.length;
    this.#opcode = 0;
    this.#cost = 0;
    if (!this.#utf8.push(bytes) || !this.#utf8.end()) return new InvalidUtf8Error();
    events.push({ type: "text", data: decoder.decode(bytes) });
    return undefined;
  }

  #finishMessage(events: WsEvent[]): ProtocolError | undefined {
    const parts = this.#parts;
    const data = parts.length === 1 ? parts[0]! : parts.length === 0 ? EMPTY : concat(parts);
    const opcode = this.#opcode;
    this.#parts = [];
    this.#endMessage();
    if (opcode === Opcode.Text) {
      if (!this.#utf8.end()) return new InvalidUtf8Error();
      events.push({ type: "text", data: decoder.decode(data) });
    } else {
      events.push({ type: "binary", data });
    }
    return undefined;
  }

  #endMessage(): void {
    this.#opcode = 0;
    this.#cost = 0;
    this.#decodedSize = 0;
  }
}

/**
 * Unmasks into a copy (the caller's chunk is never modified); unmasked
 * input is returned as is.
 *
 * @param view Payload bytes as received.
 * @param header Their frame's header.
 * @param keyOffset Position of `view` in the payload, for the key's phase.
 * @returns The payload bytes.
 */
export function unmasked(view: Uint8Array, header: ReadHeader, keyOffset: number): Uint8Array {
  if (header.mask === null || view.length === 0) return view;
  const copy = allocateMessage(view.length);
  maskInto(view, header.mask, keyOffset, copy, 0);
  return copy;
}
