/**
 * One server connection while it speaks HTTP/1.1: requests are read under
 * the head timeout, plain ones are answered one after another (pipelined
 * ones in order) and the connection is kept between them under the
 * keep-alive timeout; a request asking for the WebSocket upgrade is
 * decided, after which every transport event goes to the
 * {@link WebSocketConnection}.
 *
 * @module
 */

import type { WsEvent } from "../core/events.ts";
import type { HandshakeRequest } from "../core/handshake.ts";
import type { HttpServerProtocol } from "../core/http/connection.ts";
import type { HttpEvent } from "../core/http/events.ts";
import type { HttpRequest } from "../core/http/framing.ts";
import type { ServerProtocol } from "../core/server_protocol.ts";
import type { PeerInfo, Transport, TransportEvents } from "../transport/transport.ts";
import type { Clock, Timer } from "./clock.ts";
import { kClose, kData, kDrain, kEnd, type WebSocketConnection } from "./connection.ts";
import { type ExchangeHost, HttpExchange, type HttpService } from "./http_exchange.ts";
import { type Opening, peerOf } from "./opening.ts";
import { writeOutgoing } from "./write_outgoing.ts";

/** What an {@link HttpConnection} needs from its server: made once per server. */
export interface ConnectionHooks {
  clock: Clock;
  closeTimeout: number;
  /** Bytes buffered for the socket above which a streamed answer waits for `drain`. */
  highWaterMark: number;
  /** Time to receive a request head, ms. */
  headTimeout: number;
  /** Time a connection may stay idle between requests, ms. */
  keepAliveTimeout: number;
  /** Plain HTTP, when the server has `fetch`. */
  service: HttpService | undefined;
  /** Routes, filters and accepts an upgrade (attaching and opening the connection), or refuses it (the answer is queued). */
  decide(connection: HttpConnection, request: HandshakeRequest): Promise<WebSocketConnection<any> | undefined>;
  upgraded(connection: HttpConnection): void;
  closed(connection: HttpConnection): void;
}

/** Pipelined bytes buffered behind the request being answered before the socket is paused. */
const PIPELINE_LIMIT = 64 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * One connection's HTTP phase. One object per connection, rather than a
 * set of closures: idle keep-alive connections are many.
 */
export class HttpConnection implements TransportEvents, ExchangeHost, Opening {
  /** The WebSocket connection, once upgraded: every transport event goes to it. */
  ws: WebSocketConnection<any> | undefined;
  closed = false;
  #exchange: HttpExchange | undefined;
  #timer: Timer | undefined;
  #timerKind: "head" | "idle" | "close" | undefined;
  #pausedForBody = false;
  #pausedForPipeline = false;
  #paused = false;
  #writers: ((ok: boolean) => void)[] | undefined;
  #depth = 0; // nesting of #handle: events are handled in order, one batch at a time
  #parseAgain = false;
  #upgrading = false;
  #onClosed: (() => void) | undefined;

  constructor(
    readonly hooks: ConnectionHooks,
    readonly transport: Transport,
    readonly core: ServerProtocol,
    peer: PeerInfo | undefined,
  ) {
    this.#peer = peer;
  }

  // Read from the transport the first time a hook asks (its address costs a system call and a string per connection).
  #peer: PeerInfo | undefined;

  /** Who is connecting, read from the transport the first time a hook asks (while it is open). */
  get peer(): PeerInfo {
    return (this.#peer ??= peerOf(this.transport));
  }

  /** Starts reading, with the head timeout running. */
  start(): void {
    this.#arm("head", this.hooks.headTimeout);
    this.transport.start(this);
  }

  /** The HTTP state machine (only while the connection speaks HTTP). */
  get http(): HttpServerProtocol {
    return this.core.http!;
  }

  /** The server's plain-HTTP service (only with `fetch`). */
  get service(): HttpService {
    return this.hooks.service!;
  }

  /** Resolves when the transport is closed. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onClosed;
      this.#onClosed = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * Server shutdown: an idle connection (or one still sending its head) is
   * closed now; an exchange in progress finishes with `Connection: close`.
   */
  shutdown(): void {
    if (this.ws !== undefined || this.closed) return;
    const http = this.core.http;
    if (this.#exchange === undefined || http === undefined) return this.transport.destroy();
    http.closeAfterResponse();
  }

  // --- TransportEvents ---

  data(chunk: Uint8Array): void {
    if (this.ws) return this.ws[kData](chunk);
    this.#handle(this.core.receiveData(chunk));
  }

  drain(): void {
    if (this.ws) return this.ws[kDrain]();
    this.#wakeWriters();
  }

  end(): void {
    if (this.ws) return this.ws[kEnd]();
    this.#handle(this.core.receiveEof());
  }

  close(): void {
    this.closed = true;
    this.#stopTimer();
    this.#wakeWriters();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.abort();
    this.hooks.closed(this);
    this.ws?.[kClose]();
    this.#onClosed?.();
  }

  // --- ExchangeHost ---

  handle(events: HttpEvent[]): void {
    this.#handle(events);
  }

  flush(): void {
    // Refused or the last answer: the client gets closeTimeout to close its end.
    if (writeOutgoing(this.core.dataToSend(), this.transport)) this.#arm("close", this.hooks.closeTimeout);
  }

  writable(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.#below()) return Promise.resolve(true);
    return new Promise((resolve) => (this.#writers ??= []).push(resolve));
  }

  pauseForBody(paused: boolean): void {
    this.#pausedForBody = paused;
    this.#syncPause();
  }

  exchangeDone(exchange: HttpExchange): void {
    if (this.#exchange !== exchange) return;
    this.#exchange = undefined;
    this.#pausedForBody = false;
    this.flush();
    // The next pipelined request may be waiting: read it, in order, outside the handling in progress.
    this.#parseAgain = true;
    if (this.#depth === 0) this.#handle([]);
  }

  // --- the machine ---

  #handle(events: (WsEvent | HttpEvent)[]): void {
    this.#depth++;
    try {
      for (const event of events) this.#dispatch(event);
    } finally {
      this.#depth--;
    }
    if (this.#depth > 0) return;
    while (this.#parseAgain && !this.closed && this.ws === undefined && this.core.http !== undefined) {
      this.#parseAgain = false;
      this.#depth++;
      try {
        for (const event of this.core.receiveData(EMPTY)) this.#dispatch(event);
      } finally {
        this.#depth--;
      }
    }
    this.flush();
    this.#settle();
  }

  #dispatch(event: WsEvent | HttpEvent): void {
    switch (event.type) {
      case "request":
        return this.#upgrade(event.request);
      case "http-request":
        return this.#startExchange(event.request);
      case "http-body":
        return this.#exchange?.body(event.data);
      case "http-end":
        return this.#exchange?.bodyEnd();
      case "http-error":
        return this.#exchange?.protocolError(event.error);
      default:
        return; // "handshake-error": the refusal is queued
    }
  }

  #startExchange(request: HttpRequest): void {
    this.#stopTimer();
    const exchange = new HttpExchange(this, request);
    this.#exchange = exchange;
    exchange.start();
  }

  /** After a batch: the timer that fits the state, and reading paused while pipelined bytes pile up. */
  #settle(): void {
    const http = this.core.http;
    if (this.closed || this.ws !== undefined || this.#upgrading || http === undefined || http.closed) return;
    if (this.#exchange !== undefined) {
      this.#pausedForPipeline = http.bufferedInput > PIPELINE_LIMIT;
    } else {
      this.#pausedForPipeline = false;
      if (http.idle) {
        if (this.hooks.keepAliveTimeout > 0) this.#arm("idle", this.hooks.keepAliveTimeout, true);
      } else {
        this.#arm("head", this.hooks.headTimeout, true);
      }
    }
    this.#syncPause();
  }

  #upgrade(request: HandshakeRequest): void {
    this.#stopTimer();
    this.#upgrading = true;
    void this.hooks.decide(this, request).then((ws) => {
      if (ws === undefined) this.flush();
    }).catch(() => this.transport.destroy()); // a bug in the decision must cost this connection only
  }

  /**
   * The upgrade was accepted: every later transport event goes to `ws`. The
   * server calls it synchronously after accepting and before `ws.open()`, so
   * bytes that arrived behind the request reach the handlers after `open`.
   *
   * @param ws The connection the request was upgraded to.
   */
  attach(ws: WebSocketConnection<any>): void {
    this.ws = ws;
    this.#upgrading = false;
    this.hooks.upgraded(this);
  }

  #syncPause(): void {
    const wanted = this.#pausedForBody || this.#pausedForPipeline;
    if (wanted === this.#paused || this.closed) return;
    this.#paused = wanted;
    if (wanted) this.transport.pause();
    else this.transport.resume();
  }

  #below(): boolean {
    return this.transport.bufferedAmount + this.core.bufferedAmount < this.hooks.highWaterMark;
  }

  #wakeWriters(): void {
    const writers = this.#writers;
    if (writers === undefined || (!this.closed && !this.#below())) return;
    this.#writers = undefined;
    for (const resolve of writers) resolve(!this.closed);
  }

  /** (Re)starts the connection's timer; with `keep`, one of the same kind already running is left alone. */
  #arm(kind: "head" | "idle" | "close", ms: number, keep = false): void {
    if (keep && this.#timerKind === kind) return;
    this.#timer?.cancel();
    this.#timerKind = kind;
    this.#timer = this.hooks.clock.setTimer(ms, () => this.#expired(kind));
  }

  #stopTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerKind = undefined;
  }

  #expired(kind: "head" | "idle" | "close"): void {
    this.#timer = undefined;
    this.#timerKind = undefined;
    const http = this.core.http;
    if (kind === "idle" && http !== undefined && http.idle) {
      // Kept alive long enough: close politely, our side first.
      http.closeAfterResponse();
      this.flush();
      return;
    }
    this.transport.destroy();
  }
}
