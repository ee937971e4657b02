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
import { InvalidStateError, ProtocolError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { encodeFrame, encodeTextFrame, Opcode, pooled, writePooledFrame, writePooledTextFrame } from "./frame.ts";
import { emptyHeader, readFrameHeader, type ReadHeader, type Side } from "./frame_reader.ts";
import type { Extension, ExtensionFrame } from "./extensions/extension.ts";
import { ExtensionStage } from "./extensions/stage.ts";
import { randomMaskKey } from "./mask.ts";
import { MessageReader, unmasked } from "./message_reader.ts";
import { type OutgoingData, OutputQueue, type PendingFrame } from "./output_queue.ts";
import { checkControlHeader, controlPayload, encodeClosePayload, parseClosePayload, truncateReason } from "./control_frames.ts";

export type { Side } from "./frame_reader.ts";

export { type OutgoingData, SEND_EOF } from "./output_queue.ts";

import { type CloseRecord, DEFAULT_MAX_MESSAGE_SIZE, type ProtocolOptions, WsReadyState } from "./protocol_options.ts";

export { type CloseRecord, DEFAULT_MAX_MESSAGE_SIZE, type ProtocolOptions, WsReadyState } from "./protocol_options.ts";

const encoder = new TextEncoder();

/** Server text up to this many UTF-16 units is written into the frame pool directly when it is ASCII. */
const MAX_SHORT_TEXT = 125;
/** Server frames with payloads up to this size are copied behind their header, in the frame pool (as encodeFrame does). */
const MAX_POOLED_PAYLOAD = 1024;
const EMPTY: Uint8Array = new Uint8Array(0);

/** Sans-IO WebSocket connection in the OPEN phase (or later). */
export class WebSocketProtocol {
  /** Which end this is. */
  readonly side: Side;
  /** Current state; see {@link WsReadyState}. */
  readyState: WsReadyState = WsReadyState.OPEN;
  /** The close frame this side sent, once sent. */
  closeSent: CloseRecord | undefined;
  /** The close frame the peer sent, once received. */
  closeReceived: CloseRecord | undefined;

  readonly #maxFrameSize: number;
  readonly #autoPong: boolean;
  readonly #masked: boolean;
  // RSV bits owned by negotiated extensions; with none, any RSV bit fails the connection.
  #allowedRsv = 0;
  #stage: ExtensionStage | undefined;

  readonly #input = new ByteQueue();
  #discarding = false;
  #terminalReported = false; // at most one close or error event
  // The frame header and message reader are made at the first frame: many connections sit idle.
  #header: ReadHeader | undefined;
  #inPayload = false;
  #reader: MessageReader | undefined;
  #streaming: boolean;
  readonly #options: ProtocolOptions;
  // The data message being sent in fragments.
  #sendingFragmented = false;
  // Events produced after receiveData() returned (an asynchronous encode that failed).
  #lateEvents: WsEvent[] | undefined;
  // The peer half-closed behind bytes that came with the handshake: EOF once they are parsed.
  #eofAfterInput = false;

  readonly #output = new OutputQueue();
  #closeExpected = false;

  constructor(side: Side, options: ProtocolOptions = {}) {
    this.side = side;
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxFrameSize = Math.min(options.maxFrameSize ?? maxMessageSize, maxMessageSize);
    this.#autoPong = options.autoPong ?? true;
    this.#options = options;
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
    this.#stage = new ExtensionStage(extensions);
    this.#allowedRsv = this.#stage.rsvBits;
  }

  /** Switches to `"chunk"` events (see {@link ProtocolOptions.streamMessages}); the handshake phase calls it. */
  protected setStreaming(on: boolean): void {
    this.#streaming = on;
    if (this.#reader !== undefined) this.#reader.streaming = on;
  }

  /** The negotiated extensions, in order. */
  get extensions(): readonly Extension[] {
    return this.#stage?.pipeline.extensions ?? [];
  }

  /**
   * Settles when an asynchronous extension transform in flight finishes;
   * undefined when none is. The I/O layer then calls `receiveData()` with
   * an empty chunk (to collect the events that were waiting) and drains
   * `dataToSend()` again.
   */
  get pendingWork(): Promise<void> | undefined {
    return this.#stage?.pendingWork;
  }

  /** Whether received data waits for an asynchronous decode (the I/O layer may stop reading meanwhile). */
  get receiveBlocked(): boolean {
    return this.#stage?.decoding ?? false;
  }

  /** Tells the extensions the connection is idle, so they can release memory they can rebuild. */
  idle(): void {
    this.#stage?.pipeline.idle();
  }

  /** Releases the extensions' resources; call once the transport is closed. Idempotent. */
  dispose(): void {
    const stage = this.#stage;
    this.#stage = undefined;
    stage?.pipeline.close();
  }

  // --- receiving ---

  /**
   * Processes received bytes. Never throws: a protocol violation yields an
   * `"error"` event, queues the close frame and ignores all later input.
   * The connection may keep views of `chunk`: do not reuse its memory.
   *
   * Everything the bytes complete is processed at once, a close or an error
   * included: a reply to a message that preceded a bad frame in the same
   * chunk can no longer be sent. An I/O layer that runs handlers between
   * events uses {@link receiveNext} instead.
   *
   * @param chunk Bytes read from the transport.
   * @returns The events these bytes completed, in order.
   */
  receiveData(chunk: Uint8Array): WsEvent[] {
    const events: WsEvent[] = [];
    this.receiveInto(chunk, events, false);
    return events;
  }

  /**
   * Processes received bytes one event at a time: parses only until an
   * event is complete and returns it (with any other event the same frame
   * completed), keeping the rest of the input for the next call. Call it
   * again with an empty chunk until it returns no event.
   *
   * This is how the I/O layer keeps frames in order (RFC 6455 processes
   * them one after the other): the handlers of an event run before the next
   * frame is looked at, so what they send goes out before the close frame
   * of a protocol error (or the echo of a close) that followed in the same
   * read. Never throws, as {@link receiveData}.
   *
   * @param chunk Bytes read from the transport, or an empty chunk to continue.
   * @param into Where to put the events (an array the caller reuses, emptied first), or a new one.
   * @returns `into`: the next event(s), or none when the input is used up.
   */
  receiveNext(chunk: Uint8Array = EMPTY, into: WsEvent[] = []): WsEvent[] {
    into.length = 0;
    this.receiveInto(chunk, into, true);
    return into;
  }

  /**
   * What {@link receiveData} (`step` false: everything) and
   * {@link receiveNext} (`step` true: up to the first complete event) do;
   * the handshake phases of subclasses come first.
   *
   * @param chunk Bytes read from the transport.
   * @param events Where the events go.
   * @param step Whether to stop once an event is complete.
   */
  protected receiveInto(chunk: Uint8Array, events: WsEvent[], step: boolean): void {
    if (this.#lateEvents !== undefined) {
      for (const event of this.#lateEvents) events.push(event);
      this.#lateEvents = undefined;
      if (step) {
        if (chunk.length > 0) this.#input.push(chunk);
        return;
      }
    }
    if (!this.#discarding && this.readyState !== WsReadyState.CLOSED) {
      if (chunk.length > 0) this.#input.push(chunk);
      try {
        this.#parse(events, step);
      } catch (cause) {
        // Defence in depth: a bug here must fail one connection, not the process.
        const error = new ProtocolError(1011, "WS_ERR_INTERNAL", "internal error while parsing");
        (error as { cause?: unknown }).cause = cause;
        this.#failWith(error, events);
      }
    }
    // A half-close that came behind the handshake's bytes: once they are all parsed.
    if (this.#eofAfterInput && !(step && events.length > 0) && !this.receiveBlocked) {
      this.#eofAfterInput = false;
      for (const event of this.receiveEof()) events.push(event);
    }
  }

  /**
   * For the handshake phase of subclasses: bytes that arrived with the
   * handshake, parsed as frames by the next receive call.
   *
   * @param chunk Bytes received after the handshake's head.
   * @param eof Whether the peer half-closed after them: reported once they are processed.
   */
  protected receiveLater(chunk: Uint8Array, eof = false): void {
    this.#input.push(chunk);
    if (eof) this.#eofAfterInput = true;
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
    if (!this.#terminalReported && this.readyState !== WsReadyState.CLOSED) {
      this.#terminalReported = true;
      events.push({ type: "close", code: 1006, reason: "", wasClean: false });
    }
    this.#discarding = true;
    this.#input.clear();
    this.readyState = WsReadyState.CLOSED;
    this.#queueEof();
    this.dispose();
    return events;
  }

  /** Parses frames until the input runs out, or (`step`) until one completes an event. */
  #parse(events: WsEvent[], step: boolean): void {
    const input = this.#input;
    const stage = this.#stage;
    // Nothing to read (an idle connection opening): its reading state is made with the first byte.
    if (input.length === 0 && !stage?.decoding) return;
    const header = (this.#header ??= emptyHeader());
    const reader = (this.#reader ??= this.#newReader());
    if (stage?.decoding && !this.#acceptDecoded(stage.resume(), events)) return;
    while (!this.#discarding && !(step && events.length > 0)) {
      if (!this.#inPayload) {
        const got = readFrameHeader(input, this.side, this.#allowedRsv, this.#maxFrameSize, header);
        if (got === false) return;
        if (got !== true) return this.#failWith(got, events);
        const error = header.opcode >= Opcode.Close ? checkControlHeader(header) : reader.startFrame(header);
        if (error) return this.#failWith(error, events);
        this.#inPayload = true;
      }
      if (header.opcode >= Opcode.Close) {
        // Control frames are small: wait for the whole payload.
        if (input.length < header.length) return;
        const data = unmasked(input.take(header.length), header, 0);
        this.#inPayload = false;
        this.#control(header.opcode, data, events);
        continue;
      }
      if (stage !== undefined) {
        if (!reader.collect(input, header, stage.pieces)) return;
        this.#inPayload = false;
        if (!this.#acceptDecoded(stage.decode(header, reader.decodedRoom), events)) return;
        continue;
      }
      const progress = reader.read(input, header, events);
      if (progress === false) return;
      if (progress !== true) return this.#failWith(progress, events);
      this.#inPayload = false;
    }
  }

  #newReader(): MessageReader {
    const options = this.#options;
    const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    return new MessageReader({ maxMessageSize, fragmentOverhead: options.fragmentOverhead ?? 64, streaming: this.#streaming, isUtf8: options.isUtf8, inPlace: options.unmaskInPlace ?? false });
  }

  /**
   * A frame out of the extension stage joins the message in progress.
   *
   * @returns False while a decode runs or when the connection failed.
   */
  #acceptDecoded(result: ExtensionFrame | ProtocolError | undefined, events: WsEvent[]): boolean {
    if (result === undefined) return false;
    const error = result instanceof ProtocolError ? result : this.#reader!.acceptDecoded(result.data, result.rsv, result.fin, events);
    if (error === undefined) return true;
    this.#failWith(error, events);
    return false;
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
    const received = parseClosePayload(data, this.#options.isUtf8);
    if (received instanceof ProtocolError) return this.#failWith(received, events);
    const { code, reason } = received;
    this.closeReceived = { code, reason };
    this.#terminalReported = true;
    this.#discarding = true; // RFC 6455 5.5.1: no data is accepted after a close frame
    this.#input.clear();
    events.push({ type: "close", code, reason, wasClean: true });
    if (this.closeSent === undefined) {
      // RFC 6455 5.5.1: "the endpoint MUST send a Close frame in response"; echo code and reason, as ws and python-websockets do.
      this.#queueClose(code === 1005 ? undefined : code, reason);
    }
    this.readyState = WsReadyState.CLOSED;
    this.#endTransport();
  }

  #failWith(error: ProtocolError, events: WsEvent[]): void {
    this.#discarding = true;
    this.#input.clear();
    this.#reader?.clear();
    this.#stage?.clear();
    let closeFrame = EMPTY;
    if (this.closeSent === undefined && this.readyState !== WsReadyState.CLOSED) {
      closeFrame = this.#queueClose(error.closeCode, truncateReason(error.message));
    }
    if (!this.#terminalReported) {
      this.#terminalReported = true;
      events.push({ type: "error", error, closeFrame });
    }
    if (this.readyState === WsReadyState.OPEN) this.readyState = WsReadyState.CLOSING;
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
    if (this.#stage !== undefined) return this.#sendData(Opcode.Text, encoder.encode(text), true);
    if (!this.#masked && text.length <= MAX_SHORT_TEXT && writePooledTextFrame(text, Opcode.Text, true)) {
      return this.#output.pushRange(pooled.pool, pooled.start, pooled.end);
    }
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
    if (this.closeSent !== undefined || this.readyState === WsReadyState.CLOSED) {
      throw new InvalidStateError("close frame already sent or connection closed");
    }
    if (code === undefined && reason !== "") throw new TypeError("a close reason needs a close code");
    if (code !== undefined && !isValidWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
    if (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) {
      throw new RangeError("close reason is longer than 123 bytes");
    }
    this.#queueClose(code, reason);
    this.readyState = WsReadyState.CLOSING;
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
    if (this.readyState !== WsReadyState.OPEN) {
      throw new InvalidStateError(`cannot send in state ${this.readyState}`);
    }
  }

  #queueClose(code: number | undefined, reason: string): Uint8Array {
    const payload = encodeClosePayload(code, reason);
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
    if (!this.#masked && payload.length <= MAX_POOLED_PAYLOAD) {
      writePooledFrame(opcode, payload, fin, rsv);
      return this.#output.pushRange(pooled.pool, pooled.start, pooled.end);
    }
    const chunks = encodeFrame(opcode, payload, { fin, rsv, mask: this.#maskKey() });
    for (const chunk of chunks) this.#push(chunk);
  }

  /** A data frame: through the extensions when there are any. */
  #sendData(opcode: number, data: Uint8Array, fin: boolean): void {
    const stage = this.#stage;
    if (stage === undefined) return this.#queueFrame(opcode, data, fin);
    let pending: PendingFrame | undefined;
    const encoded = stage.encode({ opcode, fin, rsv: 0, data }, (frame, failure) => {
      if (frame !== undefined) pending!.chunks = encodeFrame(frame.opcode, frame.data, { fin: frame.fin, rsv: frame.rsv, mask: this.#maskKey() });
      else pending!.error = failure;
      this.#settleOutput();
    });
    if (encoded !== undefined) return this.#queueFrame(encoded.opcode, encoded.data, encoded.fin, encoded.rsv);
    // Everything sent from now on waits behind this frame, control frames included, so order is kept.
    pending = this.#output.hold(data.length);
  }

  #settleOutput(): void {
    const failure = this.#output.settle();
    if (failure === undefined) return;
    // Our own encoder failed: the message cannot be sent.
    const error = new ProtocolError(1011, "WS_ERR_EXTENSION_FAILED", "an extension failed to encode a message");
    (error as { cause?: unknown }).cause = failure;
    this.#failWith(error, (this.#lateEvents ??= []));
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

