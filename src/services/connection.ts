/**
 * An open WebSocket connection over a {@link Transport}: the object your
 * handlers receive, on the server and the client alike. It drives the
 * sans-IO {@link WebSocketProtocol}, batches output (one write per read and per
 * tick), accounts for backpressure and runs the close, keepalive and idle
 * timers.
 *
 * @module
 */

import { type Clock, systemClock, type Timer } from "./clock.ts";
import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from "../core/close_code.ts";
import { type WebSocketProtocol, type OutgoingData, ReadyState, SEND_EOF } from "../core/protocol.ts";
import { InvalidStateError, type ProtocolError, WebSocketError } from "../core/errors.ts";
import type { WsEvent } from "../core/events.ts";
import type { SharedFrame } from "./broadcast.ts";
import type { TopicRegistry } from "./topics.ts";
import type { Transport } from "../transport/transport.ts";
import { writeOutgoing } from "./write_outgoing.ts";

/** A message: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/**
 * What `send` did: `"ok"` queued and below the high-water mark;
 * `"backpressure"` queued, but the buffer is above the high-water mark
 * (wait for `drain`); `"dropped"` not sent (the connection is not open, or
 * the hard limit was hit and the connection is being closed with 1008).
 */
export type SendResult = "ok" | "backpressure" | "dropped";

/** What a streamed piece of a message is: see {@link Handlers.chunk}. */
export interface ChunkInfo {
  messageType: "text" | "binary";
  /** Payload bytes of the current frame still to come. */
  frameRemaining: number;
  /** True on the message's last piece. */
  last: boolean;
}

/** Event handlers of a connection; all optional. `this` is not used. */
export interface Handlers<Data = unknown> {
  /** The connection is open. */
  open?(ws: WebSocketConnection<Data>): void;
  /** A complete message: a string for text, bytes for binary. */
  message?(ws: WebSocketConnection<Data>, message: Message): void;
  /**
   * Streaming receive (libwebsockets' `remaining_packet_payload`): with
   * this handler, messages are not buffered; each piece is handed over as
   * it arrives, with the bytes left in its frame and whether it ends the
   * message. `message` is then not called.
   */
  chunk?(ws: WebSocketConnection<Data>, data: Uint8Array, info: ChunkInfo): void;
  /** A ping arrived (the pong is already sent). */
  ping?(ws: WebSocketConnection<Data>, data: Uint8Array): void;
  /** A pong arrived. */
  pong?(ws: WebSocketConnection<Data>, data: Uint8Array): void;
  /** The send buffer fell back below the high-water mark, or a writable callback was requested. */
  drain?(ws: WebSocketConnection<Data>): void;
  /** The connection is closed: the peer's close code (1005 if none, 1006 if no close frame arrived). */
  close?(ws: WebSocketConnection<Data>, code: number, reason: string): void;
  /** A protocol error from the peer, or an exception thrown by a handler. */
  error?(ws: WebSocketConnection<Data>, error: Error): void;
}

/** Timing and buffering policy of a connection. */
export interface ConnectionPolicy {
  /** Time source for every timer. Default: the system clock. */
  clock: Clock;
  /** Buffered outgoing bytes above which `send` reports `"backpressure"`. Default 1 MiB. */
  highWaterMark: number;
  /** Buffered outgoing bytes above which a send is dropped and the connection closed with 1008. Default 64 MiB. */
  maxBufferedAmount: number;
  /** How long to wait for the closing handshake and the TCP close before destroying, ms. Default 5000. */
  closeTimeout: number;
  /** Close (1001) after this long without receiving anything, ms; 0 disables. Default 0. */
  idleTimeout: number;
  /** Send a ping after this long, ms; 0 disables keepalive. Default 30000. */
  pingInterval: number;
  /** Close (1011) when the pong has not arrived after this long, ms. Default 30000. */
  pongTimeout: number;
}

/** Defaults of {@link ConnectionPolicy}, except the clock. */
export const DEFAULT_POLICY: Readonly<Omit<ConnectionPolicy, "clock">> = {
  highWaterMark: 1024 * 1024,
  maxBufferedAmount: 64 * 1024 * 1024,
  closeTimeout: 5000,
  idleTimeout: 0,
  pingInterval: 30000,
  pongTimeout: 30000,
};

/**
 * Fills in the defaults of a partial policy.
 *
 * @param options Any subset of the policy.
 * @returns A complete policy.
 * @example
 * ```ts
 * resolvePolicy({ pingInterval: 0 }).closeTimeout; // 5000
 * ```
 */
export function resolvePolicy(options: Partial<ConnectionPolicy> = {}): ConnectionPolicy {
  return {
    clock: options.clock ?? systemClock,
    highWaterMark: options.highWaterMark ?? DEFAULT_POLICY.highWaterMark,
    maxBufferedAmount: options.maxBufferedAmount ?? DEFAULT_POLICY.maxBufferedAmount,
    closeTimeout: options.closeTimeout ?? DEFAULT_POLICY.closeTimeout,
    idleTimeout: options.idleTimeout ?? DEFAULT_POLICY.idleTimeout,
    pingInterval: options.pingInterval ?? DEFAULT_POLICY.pingInterval,
    pongTimeout: options.pongTimeout ?? DEFAULT_POLICY.pongTimeout,
  };
}

/** How a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** True when the closing handshake completed. */
  wasClean: boolean;
}

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
  #handlers: Handlers<Data>;

  #inRead = false;
  #flushScheduled = false;
  #backpressured = false;
  #writableRequested = false;
  #paused = false;
  #awaitingExtensions = false;
  #error: ProtocolError | undefined;
  #closeInfo: CloseInfo | undefined;
  // Made on first use of `closed`: most connections never ask, and a promise per idle connection adds up.
  #closedPromise: Promise<CloseInfo> | undefined;
  #resolveClosed: ((info: CloseInfo) => void) | undefined;
  #onClosed: ((ws: WebSocketConnection<any>) => void) | undefined;
  #opened = false;

  #closeTimer: Timer | undefined;
  #keepaliveTimer: Timer | undefined;
  #idleTimer: Timer | undefined;
  #lastReceived = 0;
  #awaitingPong = false;
  // The application's own timeout (startTimeout), and the reason of the one that expired.
  #appTimer: Timer | undefined;
  #timeoutReason: string | undefined;

  // Output taken from the core to keep its order ahead of shared frames queued after it; made on first broadcast.
  #pending: OutgoingData[] | undefined;
  #pendingBytes = 0;
  // A fragmented message is being sent (sendFragment): shared frames wait in #deferred until its last fragment.
  #fragmenting = false;
  #deferred: SharedFrame[] | undefined;
  #deferredBytes = 0;
  // The server's topic subscriptions (undefined on client connections, which cannot subscribe).
  readonly #topics: TopicRegistry<WebSocketConnection<any>> | undefined;

  // Messages kept for the async iterator when there is no message handler.
  #inbox: Message[] = [];
  #waiting: ((result: IteratorResult<Message>) => void) | undefined;

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
    this.#lastReceived = init.policy.clock.now();
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
  get readyState(): ReadyState {
    return this.#closeInfo ? ReadyState.CLOSED : this.#core.readyState;
  }

  /** Bytes queued for sending and not yet handed to the OS. */
  get bufferedAmount(): number {
    return this.#core.bufferedAmount + this.#pendingBytes + this.#deferredBytes + this.#transport.bufferedAmount;
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
    if (this.#core.readyState !== ReadyState.OPEN || this.#closeInfo) return "dropped";
    const size = typeof message === "string" ? message.length : message.length;
    if (this.bufferedAmount + size > this.#policy.maxBufferedAmount) {
      this.close(1008, "send buffer limit exceeded");
      return "dropped";
    }
    this.#core.send(message);
    this.#scheduleFlush();
    if (this.bufferedAmount >= this.#policy.highWaterMark) {
      this.#backpressured = true;
      return "backpressure";
    }
    return "ok";
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
    if (this.#core.readyState !== ReadyState.OPEN || this.#closeInfo) return "dropped";
    if (this.bufferedAmount + data.length > this.#policy.maxBufferedAmount) {
      this.close(1008, "send buffer limit exceeded");
      return "dropped";
    }
    this.#core.sendFragment(data, fin);
    this.#fragmenting = !fin;
    if (fin) this.#releaseDeferredShared();
    this.#scheduleFlush();
    if (this.bufferedAmount >= this.#policy.highWaterMark) {
      this.#backpressured = true;
      return "backpressure";
    }
    return "ok";
  }

  /**
   * Sends a ping.
   *
   * @param data Up to 125 bytes.
   */
  ping(data: string | Uint8Array = new Uint8Array(0)): void {
    if (this.#core.readyState !== ReadyState.OPEN) return;
    this.#core.sendPing(data);
    this.#scheduleFlush();
  }

  /**
   * Sends an unsolicited pong.
   *
   * @param data Up to 125 bytes.
   */
  pong(data: string | Uint8Array = new Uint8Array(0)): void {
    if (this.#core.readyState !== ReadyState.OPEN) return;
    this.#core.sendPong(data);
    this.#scheduleFlush();
  }

  /**
   * Starts the closing handshake. The `close` handler runs when it is done
   * (or after `closeTimeout`, when the connection is destroyed).
   *
   * @param code 1000 (default), another code valid on the wire, or 3000–4999.
   * @param reason At most 123 bytes of UTF-8.
   */
  close(code = 1000, reason = ""): void {
    if (this.#closeInfo || this.#core.closeSent !== undefined) return;
    if (this.#core.readyState === ReadyState.CLOSED) return;
    this.#core.sendClose(code, reason);
    this.#armCloseTimer();
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
    if (this.#inbox.length < INBOX_PAUSE_AT) this.#transport.resume();
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

  // --- topics (server connections) ---

  /**
   * Subscribes this connection to a topic: `server.publish(topic, ...)`
   * then reaches it, until {@link unsubscribe} or the connection closes.
   * Does nothing once the connection is closed.
   *
   * @param topic Any string.
   * @throws InvalidStateError on a client connection (topics belong to a server).
   */
  subscribe(topic: string): void {
    const topics = this.#serverTopics();
    if (this.#closeInfo === undefined) topics.subscribe(this, topic);
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

  #serverTopics(): TopicRegistry<WebSocketConnection<any>> {
    if (this.#topics === undefined) throw new InvalidStateError("topics are a server feature: a client connection cannot subscribe");
    return this.#topics;
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
    this.cancelTimeout();
    if (this.#closeInfo) return;
    this.#appTimer = this.#policy.clock.setTimer(ms, () => this.#onAppTimeout(reason, code));
  }

  /** Cancels the timeout started by {@link startTimeout}, if any. */
  cancelTimeout(): void {
    this.#appTimer?.cancel();
    this.#appTimer = undefined;
  }

  /** The reason of the {@link startTimeout} that expired and closed this connection, if one did. */
  get timeoutReason(): string | undefined {
    return this.#timeoutReason;
  }

  #onAppTimeout(reason: string, code: number): void {
    this.#appTimer = undefined;
    // A connection already closing is finished by its close timer.
    if (this.#closeInfo || this.#core.readyState !== ReadyState.OPEN) return;
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
        const message = this.#inbox.shift();
        if (message !== undefined) {
          if (this.#inbox.length < INBOX_PAUSE_AT && !this.#paused) this.#transport.resume();
          return Promise.resolve({ value: message, done: false });
        }
        if (this.#closeInfo) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiting = resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // --- driving (internal) ---

  /** @internal Replaces the handlers (the client's open happens before the user attaches them). */
  setHandlers(handlers: Handlers<Data>): void {
    this.#handlers = handlers;
  }

  /** @internal Bytes arrived. */
  [kData](chunk: Uint8Array): void {
    this.#onData(chunk);
  }

  /** @internal The transport flushed. */
  [kDrain](): void {
    this.#maybeDrain();
  }

  /** @internal The peer half-closed. */
  [kEnd](): void {
    this.#onEnd();
  }

  /** @internal The transport closed. */
  [kClose](): void {
    this.#onClose();
  }

  /**
   * @internal Queues a frame encoded once for many connections, in order
   * with this connection's other output, with the limits {@link send}
   * applies (so a receiver over `maxBufferedAmount` is closed with 1008
   * and the others are not affected).
   */
  [kSendShared](frame: SharedFrame): SendResult {
    if (this.#fragmenting) {
      // No other data frame may come between the fragments of a message (RFC 6455 5.4): it waits for the last one.
      if (this.#core.readyState !== ReadyState.OPEN || this.#closeInfo) return "dropped";
      if (this.bufferedAmount + frame.size > this.#policy.maxBufferedAmount) {
        this.close(1008, "send buffer limit exceeded");
        return "dropped";
      }
      (this.#deferred ??= []).push(frame);
      this.#deferredBytes += frame.size;
    } else {
      if (this.#encodesItself()) return this.send(frame.message);
      if (this.#core.readyState !== ReadyState.OPEN || this.#closeInfo) return "dropped";
      if (this.bufferedAmount + frame.size > this.#policy.maxBufferedAmount) {
        this.close(1008, "send buffer limit exceeded");
        return "dropped";
      }
      this.#queueShared(frame.chunks);
      this.#scheduleFlush();
    }
    if (this.bufferedAmount >= this.#policy.highWaterMark) {
      this.#backpressured = true;
      return "backpressure";
    }
    return "ok";
  }

  /** Queues shared chunks behind what the core already queued (taken out of the core to keep that order). */
  #queueShared(chunks: readonly Uint8Array[]): void {
    const pending = (this.#pending ??= []);
    if (this.#core.bufferedAmount > 0) {
      for (const item of this.#core.dataToSend()) {
        pending.push(item);
        if (item !== SEND_EOF) this.#pendingBytes += item.length;
      }
    }
    for (const chunk of chunks) {
      pending.push(chunk);
      this.#pendingBytes += chunk.length;
    }
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
    const deferred = this.#deferred;
    if (deferred === undefined) return;
    this.#deferred = undefined;
    this.#deferredBytes = 0;
    for (const frame of deferred) {
      if (this.#encodesItself()) this.send(frame.message);
      else this.#queueShared(frame.chunks);
    }
  }

  /** @internal Called by the service once the handshake is done, with events that came with it. */
  open(events: WsEvent[] = []): void {
    this.#opened = true;
    this.#startKeepalive();
    this.#startIdleTimer();
    this.#inRead = true;
    this.#call("open", () => this.#handlers.open?.(this));
    this.#dispatch(events);
    this.#inRead = false;
    this.#flush();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closeInfo) return;
    this.#lastReceived = this.#policy.clock.now();
    this.#inRead = true;
    this.#dispatch(this.#core.receiveData(chunk));
    this.#inRead = false;
    this.#flush();
  }

  #onEnd(): void {
    this.#dispatch(this.#core.receiveEof());
    this.#flush();
  }

  #onClose(): void {
    if (this.#closeInfo) return;
    this.#clearTimers();
    this.#core.dispose();
    if (this.#core.readyState !== ReadyState.CLOSED) this.#dispatch(this.#core.receiveEof());
    const received = this.#core.closeReceived;
    const info: CloseInfo = received
      ? { code: received.code, reason: received.reason, wasClean: this.#core.closeSent !== undefined }
      : { code: 1006, reason: "", wasClean: false };
    this.#closeInfo = info;
    this.#pending = undefined;
    this.#deferred = undefined;
    this.#pendingBytes = 0;
    this.#deferredBytes = 0;
    this.#topics?.removeSubscriber(this);
    if (this.#opened) this.#call("close", () => this.#handlers.close?.(this, info.code, info.reason));
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = undefined;
    this.#resolveClosed?.(info);
    this.#onClosed?.(this);
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
          this.#onPong();
          this.#call("pong", () => this.#handlers.pong?.(this, event.data));
          break;
        case "close":
          if (event.wasClean) this.#armCloseTimer();
          break;
        case "error":
          this.#error = event.error;
          this.#armCloseTimer();
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
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: message, done: false });
      return;
    }
    this.#inbox.push(message);
    if (this.#inbox.length >= INBOX_PAUSE_AT) this.#transport.pause();
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
      if (this.#core.readyState === ReadyState.OPEN) this.close(1011, "internal error");
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
    let items = this.#core.dataToSend();
    const pending = this.#pending;
    if (pending !== undefined && pending.length > 0) {
      for (const item of items) pending.push(item);
      items = pending;
      this.#pending = undefined;
      this.#pendingBytes = 0;
    }
    const eof = writeOutgoing(items, this.#transport);
    if (eof || this.#core.closeExpected()) this.#armCloseTimer();
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
      this.#dispatch(this.#core.receiveData(EMPTY));
      this.#inRead = false;
      if (!this.#core.receiveBlocked && !this.#paused && this.#inbox.length < INBOX_PAUSE_AT) this.#transport.resume();
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

  // --- timers ---

  #armCloseTimer(): void {
    if (this.#closeTimer || this.#closeInfo) return;
    this.#closeTimer = this.#policy.clock.setTimer(this.#policy.closeTimeout, () => this.#transport.destroy());
  }

  #startKeepalive(): void {
    const { pingInterval, clock } = this.#policy;
    if (pingInterval <= 0) return;
    this.#keepaliveTimer = clock.setTimer(pingInterval, () => this.#sendKeepalivePing());
  }

  #sendKeepalivePing(): void {
    if (this.#core.readyState !== ReadyState.OPEN) return;
    // Quiet for a whole interval: let extensions free what they can rebuild (a compressor).
    if (this.#policy.clock.now() - this.#lastReceived >= this.#policy.pingInterval) this.#core.idle();
    this.#awaitingPong = true;
    this.ping();
    this.#keepaliveTimer = this.#policy.clock.setTimer(this.#policy.pongTimeout, () => {
      if (this.#awaitingPong) this.close(1011, "keepalive ping timeout");
    });
  }

  #onPong(): void {
    if (!this.#awaitingPong) return;
    this.#awaitingPong = false;
    this.#keepaliveTimer?.cancel();
    this.#startKeepalive();
  }

  #startIdleTimer(): void {
    const { idleTimeout, clock } = this.#policy;
    if (idleTimeout <= 0) return;
    // One timer, re-armed lazily: cheaper than resetting a timer on every read.
    const due = this.#lastReceived + idleTimeout - clock.now();
    this.#idleTimer = clock.setTimer(Math.max(0, due), () => {
      if (clock.now() - this.#lastReceived >= idleTimeout) this.close(1001, "idle timeout");
      else this.#startIdleTimer();
    });
  }

  #clearTimers(): void {
    this.#appTimer?.cancel();
    this.#closeTimer?.cancel();
    this.#keepaliveTimer?.cancel();
    this.#idleTimer?.cancel();
  }
}

/** Waiting messages (for the async iterator) at which reading pauses. */
const INBOX_PAUSE_AT = 64;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
