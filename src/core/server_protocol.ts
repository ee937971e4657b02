/**
 * The server side of a connection, from its first byte on: HTTP/1.1 (an
 * {@link HttpServerProtocol}, which may serve many plain requests when the
 * `http` option is on) until a request asks for the WebSocket upgrade;
 * after {@link ServerProtocol.accept} it is a {@link WebSocketProtocol}.
 *
 * @module
 */

import { AcceptingProtocol, type ServerAcceptOptions } from "./accepting_protocol.ts";
import { type OutgoingData, type ProtocolOptions, SEND_EOF, WsReadyState } from "./protocol.ts";
import { HandshakeError, type HttpError, InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { acceptResponse, checkRequest, rejectResponse } from "./handshake.ts";
import { hasToken } from "./http/header_values.ts";
import { DEFAULT_MAX_HTTP_BODY_SIZE, HttpServerProtocol } from "./http/connection.ts";
import type { HttpEvent } from "./http/events.ts";
import type { HttpRequest } from "./http/framing.ts";
import type { HeadLimits } from "./http/head.ts";
import type { ResponseHeadInit } from "./http/response.ts";

export { DEFAULT_MAX_HTTP_BODY_SIZE };
export type { ServerAcceptOptions } from "./accepting_protocol.ts";

/** Options of a {@link ServerProtocol}. */
export interface ServerProtocolOptions extends Omit<ProtocolOptions, "extensions"> {
  /** Limits on each request head: size (default 8 KiB) and header count. */
  headLimits?: Partial<HeadLimits>;
  /**
   * Report requests that do not ask for a WebSocket upgrade as
   * `"http-request"` events (answer them through {@link ServerProtocol.http})
   * instead of refusing them with 426. Default false.
   */
  http?: boolean;
  /** Largest plain-HTTP request body when `http.acceptBody()` names none, bytes (413 above). Default 1 MiB. */
  maxHttpBodySize?: number;
  /** Plain requests served on one connection (the last answer closes it). Default 1000. */
  maxRequests?: number;
  /** Whether plain-HTTP connections may persist after an answer. Default true. */
  keepAlive?: boolean;
}

/** A whole plain-HTTP answer for {@link ServerProtocol.respond}. */
export interface HttpResponseInit extends ResponseHeadInit {
  /** Body bytes; `Content-Length` is set to their length. */
  body?: Uint8Array;
}

/**
 * Sans-IO server connection. Feed it bytes; when it reports a `"request"`
 * event, call {@link accept} (or {@link reject}); a bad request yields a
 * `"handshake-error"` event and its HTTP answer is already queued. With
 * the `http` option, other requests come as `"http-request"`,
 * `"http-body"` and `"http-end"` events, answered through {@link http};
 * the upgrade may come on any request of the connection.
 *
 * @example
 * ```ts
 * import { SEND_EOF, ServerProtocol } from "wsport/core";
 *
 * declare const socket: { write(bytes: Uint8Array): void; end(): void }; // yours
 * declare const requestBytes: Uint8Array; // read from it
 * const server = new ServerProtocol();
 * const [event] = server.receiveData(requestBytes);
 * if (event?.type === "request") server.accept({ protocol: "chat" });
 * // dataToSend() is a list: bytes to write, and SEND_EOF where the socket must half-close.
 * for (const item of server.dataToSend()) {
 *   if (item === SEND_EOF) socket.end();
 *   else socket.write(item);
 * }
 * ```
 */
export class ServerProtocol extends AcceptingProtocol {
  // The HTTP connection of the opening phase; let go at the upgrade (idle WebSockets are many).
  #http: HttpServerProtocol | undefined;
  // Bytes after the upgrade request, kept for accept().
  #pending: Uint8Array[] = [];
  readonly #httpMode: boolean;
  #eofPending = false;

  constructor(options: ServerProtocolOptions = {}) {
    super(options);
    this.#http = new HttpServerProtocol({
      headLimits: options.headLimits,
      maxBodySize: options.maxHttpBodySize,
      maxRequests: options.maxRequests,
      keepAlive: options.keepAlive,
    });
    this.#httpMode = options.http ?? false;
  }

  /**
   * The HTTP/1.1 connection of the opening phase, through which plain
   * requests are answered (`acceptBody`, `startResponse`, `sendBody`,
   * `endResponse`...); undefined once a request asked for the upgrade.
   */
  get http(): HttpServerProtocol | undefined {
    return this.#http;
  }

  /**
   * Requests first, then frames (see {@link WebSocketProtocol.receiveNext}).
   * Bytes that follow the upgrade request before `accept()` are kept for it.
   */
  protected override receiveInto(chunk: Uint8Array, events: WsEvent[], step: boolean): void {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveInto(chunk, events, step);
    const http = this.#http;
    if (http === undefined) {
      // The upgrade request is waiting for accept() or reject().
      if (chunk.length > 0) this.#pending.push(chunk);
      return;
    }
    for (const event of this.#fromHttp(http, http.receiveData(chunk))) events.push(event);
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveEof();
    const http = this.#http;
    if (http === undefined) {
      if (this.request !== undefined) this.#eofPending = true; // applied after accept(), behind the bytes that preceded it
      return [];
    }
    return this.#fromHttp(http, http.receiveEof());
  }

  override dataToSend(): OutgoingData[] {
    const mine = super.dataToSend();
    const http = this.#http;
    if (http === undefined) return mine;
    const first = http.dataToSend();
    if (first.length === 0) return mine;
    return mine.length === 0 ? first : first.concat(mine);
  }

  override get bufferedAmount(): number {
    return super.bufferedAmount + (this.#http?.bufferedAmount ?? 0);
  }

  /**
   * Accepts the handshake: queues the 101 response and processes the bytes
   * that arrived after the request.
   *
   * @param options The chosen subprotocol (one the client offered), extension response, extra headers.
   * @returns Events from bytes received before the call.
   */
  accept(options: ServerAcceptOptions = {}): WsEvent[] {
    const events = this.open(options, (request, response) => this.queueBytes(acceptResponse(request, response)), { chunks: this.#pending, eof: this.#eofPending });
    this.#pending = [];
    return events;
  }

  /**
   * Refuses the handshake with an HTTP response, then closes.
   *
   * @param status The HTTP status (e.g. 403).
   * @param body A plain-text body.
   * @param headers More response headers.
   */
  reject(status: number, body = "", headers: Iterable<readonly [string, string]> = []): void {
    this.checkRefusal(status);
    this.queueBytes(rejectResponse(status, body, headers));
    this.#close();
  }

  /**
   * Answers the current plain HTTP request whole (after an
   * `"http-request"` event): head, body with its `Content-Length`, end.
   * The connection persists when both sides allow it; then call
   * `receiveData(new Uint8Array(0))` to read a pipelined request.
   *
   * @param response Status, headers and body.
   * @throws InvalidStateError when no plain request awaits an answer.
   */
  respond(response: HttpResponseInit): void {
    const http = this.#http;
    if (http === undefined || http.request === undefined || http.responseStarted) {
      throw new InvalidStateError("no HTTP request is awaiting a response");
    }
    http.respond(response);
    if (http.closed) this.readyState = WsReadyState.CLOSED;
  }

  /** HTTP events as the connection reports them: upgrades become `"request"`, refusals `"handshake-error"`. */
  #fromHttp(http: HttpServerProtocol, events: HttpEvent[]): WsEvent[] {
    const out: WsEvent[] = [];
    for (const event of events) {
      if (event.type === "http-request") {
        const request = event.request;
        // A WebSocket upgrade (as isUpgradeRequest says); whatever follows (its end) belongs to it.
        if (request.upgrade !== undefined && hasToken(request.upgrade, "websocket")) return this.#upgrade(http, request, out);
        if (!this.#httpMode) return this.#refuse(http, checkRequest(request) as HandshakeError, out);
        out.push(event);
      } else if (event.type === "http-error") {
        // A request the application saw fails as "http-error"; one refused before it, as a handshake.
        out.push(http.request !== undefined ? event : { type: "handshake-error", error: asHandshakeError(event.error) });
      } else {
        out.push(event);
      }
    }
    if (http.closed) this.readyState = WsReadyState.CLOSED;
    return out;
  }

  #upgrade(http: HttpServerProtocol, request: HttpRequest, out: WsEvent[]): WsEvent[] {
    if (request.bodyLength !== 0) {
      // As python-websockets: an upgrade request has no body.
      return this.#refuse(http, new HandshakeError(400, "WS_ERR_UPGRADE_BODY", "a WebSocket upgrade request must not have a body"), out);
    }
    const checked = checkRequest(request);
    if (checked instanceof HandshakeError) return this.#refuse(http, checked, out);
    this.request = checked;
    const rest = http.switchProtocols();
    // Answers to earlier requests not yet taken go first, then the 101.
    for (const item of http.dataToSend()) if (item !== SEND_EOF) this.queueBytes(item);
    this.#http = undefined;
    if (rest.length > 0) this.#pending.push(rest);
    out.push({ type: "request", request: checked });
    return out;
  }

  #refuse(http: HttpServerProtocol, error: HandshakeError, out: WsEvent[]): WsEvent[] {
    http.reject(error.status, error.message, error.headers);
    this.readyState = WsReadyState.CLOSED;
    out.push({ type: "handshake-error", error });
    return out;
  }

  #close(): void {
    this.#pending = [];
    this.readyState = WsReadyState.CLOSED;
    this.queueEof();
  }
}

function asHandshakeError(error: HttpError): HandshakeError {
  return error instanceof HandshakeError ? error : new HandshakeError(error.status, error.code, error.message, error.headers);
}
