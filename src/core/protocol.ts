/**
 * The WebSocket connection state machine once the opening handshake is
 * done (RFC 6455 sections 5–7), for both roles, without I/O.
 *
 * Feed received bytes to {@link WebSocketProtocol.receiveData}; it returns the
 * events they completed and never throws. Every byte to write (your sends,
 * automatic pongs, close replies) is queued; drain it with
 * {@link WebSocketProtocol.dataToSend} and write it in one go.
 *
 * @module
 */

import { ByteQueue } from "./byte_queue.ts";
import { concat } from "./bytes.ts";
import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from "./close_code.ts";
import {
  InvalidFrameError,
  InvalidStateError,
  InvalidUtf8Error,
  MessageTooBigError,
  ProtocolError,
} from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { encodeFrame, encodeTextFrame, MAX_CONTROL_PAYLOAD, Opcode } from "./frame.ts";
import { readFrameHeader, type ReadHeader, type Side } from "./frame_reader.ts";
import type { Extension, ExtensionFrame } from "./extensions/extension.ts";
import { ExtensionPipeline, isPromise } from "./extensions/pipeline.ts";
import { applyMask, randomMaskKey } from "./mask.ts";
import { type OutgoingData, OutputQueue } from "./output_queue.ts";
import { Utf8Validator } from "./utf8.ts";

export type { Side } from "./frame_reader.ts";

export { type OutgoingData, SEND_EOF } from "./output_queue.ts";

/** Connection states, numbered as the WHATWG `WebSocket.readyState`. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
/** One of {@link ReadyState}. */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** Limits and behaviour of a connection. Every limit has a safe default. */
export interface ProtocolOptions {
  /** Largest message accepted, in bytes, fragments' accounting included. Default 16 MiB. */
  maxMessageSize?: number;
  /** Largest single frame payload accepted. Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /**
   * Bytes charged for each fragment after the first, so a flood of tiny or
   * empty fragments reaches the message limit. Default 64.
   */
  fragmentOverhead?: number;
  /** Answer pings with pongs automatically. Default true. */
  autoPong?: boolean;
  /**
   * A faster whole-buffer UTF-8 check the runtime offers (`isUtf8` of
   * `node:buffer`); adapters provide it. Text still fails at the first
   * chunk holding an invalid byte.
   */
  isUtf8?: (bytes: Uint8Array) => boolean;
  /**
   * Negotiated extensions, in negotiated order. Server and client
   * connections set them from the handshake; give them here only to build
   * an already-open connection.
   */
  extensions?: readonly Extension[];
  /**
   * Report data frames as `"chunk"` events as their bytes arrive, instead
   * of buffering whole `"text"`/`"binary"` messages. Default false.
   */
  streamMessages?: boolean;
  /**
   * Client only. `false` sends frames unmasked, which RFC 6455 forbids:
   * only for testing how a server reacts (libwebsockets'
   * `DEFEAT_CLIENT_MASK`). Default true.
   */
  maskFrames?: boolean;
}

/** The close frame one side sent or received. */
export interface CloseRecord {
  code: number;
  reason: string;
}

/** Default of {@link ProtocolOptions.maxMessageSize}: 16 MiB, as Bun's server. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/**
 * Data frames up to this size are read into one buffer allocated at their
 * header; larger ones are kept as received pieces and joined at the end.
 */
const PREALLOCATE_LIMIT = 256 * 1024;

/** Whole single-frame text messages up to this size are unmasked into {@link scratch}. */
const SCRATCH_SIZE = 16 * 1024;
// Shared by every connection: it is only used within one synchronous call.
const scratch = new Uint8Array(SCRATCH_SIZE);

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY: Uint8Array = new Uint8Array(0);

/** Sans-IO WebSocket connection in the OPEN phase (or later). */
export class WebSocketProtocol {
  /** Which end this is. */
  readonly side: Side;
  /** Current state; see {@link ReadyState}. */
  readyState: ReadyState = ReadyState.OPEN;
  /** The close frame this side sent, once sent. */
  closeSent: CloseRecord | undefined;
  /** The close frame the peer sent, once received. */
  closeReceived: CloseRecord | undefined;

  readonly #maxMessageSize: number;
  readonly #maxFrameSize: number;
  readonly #fragmentOverhead: number;
  readonly #autoPong: boolean;
  #streaming: boolean;
  readonly #masked: boolean;
  // RSV bits owned by negotiated extensions; with none, any RSV bit fails the connection.
  #allowedRsv = 0;
  #pipeline: ExtensionPipeline | undefined;

  readonly #input = new ByteQueue();
  #discarding = false;
  #terminalReported = false; // at most one close or error event
  #header: ReadHeader = { fin: false, rsv: 0, opcode: 0, mask: null, length: 0 };
  #inPayload = false;
  #payloadRead = 0;
  // The data message being received.
  #messageOpcode = 0; // 0: none in progress
  #messageParts: Uint8Array[] = [];
  #messageCost = 0;
  readonly #utf8: Utf8Validator;
  readonly #isUtf8: ((bytes: Uint8Array) => boolean) | undefined;
  // The payload of the data frame being read, when it is copied into one buffer as it arrives.
  #frameBuffer: Uint8Array | undefined;
  // The data message being sent in fragments.
  #sendingFragmented = false;

  // With extensions: the received frame's payload, the decoded size of the message so far,
  // and a decode still running.
  #framePieces: Uint8Array[] = [];
  #decodedSize = 0;
  #decoding: { frame: ExtensionFrame | undefined; error: unknown } | undefined;
  // Asynchronous transforms in flight, and events they produced after receiveData() returned.
  #inFlight = 0;
  #progress: Promise<void> | undefined;
  #signalProgress: (() => void) | undefined;
  #lateEvents: WsEvent[] = [];

  readonly #output = new OutputQueue();
  #closeExpected = false;

  constructor(side: Side, options: ProtocolOptions = {}) {
    this.side = side;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxFrameSize = Math.min(options.maxFrameSize ?? this.#maxMessageSize, this.#maxMessageSize);
    this.#fragmentOverhead = options.fragmentOverhead ?? 64;
    this.#autoPong = options.autoPong ?? true;
    this.#isUtf8 = options.isUtf8;
    this.#utf8 = new Utf8Validator(options.isUtf8);
    this.#streaming = options.streamMessages ?? false;
    this.#masked = side === "client" && options.maskFrames !== false;
    if (options.extensions !== undefined && options.extensions.length > 0) this.setExtensions(options.extensions);
  }

  // --- extensions ---

  /**
   * Installs the negotiated extensions; the handshake phase calls it once,
   * before any frame.
   *
   * @param extensions In negotiated order.
   */
  protected setExtensions(extensions: readonly Extension[]): void {
    if (extensions.length === 0) return;
    this.#pipeline = new ExtensionPipeline(extensions);
    this.#allowedRsv = this.#pipeline.rsvBits;
  }

  /** Switches to `"chunk"` events (see {@link ProtocolOptions.streamMessages}); the handshake phase calls it. */
  protected setStreaming(on: boolean): void {
    this.#streaming = on;
  }

  /** The negotiated extensions, in order. */
  get extensions(): readonly Extension[] {
    return this.#pipeline?.extensions ?? [];
  }

  /**
   * Settles when an asynchronous extension transform in flight finishes;
   * undefined when none is. The I/O layer then calls `receiveData()` with
   * an empty chunk (to collect the events that were waiting) and drains
   * `dataToSend()` again.
   */
  get pendingWork(): Promise<void> | undefined {
    if (this.#inFlight === 0) return undefined;
    this.#progress ??= new Promise((resolve) => (this.#signalProgress = resolve));
    return this.#progress;
  }

  /** Whether received data waits for an asynchronous decode (the I/O layer may stop reading meanwhile). */
  get receiveBlocked(): boolean {
    return this.#decoding !== undefined;
  }

  /** Tells the extensions the connection is idle, so they can release memory they can rebuild. */
  idle(): void {
    this.#pipeline?.idle();
  }

  /** Releases the extensions' resources; call once the transport is closed. Idempotent. */
  dispose(): void {
    const pipeline = this.#pipeline;
    this.#pipeline = undefined;
    pipeline?.close();
  }

  #track(work: Promise<void>): void {
    this.#inFlight++;
    work.then(() => {
      this.#inFlight--;
      const signal = this.#signalProgress;
      this.#progress = undefined;
      this.#signalProgress = undefined;
      signal?.();
    });
  }

  // --- receiving ---

  /**
   * Processes received bytes. Never throws: a protocol violation yields an
   * `"error"` event, queues the close frame and ignores all later input.
   * The connection may keep views of `chunk`: do not reuse its memory.
   *
   * @param chunk Bytes read from the transport.
   * @returns The events these bytes completed, in order.
   */
  receiveData(chunk: Uint8Array): WsEvent[] {
    let events: WsEvent[] = [];
    if (this.#lateEvents.length > 0) {
      events = this.#lateEvents;
      this.#lateEvents = [];
    }
    if (this.#discarding || this.readyState === ReadyState.CLOSED) return events;
    if (chunk.length > 0) this.#input.push(chunk);
    try {
      this.#parse(events);
    } catch (cause) {
      // Defence in depth: a bug here must fail one connection, not the process.
      const error = new ProtocolError(1011, "WS_ERR_INTERNAL", "internal error while parsing");
      (error as { cause?: unknown }).cause = cause;
      this.#failWith(error, events);
    }
    return events;
  }

  /**
   * Reports that the transport ended (EOF). Yields a 1006 `"close"` event if
   * the connection ended without a closing handshake.
   *
   * @returns The events, if any.
   */
  receiveEof(): WsEvent[] {
    const events: WsEvent[] = [];
    // A connection already CLOSED (a refused handshake) has nothing to report.
    if (!this.#terminalReported && this.readyState !== ReadyState.CLOSED) {
      this.#terminalReported = true;
      events.push({ type: "close", code: 1006, reason: "", wasClean: false });
    }
    this.#discarding = true;
    this.#input.clear();
    this.readyState = ReadyState.CLOSED;
    this.#queueEof();
    this.dispose();
    return events;
  }

  #parse(events: WsEvent[]): void {
    const header = this.#header;
    const input = this.#input;
    if (this.#decoding !== undefined && !this.#resumeDecoded(events)) return;
    while (!this.#discarding) {
      if (!this.#inPayload) {
        const got = readFrameHeader(input, this.side, this.#allowedRsv, this.#maxFrameSize, header);
        if (got === false) return;
        if (got !== true) return this.#failWith(got, events);
        const error = this.#startFrame(header);
        if (error) return this.#failWith(error, events);
        this.#inPayload = true;
        this.#payloadRead = 0;
        this.#frameBuffer = undefined;
      }
      if (header.opcode >= Opcode.Close) {
        // Control frames are small: wait for the whole payload.
        if (input.length < header.length) return;
        const data = this.#unmasked(input.take(header.length), header, 0);
        this.#inPayload = false;
        this.#control(header.opcode, data, events);
        continue;
      }
      if (this.#pipeline !== undefined) {
        if (!this.#readExtensionFrame(header, events)) return;
        continue;
      }
      if (this.#streaming) {
        if (!this.#streamFrame(header, events)) return;
        continue;
      }
      // Data frames stream in as they arrive, so bad UTF-8 fails at the first bad byte.
      while (this.#payloadRead < header.length) {
        const view = input.takeUpTo(header.length - this.#payloadRead);
        if (view.length === 0) return;
        const at = this.#payloadRead;
        let part: Uint8Array;
        if (at === 0 && view.length === header.length) {
          // The whole payload arrived in one piece.
          if (header.fin && this.#messageOpcode === Opcode.Text && this.#messageParts.length === 0 && view.length <= SCRATCH_SIZE) {
            this.#inPayload = false;
            this.#finishSmallText(view, header, events);
            break;
          }
          part = this.#unmasked(view, header, 0);
          this.#messageParts.push(part);
        } else {
          // Split across reads: one buffer for the payload, each piece copied (and unmasked) into
          // place once, no join at the end. Bounded, so a frame announced but never sent costs little.
          if (this.#frameBuffer === undefined && header.length <= PREALLOCATE_LIMIT) {
            this.#frameBuffer = new Uint8Array(header.length);
            this.#messageParts.push(this.#frameBuffer);
          }
          const buffer = this.#frameBuffer;
          if (buffer !== undefined) {
            buffer.set(view, at);
            if (header.mask !== null) applyMask(buffer, header.mask, at, at + view.length, at);
            part = buffer.subarray(at, at + view.length);
          } else {
            part = this.#unmasked(view, header, at);
            this.#messageParts.push(part);
          }
        }
        this.#payloadRead += part.length;
        if (this.#messageOpcode === Opcode.Text && !this.#utf8.push(part)) {
          return this.#failWith(new InvalidUtf8Error(), events);
        }
      }
      if (!this.#inPayload) continue; // finished by the small-text path
      this.#inPayload = false;
      if (header.fin) this.#finishMessage(events);
    }
  }

  /**
   * A single-frame text message that arrived whole: unmasked into a shared
   * scratch buffer, checked and decoded at once, with no allocation but the
   * string.
   */
  #finishSmallText(view: Uint8Array, header: ReadHeader, events: WsEvent[]): void {
    let bytes = view;
    if (header.mask !== null) {
      scratch.set(view);
      applyMask(scratch, header.mask, 0, view.length, 0);
      bytes = scratch.subarray(0, view.length);
    }
    this.#messageOpcode = 0;
    this.#messageCost = 0;
    if (!this.#utf8.push(bytes) || !this.#utf8.end()) return this.#failWith(new InvalidUtf8Error(), events);
    events.push({ type: "text", data: decoder.decode(bytes) });
  }

  /** Checks a data or control header against the message in progress. */
  #startFrame(header: ReadHeader): ProtocolError | undefined {
    const opcode = header.opcode;
    if (opcode >= Opcode.Close) {
      // Extensions never transform control frames, so no RSV bit can mean anything there (RFC 7692 6.1).
      return header.rsv === 0 ? undefined : new InvalidFrameError("RSV bit set on a control frame", "WS_ERR_UNEXPECTED_RSV");
    }
    if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) {
        return new InvalidFrameError("continuation frame without a message in progress", "WS_ERR_UNEXPECTED_CONTINUATION");
      }
      this.#messageCost += this.#fragmentOverhead;
    } else {
      if (this.#messageOpcode !== 0) {
        return new InvalidFrameError("new message before the previous one finished", "WS_ERR_EXPECTED_CONTINUATION");
      }
      this.#messageOpcode = opcode;
      this.#messageCost = 0;
      this.#decodedSize = 0;
      this.#utf8.reset();
    }
    const cost = this.#messageCost + header.length;
    if (cost > this.#maxMessageSize) return new MessageTooBigError(cost, this.#maxMessageSize);
    this.#messageCost = cost;
    return undefined;
  }

  /** Unmasks into a copy (the caller's chunk is never modified); unmasked input is returned as is. */
  #unmasked(view: Uint8Array, header: ReadHeader, keyOffset: number): Uint8Array {
    if (header.mask === null || view.length === 0) return view;
    const copy = view.slice();
    applyMask(copy, header.mask, 0, copy.length, keyOffset);
    return copy;
  }

  /**
   * Streaming mode: reports each piece of a data frame as it arrives.
   *
   * @returns False when more input is needed or the connection failed.
   */
  #streamFrame(header: ReadHeader, events: WsEvent[]): boolean {
    const input = this.#input;
    const text = this.#messageOpcode === Opcode.Text;
    do {
      const view = input.takeUpTo(header.length - this.#payloadRead);
      if (view.length === 0 && header.length > 0) return false;
      const part = this.#unmasked(view, header, this.#payloadRead);
      this.#payloadRead += part.length;
      if (!this.#emitChunk(part, header.length - this.#payloadRead, header.fin, text, events)) return false;
    } while (this.#payloadRead < header.length);
    this.#inPayload = false;
    return true;
  }

  /** Checks and reports one chunk of a streamed message; ends the message on its last chunk. */
  #emitChunk(data: Uint8Array, frameRemaining: number, fin: boolean, text: boolean, events: WsEvent[]): boolean {
    const last = fin && frameRemaining === 0;
    if (text && (!this.#utf8.push(data) || (last && !this.#utf8.end()))) {
      this.#failWith(new InvalidUtf8Error(), events);
      return false;
    }
    if (data.length > 0 || last) events.push({ type: "chunk", messageType: text ? "text" : "binary", data, frameRemaining, last });
    if (last) {
      this.#messageOpcode = 0;
      this.#messageCost = 0;
      this.#decodedSize = 0;
    }
    return true;
  }

  /**
   * With extensions: collects a whole data frame, then decodes it.
   *
   * @returns False when more input is needed, a decode is running, or the connection failed.
   */
  #readExtensionFrame(header: ReadHeader, events: WsEvent[]): boolean {
    const input = this.#input;
    while (this.#payloadRead < header.length) {
      const view = input.takeUpTo(header.length - this.#payloadRead);
      if (view.length === 0) return false;
      this.#framePieces.push(this.#unmasked(view, header, this.#payloadRead));
      this.#payloadRead += view.length;
    }
    this.#inPayload = false;
    const pieces = this.#framePieces;
    this.#framePieces = [];
    const data = pieces.length === 1 ? pieces[0]! : pieces.length === 0 ? EMPTY : concat(pieces);
    const frame: ExtensionFrame = { opcode: header.opcode, fin: header.fin, rsv: header.rsv, data };
    let result;
    try {
      result = this.#pipeline!.decode(frame, this.#maxMessageSize - this.#decodedSize);
    } catch (error) {
      this.#failWith(asProtocolError(error), events);
      return false;
    }
    if (!isPromise(result)) return this.#acceptDecoded(result, events);
    const decoding: { frame: ExtensionFrame | undefined; error: unknown } = { frame: undefined, error: undefined };
    this.#decoding = decoding;
    this.#track(result.then((decoded) => void (decoding.frame = decoded), (error) => void (decoding.error = error ?? new Error("decode failed"))));
    return false;
  }

  /** Picks up a finished asynchronous decode; false while it is still running or when it failed. */
  #resumeDecoded(events: WsEvent[]): boolean {
    const decoding = this.#decoding!;
    if (decoding.frame === undefined && decoding.error === undefined) return false;
    this.#decoding = undefined;
    if (decoding.error !== undefined) {
      this.#failWith(asProtocolError(decoding.error), events);
      return false;
    }
    return this.#acceptDecoded(decoding.frame!, events);
  }

  /** A decoded data frame joins the message in progress. */
  #acceptDecoded(frame: ExtensionFrame, events: WsEvent[]): boolean {
    if (frame.rsv !== 0) {
      this.#failWith(new InvalidFrameError("RSV bit set that no extension consumed", "WS_ERR_UNEXPECTED_RSV"), events);
      return false;
    }
    const data = frame.data;
    this.#decodedSize += data.length;
    if (this.#decodedSize > this.#maxMessageSize) {
      this.#failWith(new MessageTooBigError(this.#decodedSize, this.#maxMessageSize), events);
      return false;
    }
    const text = this.#messageOpcode === Opcode.Text;
    if (this.#streaming) return this.#emitChunk(data, 0, frame.fin, text, events);
    if (text && !this.#utf8.push(data)) {
      this.#failWith(new InvalidUtf8Error(), events);
      return false;
    }
    if (data.length > 0) this.#messageParts.push(data);
    if (frame.fin) this.#finishMessage(events);
    return true;
  }

  #finishMessage(events: WsEvent[]): void {
    const parts = this.#messageParts;
    const data = parts.length === 1 ? parts[0]! : parts.length === 0 ? EMPTY : concat(parts);
    const opcode = this.#messageOpcode;
    this.#messageParts = [];
    this.#messageOpcode = 0;
    this.#messageCost = 0;
    this.#decodedSize = 0;
    if (opcode === Opcode.Text) {
      if (!this.#utf8.end()) return this.#failWith(new InvalidUtf8Error(), events);
      events.push({ type: "text", data: decoder.decode(data) });
    } else {
      events.push({ type: "binary", data });
    }
  }

  #control(opcode: number, data: Uint8Array, events: WsEvent[]): void {
    if (opcode === Opcode.Ping) {
      events.push({ type: "ping", data });
      if (this.#autoPong && this.closeSent === undefined) this.#queueFrame(Opcode.Pong, data, true);
    } else if (opcode === Opcode.Pong) {
      events.push({ type: "pong", data });
    } else {
      this.#receiveClose(data, events);
    }
  }

  #receiveClose(data: Uint8Array, events: WsEvent[]): void {
    let code = 1005;
    let reason = "";
    if (data.length === 1) {
      return this.#failWith(new InvalidFrameError("close frame payload of 1 byte", "WS_ERR_INVALID_CLOSE"), events);
    }
    if (data.length >= 2) {
      code = (data[0]! << 8) | data[1]!;
      if (!isValidWireCloseCode(code)) {
        return this.#failWith(new InvalidFrameError(`invalid close code ${code}`, "WS_ERR_INVALID_CLOSE_CODE"), events);
      }
      const reasonBytes = data.subarray(2);
      const validator = new Utf8Validator(this.#isUtf8);
      if (!validator.push(reasonBytes) || !validator.end()) {
        return this.#failWith(new InvalidUtf8Error("invalid UTF-8 in close reason"), events);
      }
      reason = decoder.decode(reasonBytes);
    }
    this.closeReceived = { code, reason };
    this.#terminalReported = true;
    this.#discarding = true; // RFC 6455 5.5.1: no data is accepted after a close frame
    this.#input.clear();
    events.push({ type: "close", code, reason, wasClean: true });
    if (this.closeSent === undefined) {
      // RFC 6455 5.5.1: "the endpoint MUST send a Close frame in response"; echo code and reason, as ws and python-websockets do.
      this.#queueClose(code === 1005 ? undefined : code, reason);
    }
    this.readyState = ReadyState.CLOSED;
    this.#endTransport();
  }

  #failWith(error: ProtocolError, events: WsEvent[]): void {
    this.#discarding = true;
    this.#input.clear();
    this.#messageParts = [];
    this.#framePieces = [];
    this.#decoding = undefined;
    let closeFrame = EMPTY;
    if (this.closeSent === undefined && this.readyState !== ReadyState.CLOSED) {
      closeFrame = this.#queueClose(error.closeCode, truncateReason(error.message));
    }
    if (!this.#terminalReported) {
      this.#terminalReported = true;
      events.push({ type: "error", error, closeFrame });
    }
    if (this.readyState === ReadyState.OPEN) this.readyState = ReadyState.CLOSING;
    this.#endTransport();
  }

  /** RFC 6455 7.1.1: the server closes TCP first; the client waits for it. */
  #endTransport(): void {
    if (this.side === "server") this.#queueEof();
    else this.#closeExpected = true;
  }

  // --- sending ---

  /**
   * Queues a message: text for a string, binary for bytes.
   *
   * @param data The message.
   */
  send(data: string | Uint8Array): void {
    if (typeof data === "string") this.sendText(data);
    else this.sendBinary(data);
  }

  /**
   * Queues a text message.
   *
   * @param text The message; encoded as UTF-8.
   */
  sendText(text: string): void {
    this.#checkCanSendMessage();
    if (this.#pipeline !== undefined) return this.#sendData(Opcode.Text, encoder.encode(text), true);
    const chunks = encodeTextFrame(text, Opcode.Text, { mask: this.#maskKey() });
    for (const chunk of chunks) this.#push(chunk);
  }

  /**
   * Queues a binary message. Server frames reference `data` without copying
   * it: do not modify it until it has been written.
   *
   * @param data The message.
   */
  sendBinary(data: Uint8Array): void {
    this.#checkCanSendMessage();
    this.#sendData(Opcode.Binary, data, true);
  }

  /**
   * Queues one fragment of a message sent in parts. The first fragment's
   * type (string: text, bytes: binary) sets the message type; the one with
   * `fin` true ends it. Control frames may be sent between fragments.
   *
   * @param data The fragment's payload.
   * @param fin Whether this fragment ends the message.
   */
  sendFragment(data: string | Uint8Array, fin: boolean): void {
    this.#checkCanSend();
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const opcode = this.#sendingFragmented ? Opcode.Continuation : typeof data === "string" ? Opcode.Text : Opcode.Binary;
    this.#sendingFragmented = !fin;
    this.#sendData(opcode, bytes, fin);
  }

  /**
   * Queues a ping.
   *
   * @param data Up to 125 bytes (a string is encoded as UTF-8).
   */
  sendPing(data: string | Uint8Array = EMPTY): void {
    this.#checkCanSend();
    this.#queueFrame(Opcode.Ping, controlPayload(data), true);
  }

  /**
   * Queues an unsolicited pong (or a manual reply when `autoPong` is off).
   *
   * @param data Up to 125 bytes.
   */
  sendPong(data: string | Uint8Array = EMPTY): void {
    this.#checkCanSend();
    this.#queueFrame(Opcode.Pong, controlPayload(data), true);
  }

  /**
   * Starts the closing handshake, or answers the peer's close.
   *
   * @param code A code valid on the wire (1000–1003, 1007–1014, 3000–4999), or undefined to send none.
   * @param reason At most 123 bytes of UTF-8.
   */
  sendClose(code?: number, reason = ""): void {
    if (this.closeSent !== undefined || this.readyState === ReadyState.CLOSED) {
      throw new InvalidStateError("close frame already sent or connection closed");
    }
    if (code === undefined && reason !== "") throw new TypeError("a close reason needs a close code");
    if (code !== undefined && !isValidWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
    if (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError("close reason is longer than 123 bytes");
    }
    this.#queueClose(code, reason);
    this.readyState = ReadyState.CLOSING;
  }

  /**
   * Fails the connection: sends a close frame with `code` and stops
   * processing input, as RFC 6455 7.1.7 describes.
   *
   * @param code The close code.
   * @param reason A short reason.
   */
  fail(code: number, reason = ""): void {
    if (!isValidWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
    this.#failWith(new ProtocolError(code, "WS_ERR_FAILED", reason), []);
  }

  /**
   * Takes everything queued for writing, in order: header and payload are
   * separate chunks, so large payloads are never copied.
   *
   * @returns The chunks to write; {@link SEND_EOF} means half-close after them.
   */
  dataToSend(): OutgoingData[] {
    return this.#output.take();
  }

  /** Bytes queued and not yet taken by {@link dataToSend} (frames still being encoded count at their input size). */
  get bufferedAmount(): number {
    return this.#output.bufferedAmount;
  }

  /**
   * Whether the I/O layer should expect the peer to close the transport (the
   * client side after the closing handshake) and close it itself after a
   * timeout (RFC 6455 7.1.1).
   *
   * @returns True once a client has finished or failed the closing handshake.
   */
  closeExpected(): boolean {
    return this.#closeExpected;
  }

  #checkCanSendMessage(): void {
    this.#checkCanSend();
    if (this.#sendingFragmented) throw new InvalidStateError("a fragmented message is being sent");
  }

  #checkCanSend(): void {
    if (this.readyState !== ReadyState.OPEN) {
      throw new InvalidStateError(`cannot send in state ${this.readyState}`);
    }
  }

  #queueClose(code: number | undefined, reason: string): Uint8Array {
    let payload = EMPTY;
    if (code !== undefined) {
      const reasonBytes = encoder.encode(reason);
      payload = new Uint8Array(2 + reasonBytes.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(reasonBytes, 2);
    }
    this.closeSent = { code: code ?? 1005, reason };
    const chunks = encodeFrame(Opcode.Close, payload, { mask: this.#maskKey() });
    const frame = chunks.length === 1 ? chunks[0]! : concat(chunks);
    this.#push(frame);
    return frame;
  }

  #maskKey(): Uint8Array | undefined {
    return this.#masked ? randomMaskKey() : undefined;
  }

  #queueFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv = 0): void {
    const chunks = encodeFrame(opcode, payload, { fin, rsv, mask: this.#maskKey() });
    for (const chunk of chunks) this.#push(chunk);
  }

  /** A data frame: through the extensions when there are any. */
  #sendData(opcode: number, data: Uint8Array, fin: boolean): void {
    const pipeline = this.#pipeline;
    if (pipeline === undefined) return this.#queueFrame(opcode, data, fin);
    const result = pipeline.encode({ opcode, fin, rsv: 0, data });
    if (!isPromise(result)) return this.#queueFrame(result.opcode, result.data, result.fin, result.rsv);
    // Everything sent from now on waits behind this frame, control frames included, so order is kept.
    const pending = this.#output.hold(data.length);
    this.#track(result.then(
      (frame) => {
        pending.chunks = encodeFrame(frame.opcode, frame.data, { fin: frame.fin, rsv: frame.rsv, mask: this.#maskKey() });
        this.#settleOutput();
      },
      (error) => {
        pending.error = error ?? new Error("encode failed");
        this.#settleOutput();
      },
    ));
  }

  #settleOutput(): void {
    const failure = this.#output.settle();
    if (failure === undefined) return;
    // Our own encoder failed: the message cannot be sent.
    const error = new ProtocolError(1011, "WS_ERR_EXTENSION_FAILED", "an extension failed to encode a message");
    (error as { cause?: unknown }).cause = failure;
    this.#failWith(error, this.#lateEvents);
  }

  #push(chunk: Uint8Array): void {
    this.#output.push(chunk);
  }

  /** For the handshake phase of subclasses: queues raw bytes (an HTTP head). */
  protected queueBytes(chunk: Uint8Array): void {
    this.#push(chunk);
  }

  /** For the handshake phase of subclasses: queues a half-close. */
  protected queueEof(): void {
    this.#queueEof();
  }

  #queueEof(): void {
    this.#output.pushEof();
  }
}

/** Extension failures that are not protocol errors are bugs or codec failures: 1011. */
function asProtocolError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const wrapped = new ProtocolError(1011, "WS_ERR_EXTENSION_FAILED", "an extension failed to decode a frame");
  (wrapped as { cause?: unknown }).cause = error;
  return wrapped;
}

function controlPayload(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (bytes.length > MAX_CONTROL_PAYLOAD) throw new RangeError("control frame payload is longer than 125 bytes");
  return bytes;
}

/** Cuts an error message to fit a close reason, on a code point boundary. */
function truncateReason(message: string): string {
  let reason = message;
  while (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}
