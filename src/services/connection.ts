/**
 * An open WebSocket connection over a {@link Transport}: the object your
 * handlers receive, on the server and the client alike. It drives the
 * sans-IO {@link WebSocketProtocol}, batches output (one write per read and
 * per tick), accounts for backpressure and owns the connection's timers.
 *
 * @module
 */

import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from "../core/close_code.ts";
import { InvalidStateError, type ProtocolError, WebSocketError } from "../core/errors.ts";
import type { WsEvent } from "../core/events.ts";
import { WsReadyState, type WebSocketProtocol } from "../core/protocol.ts";
import { utf8Length } from "../core/utf8.ts";
import type { Transport } from "../transport/transport.ts";
import { ConnectionTimers, kTimedOut } from "./connection_timers.ts";
import type { CloseInfo, Handlers, Message, SendResult } from "./handlers.ts";
import type { ConnectionPolicy } from "./policy.ts";
import { type SharedFrame, SharedQueue } from "./shared_frames.ts";
import { MessageInbox } from "./message_inbox.ts";
import type { TopicRegistry } from "./topics.ts";
import { PubSubError } from "./pubsub/engine.ts";
import type { Recovery, SubscribeOptions } from "./pubsub/recovery.ts";
import { isStreamId } from "./pubsub/stream_ids.ts";
import { writeOutgoing } from "./write_outgoing.ts";

export type { ChunkInfo, CloseInfo, Handlers, Message, SendResult } from "./handlers.ts";
export { type ConnectionPolicy, DEFAULT_POLICY, resolvePolicy } from "./policy.ts";

/**
 * Internal: the methods through which the server and client hand transport
 * events to a connection (symbols, so they stay off the public surface; one
 * forwarding object per connection instead of a set of closures).
 */
export const kData: unique symbol = Symbol("wsport.data");
export const kDrain: unique symbol = Symbol("wsport.drain");
export const kEnd: unique symbol = Symbol("wsport.end");
export const kClose: unique symbol = Symbol("wsport.close");
/** Internal: queues a {@link SharedFrame} (a broadcast or publication) on a connection. */
export const kSendShared: unique symbol = Symbol("wsport.sendShared");

/** Default close code of {@link WebSocketConnection.startTimeout}: 1008, policy violation. */
export const DEFAULT_TIMEOUT_CLOSE_CODE = 1008;

const encoder = new TextEncoder();
// The events of one step of a read (receiveNext empties it): one array for every connection.
const stepEvents: WsEvent[] = [];
const EMPTY = new Uint8Array(0);

/**
 * Whether a message fits in `room` bytes on the wire: UTF-8 for text, not
 * UTF-16 units. UTF-8 takes at most 3 bytes per UTF-16 unit, so text is
 * counted byte by byte only near the limit (counting 64 KiB of text cost a
 * tenth of a deflate echo's time).
 */
function fits(message: Message, room: number): boolean {
  if (typeof message !== "string") return message.length <= room;
  return message.length * 3 <= room || utf8Length(message) <= room;
}

/**
 * One WebSocket connection. Get it from a server's handlers or from
 * `connect()`; you do not construct it yourself.
 */
export class WebSocketConnection<Data = unknown> implements AsyncIterable<Message> {
  /** Your per-connection data. */
  data: Data;
  /** The subprotocol agreed on, or "". */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` value agreed on, or "". */
  readonly extensions: string;
  /** The request path (server) or URL path (client). */
  readonly path: string;

  readonly #core: WebSocketProtocol;
  readonly #transport: Transport;
  readonly #policy: ConnectionPolicy;
  readonly #handlers: Handlers<Data>;
  readonly #timers: ConnectionTimers;

  #inRead = false;
  #flushScheduled = false;
  #backpressured = false;
  #writableRequested = false;
  #paused = false;
  #awaitingExtensions = false;
  #opened = false;
  #error: ProtocolError | undefined;
  #closeInfo: CloseInfo | undefined;
  // Made on first use of `closed`: most connections never ask, and a promise per idle connection adds up.
  #closedPromise: Promise<CloseInfo> | undefined;
  #resolveClosed: ((info: CloseInfo) => void) | undefined;
  readonly #onClosed: ((ws: WebSocketConnection<any>) => void) | undefined;

  // The reason of the application's timeout (startTimeout) that expired.
  #timeoutReason: string | undefined;

  // Broadcast frames queued here, made on the first one; and whether a fragmented message is being sent.
  #shared: SharedQueue | undefined;
  #fragmenting = false;
  // The server's topic subscriptions (undefined on client connections, which cannot subscribe).
  readonly #topics: TopicRegistry<WebSocketConnection<any>> | undefined;
  readonly #recover: ((ws: WebSocketConnection<any>, topic: string, since: string) => Promise<Recovery>) | undefined;

  // Messages kept for the async iterator when there is no message handler.
  // Made on first use: connections with a message handler never need it.
  #inbox: MessageInbox | undefined;

  /** @internal Created by the server and client services. */
  constructor(init: {
    core: WebSocketProtocol;
    transport: Transport;
    policy: ConnectionPolicy;
    handlers: Handlers<Data>;
    data: Data;
    protocol: string;
    extensions: string;
    path: string;
    /** Called once when the connection is closed (the server's bookkeeping). */
    onClosed?: (ws: WebSocketConnection<any>) => void;
    /** The server's topic subscriptions, for {@link WebSocketConnection.subscribe}. */
    topics?: TopicRegistry<WebSocketConnection<any>>;
    /** The server's recovery, for `subscribe(topic, { since })`. */
    recover?: (ws: WebSocketConnection<any>, topic: string, since: string) => Promise<Recovery>;
  }) {
    this.#core = init.core;
    this.#transport = init.transport;
    this.#policy = init.policy;
    this.#handlers = init.handlers;
    this.data = init.data;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.path = init.path;
    this.#onClosed = init.onClosed;
    this.#topics = init.topics;
    this.#recover = init.recover;
    this.#timers = new ConnectionTimers(init.policy, this, init.core);
  }

  // --- state ---

  /** Resolves once the connection is closed. */
  get closed(): Promise<CloseInfo> {
    if (this.#closedPromise === undefined) {
      const info = this.#closeInfo;
      this.#closedPromise = info ? Promise.resolve(info) : new Promise((resolve) => (this.#resolveClosed = resolve));
    }
    return this.#closedPromise;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED, as the WHATWG `WebSocket`. */
  get readyState(): WsReadyState {
    return this.#closeInfo ? WsReadyState.CLOSED : this.#core.readyState;
  }

  /** Bytes queued for sending and not yet handed to the OS. */
  get bufferedAmount(): number {
    return this.#core.bufferedAmount + (this.#shared?.bufferedAmount ?? 0) + this.#transport.bufferedAmount;
  }

  get remoteAddress(): string {
    return this.#transport.remoteAddress;
  }

  get remotePort(): number {
    return this.#transport.remotePort;
  }

  /** The transport, whose `raw` is the runtime's own socket. */
  get transport(): Transport {
    return this.#transport;
  }

  /** The protocol error that failed the connection, if one did. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  // --- sending ---

  /**
   * Sends a message: text for a string, binary for bytes.
   *
   * @param message The message. Bytes are not copied: do not modify them until sent.
   * @returns Whether it was queued, and whether the buffer is now above the high-water mark.
   */
  send(message: Message): SendResult {
    if (!this.#admit(message)) return "dropped";
    this.#core.send(message);
    this.#scheduleFlush();
    return this.#afterSend();
  }

  /**
   * Sends one fragment of a message streamed in parts (libwebsockets'
   * `LWS_WRITE_NO_FIN` / `LWS_WRITE_CONTINUATION`): the first fragment's
   * type (string: text, bytes: binary) sets the message type and the one
   * with `fin` ends it. Pings may go out between fragments; `send()` throws
   * until the message is finished.
   *
   * @param data The fragment. Bytes are not copied: do not modify them until sent.
   * @param fin Whether this fragment ends the message.
   * @returns As {@link send}.
   */
  sendFragment(data: Message, fin: boolean): SendResult {
    if (!this.#admit(data)) return "dropped";
    this.#core.sendFragment(data, fin);
    this.#fragmenting = !fin;
    if (fin) this.#releaseDeferredShared();
    this.#scheduleFlush();
    return this.#afterSend();
  }

  /**
   * Sends a ping.
   *
   * @param data Up to 125 bytes.
   */
  ping(data: string | Uint8Array = EMPTY): void {
    if (this.#core.readyState !== WsReadyState.OPEN) return;
    this.#core.sendPing(data);
    this.#scheduleFlush();
  }

  /**
   * Sends an unsolicited pong.
   *
   * @param data Up to 125 bytes.
   */
  pong(data: string | Uint8Array = EMPTY): void {
    if (this.#core.readyState !== WsReadyState.OPEN) return;
    this.#core.sendPong(data);
    this.#scheduleFlush();
  }

  /**
   * Starts the closing handshake. The `close` handler runs when it is done
   * (or after `closeTimeout`, when the connection is destroyed).
   *
   * @param code 1000 (default), another code valid on the wire, or 3000–4999;
   *   1005 ("no status") sends a close frame without a code (and so without a reason).
   * @param reason At most 123 bytes of UTF-8.
   */
  close(code = 1000, reason = ""): void {
    if (this.#closeInfo || this.#core.closeSent !== undefined) return;
    if (this.#core.readyState === WsReadyState.CLOSED) return;
    this.#core.sendClose(code === 1005 ? undefined : code, reason);
    this.#timers.armClose();
    this.#scheduleFlush();
  }

  /** Destroys the transport now, without a closing handshake. */
  terminate(): void {
    this.#transport.destroy();
  }

  /** Stops reading from the socket (receive flow control); the peer feels TCP backpressure. */
  pause(): void {
    this.#paused = true;
    this.#transport.pause();
  }

  /** Resumes reading. */
  resume(): void {
    this.#paused = false;
    if (!this.#inbox?.full) this.#transport.resume();
  }

  /**
   * Asks for a `drain` call as soon as the connection can take more data:
   * at once (in a microtask) when the buffer is below the high-water mark,
   * else when it falls below it.
   */
  requestWritable(): void {
    this.#writableRequested = true;
    if (this.bufferedAmount < this.#policy.highWaterMark) queueMicrotask(() => this.#maybeDrain());
  }

  /**
   * Whether a message (or `size` more bytes) may be queued: the connection is open and
   * stays under `maxBufferedAmount` (else it is closed with 1008).
   */
  #admit(message: Message | number): boolean {
    if (this.#core.readyState !== WsReadyState.OPEN || this.#closeInfo) return false;
    const room = this.#policy.maxBufferedAmount - this.bufferedAmount;
    if (typeof message === "number" ? message > room : !fits(message, room)) {
      this.close(1008, "send buffer limit exceeded");
      return false;
    }
    return true;
  }

  /** What a queued send reports: backpressure above the high-water mark. */
  #afterSend(): SendResult {
    if (this.bufferedAmount < this.#policy.highWaterMark) return "ok";
    this.#backpressured = true;
    return "backpressure";
  }

  // --- topics (server connections) ---

  /**
   * Subscribes this connection to a topic: `server.publish(topic, ...)`
   * then reaches it, until {@link unsubscribe} or the connection closes.
   * Does nothing once the connection is closed.
   *
   * @param topic Any string.
   * @throws InvalidStateError on a client connection (topics belong to a server).
   */
  subscribe(topic: string): void;
  /**
   * Subscribes this connection to a topic and first replays the messages
   * of the topic's history after `since`, the id of the last one the
   * client saw (a client coming back after a disconnection): the replay,
   * then the live messages, in order and without duplicates. Needs a
   * pub/sub engine with history (`wsport/redis`'s `history` option).
   *
   * @param topic Any string.
   * @param options `since`: the last id the client received.
   * @returns Once the replay is queued: `"recovered"` (with the count),
   *   `"gap"` (the history no longer reaches back to `since`: nothing was
   *   replayed, tell the client to reload) or `"unavailable"`.
   * @throws InvalidStateError on a client connection.
   */
  subscribe(topic: string, options: SubscribeOptions): Promise<Recovery>;
  subscribe(topic: string, options?: SubscribeOptions): void | Promise<Recovery> {
    if (this.#topics === undefined) throw new InvalidStateError("topics are a server feature: a client connection cannot subscribe");
    if (options === undefined) {
      if (this.#closeInfo === undefined) this.#topics.subscribe(this, topic);
      return;
    }
    if (this.#closeInfo !== undefined || this.#recover === undefined) {
      const error = new PubSubError("WS_ERR_PUBSUB_UNAVAILABLE", "the connection is closed", { target: topic });
      return Promise.resolve({ type: "unavailable", error });
    }
    if (!isStreamId(options.since)) {
      // A malformed id from a client: a gap (reload) after subscribing, as for an id the history never had.
      this.#topics.subscribe(this, topic);
      return Promise.resolve({ type: "gap" });
    }
    return this.#recover(this, topic, options.since);
  }

  /**
   * Unsubscribes this connection from a topic.
   *
   * @param topic A topic it may have subscribed to.
   */
  unsubscribe(topic: string): void {
    this.#topics?.unsubscribe(this, topic);
  }

  /**
   * Whether this connection is subscribed to a topic.
   *
   * @param topic The topic.
   * @returns True when subscribed.
   */
  isSubscribed(topic: string): boolean {
    return this.#topics?.isSubscribed(this, topic) ?? false;
  }

  /** The topics this connection is subscribed to (empty once it is closed). */
  get subscriptions(): string[] {
    return this.#topics?.topicsOf(this) ?? [];
  }

  // --- the application's timeout ---

  /**
   * Closes the connection if it is still open after `ms` (libwebsockets'
   * `lws_set_timeout`): the `error` handler first receives a
   * `WebSocketError` with code `"WS_ERR_TIMEOUT"` and `reason` as its
   * message, then the connection is closed with `code` and `reason` (and
   * destroyed after `closeTimeout` if the peer does not answer), and
   * {@link timeoutReason} tells the `close` handler why. One timeout per
   * connection: starting another replaces it.
   *
   * The default code is 1008 (policy violation): the peer did not do in
   * time what this application requires, which is not the server "going
   * away" (1001, kept for the idle timeout and shutdown).
   *
   * @param ms Milliseconds from now (on the server's clock).
   * @param reason Why, as sent in the close frame: at most 123 bytes of UTF-8.
   * @param code The close code to send. Default 1008.
   * @throws RangeError for a negative or non-finite `ms`, a code that cannot be sent, or a reason too long.
   */
  startTimeout(ms: number, reason: string, code: number = DEFAULT_TIMEOUT_CLOSE_CODE): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`invalid timeout ${ms}`);
    // Checked now: a bad code or reason must fail the caller, not the timer callback later.
    if (!isValidWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
    if (encoder.encode(reason).length > MAX_CLOSE_REASON_BYTES) throw new RangeError("timeout reason is longer than 123 bytes");
    this.#timers.startApp(ms, reason, code);
  }

  /** Cancels the timeout started by {@link startTimeout}, if any. */
  cancelTimeout(): void {
    this.#timers.cancelApp();
  }

  /** The reason of the {@link startTimeout} that expired and closed this connection, if one did. */
  get timeoutReason(): string | undefined {
    return this.#timeoutReason;
  }

  /** @internal The application's timeout expired. */
  [kTimedOut](reason: string, code: number): void {
    // A connection already closing is finished by its close timer.
    if (this.#closeInfo || this.#core.readyState !== WsReadyState.OPEN) return;
    this.#timeoutReason = reason;
    this.#call("error", () => this.#handlers.error?.(this, new WebSocketError("WS_ERR_TIMEOUT", reason)));
    this.close(code, reason);
  }

  // --- async iteration ---

  /**
   * Yields messages until the connection closes (only when there is no
   * `message` handler). Reading pauses the socket when 64 messages are waiting.
   *
   * @returns An iterator of messages.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: () => {
        const inbox = (this.#inbox ??= new MessageInbox());
        const waiting = inbox.size;
        const next = inbox.next(this.#closeInfo !== undefined);
        if (inbox.size < waiting && !inbox.full && !this.#paused) this.#transport.resume();
        return next;
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // --- driving (internal) ---

  /** @internal Bytes arrived. */
  [kData](chunk: Uint8Array): void {
    if (this.#closeInfo) return;
    this.#timers.received();
    this.#inRead = true;
    this.#receive(chunk);
    this.#inRead = false;
    this.#flush();
  }

  /**
   * Hands the events of received bytes to the handlers one at a time: the
   * core looks at the next frame only once the handlers of the previous
   * event have run, so their replies are queued before the close frame a
   * later bad frame (or close) in the same read makes the core queue. The
   * whole read still leaves in one write.
   */
  #receive(chunk: Uint8Array): void {
    // The array shared by every connection, unless a handler made a transport deliver again inside this loop.
    const events = stepEvents.length === 0 ? stepEvents : [];
    for (this.#core.receiveNext(chunk, events); events.length > 0; this.#core.receiveNext(EMPTY, events)) {
      this.#dispatch(events);
      if (this.#closeInfo) break;
    }
    events.length = 0;
  }

  /** @internal The transport flushed. */
  [kDrain](): void {
    this.#maybeDrain();
  }

  /** @internal The peer half-closed. */
  [kEnd](): void {
    this.#dispatch(this.#core.receiveEof());
    this.#flush();
  }

  /** @internal The transport closed. */
  [kClose](): void {
    if (this.#closeInfo) return;
    this.#timers.clear();
    this.#core.dispose();
    if (this.#core.readyState !== WsReadyState.CLOSED) this.#dispatch(this.#core.receiveEof());
    const received = this.#core.closeReceived;
    const info: CloseInfo = received
      ? { code: received.code, reason: received.reason, wasClean: this.#core.closeSent !== undefined }
      : { code: 1006, reason: "", wasClean: false };
    this.#closeInfo = info;
    this.#shared?.clear();
    this.#topics?.removeSubscriber(this);
    if (this.#opened) this.#call("close", () => this.#handlers.close?.(this, info.code, info.reason));
    this.#inbox?.end();
    this.#resolveClosed?.(info);
    this.#onClosed?.(this);
  }

  /**
   * @internal Queues a frame encoded once for many connections, in order
   * with this connection's other output, with the limits {@link send}
   * applies (so a receiver over `maxBufferedAmount` is closed with 1008
   * and the others are not affected).
   */
  [kSendShared](frame: SharedFrame): SendResult {
    if (!this.#fragmenting && this.#encodesItself()) return this.send(frame.message);
    if (!this.#admit(frame.size)) return "dropped";
    const shared = (this.#shared ??= new SharedQueue());
    // No other data frame may come between the fragments of a message (RFC 6455 5.4): it waits for the last one.
    if (this.#fragmenting) shared.defer(frame);
    else {
      shared.queue(this.#core, frame.chunks);
      this.#scheduleFlush();
    }
    return this.#afterSend();
  }

  /**
   * Whether this connection must encode shared messages itself: negotiated
   * extensions transform each message per connection, and client frames
   * are masked per frame.
   */
  #encodesItself(): boolean {
    return this.extensions !== "" || this.#core.side !== "server" || this.#core.extensions.length > 0;
  }

  /** The fragmented message is finished: the shared frames that waited for it follow it. */
  #releaseDeferredShared(): void {
    const shared = this.#shared;
    if (shared === undefined) return;
    for (const frame of shared.takeDeferred()) {
      if (this.#encodesItself()) this.send(frame.message);
      else shared.queue(this.#core, frame.chunks);
    }
  }

  /**
   * @internal Called by the service once the handshake is done: the `open`
   * handler runs, then the events of bytes that came with the handshake
   * (still unparsed in the core, or already parsed in `events`).
   */
  open(events: WsEvent[] = []): void {
    this.#opened = true;
    this.#timers.start();
    this.#inRead = true;
    this.#call("open", () => this.#handlers.open?.(this));
    this.#dispatch(events);
    if (!this.#closeInfo) this.#receive(EMPTY);
    this.#inRead = false;
    this.#flush();
  }

  #dispatch(events: WsEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case "text":
        case "binary":
          this.#deliver(event.data);
          break;
        case "chunk":
          this.#call("chunk", () => this.#handlers.chunk?.(this, event.data, event));
          break;
        case "ping":
          this.#call("ping", () => this.#handlers.ping?.(this, event.data));
          break;
        case "pong":
          this.#timers.pongReceived();
          this.#call("pong", () => this.#handlers.pong?.(this, event.data));
          break;
        case "close":
          if (event.wasClean) this.#timers.armClose();
          break;
        case "error":
          this.#error = event.error;
          this.#timers.armClose();
          this.#call("error", () => this.#handlers.error?.(this, event.error));
          break;
        default:
          break; // handshake events are the services' business
      }
    }
  }

  #deliver(message: Message): void {
    const handler = this.#handlers.message;
    if (handler) {
      this.#call("message", () => handler(this, message));
      return;
    }
    if ((this.#inbox ??= new MessageInbox()).push(message)) this.#transport.pause();
  }

  /** Runs a user handler; an exception is reported to `error` and closes the connection with 1011. */
  #call(name: string, fn: () => void): void {
    try {
      fn();
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      if (name !== "error") {
        try {
          this.#handlers.error?.(this, error);
        } catch {
          // An error handler that throws has nowhere left to report to.
        }
      }
      if (this.#core.readyState === WsReadyState.OPEN) this.close(1011, "internal error");
    }
  }

  #scheduleFlush(): void {
    if (this.#inRead || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Writes everything the core queued (after the shared frames and what preceded them) in one batch. */
  #flush(): void {
    const items = this.#core.dataToSend();
    const eof = writeOutgoing(this.#shared ? this.#shared.drain(items) : items, this.#transport);
    if (eof || this.#core.closeExpected()) this.#timers.armClose();
    if (this.#core.pendingWork !== undefined) this.#awaitExtensions();
    // The transport may have taken everything at once and will then never report a drain:
    // the backpressure that was our own queue is gone now.
    if (this.#backpressured && !this.#inRead) this.#maybeDrain();
  }

  /**
   * An asynchronous extension (a native codec) is working: reading stops
   * while a received frame decodes, and what it produced is picked up when
   * it finishes.
   */
  #awaitExtensions(): void {
    const work = this.#core.pendingWork;
    if (work === undefined || this.#awaitingExtensions) return;
    this.#awaitingExtensions = true;
    if (this.#core.receiveBlocked) this.#transport.pause();
    work.then(() => {
      this.#awaitingExtensions = false;
      if (this.#closeInfo) return;
      this.#inRead = true;
      this.#receive(EMPTY);
      this.#inRead = false;
      if (!this.#core.receiveBlocked && !this.#paused && !this.#inbox?.full) this.#transport.resume();
      this.#flush();
      this.#maybeDrain();
    });
  }

  #maybeDrain(): void {
    if (this.#closeInfo || this.bufferedAmount >= this.#policy.highWaterMark) return;
    if (!this.#backpressured && !this.#writableRequested) return;
    this.#backpressured = false;
    this.#writableRequested = false;
    this.#call("drain", () => this.#handlers.drain?.(this));
  }
}
