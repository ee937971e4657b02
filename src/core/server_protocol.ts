/**
 * The server side of a connection, from its first byte on: HTTP/1.1 (an
 * {@link HttpServerProtocol}, which may serve many plain requests when the
 * `http` option is on) until a request asks for the WebSocket upgrade;
 * after {@link ServerProtocol.accept} it is a {@link WebSocketProtocol}.
 *
 * @module
 */

import { concat } from "./bytes.ts";
import { WebSocketProtocol, type OutgoingData, type ProtocolOptions, ReadyState, SEND_EOF } from "./protocol.ts";
import { HandshakeError, type HttpError, InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import type { ServerExtensionFactory } from "./extensions/extension.ts";
import { negotiateAsServer } from "./extensions/negotiate.ts";
import { type AcceptOptions, acceptResponse, checkRequest, type HandshakeRequest, rejectResponse } from "./handshake.ts";
import { hasToken } from "./http/header_values.ts";
import { DEFAULT_MAX_HTTP_BODY_SIZE, HttpServerProtocol } from "./http/connection.ts";
import type { HttpEvent } from "./http/events.ts";
import type { HttpRequest } from "./http/framing.ts";
import type { HeadLimits } from "./http/head.ts";
import type { ResponseHeadInit } from "./http/response.ts";

export { DEFAULT_MAX_HTTP_BODY_SIZE };

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

/** What {@link ServerProtocol.accept} answers with. */
export interface ServerAcceptOptions extends Omit<AcceptOptions, "extensions"> {
  /**
   * The extensions the server is willing to use for this connection; each
   * negotiates against the client's offers, in the client's order. Leave
   * out an extension here to refuse it for this connection.
   */
  extensions?: readonly ServerExtensionFactory[];
  /** Report messages as `"chunk"` events as they arrive instead of whole (see `ConnectionOptions.streamMessages`). */
  streamMessages?: boolean;
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
 * const server = new ServerProtocol();
 * const [event] = server.receiveData(requestBytes);
 * if (event?.type === "request") server.accept({ protocol: "chat" });
 * socket.write(server.dataToSend());
 * ```
 */
export class ServerProtocol extends WebSocketProtocol {
  /** The `Sec-WebSocket-Extensions` value of the 101 response ("" for none), once accepted. */
  extensionsHeader = "";
  /** The checked request, from its arrival until `accept()` (which lets it go, to save memory). */
  request: HandshakeRequest | undefined;
  // The HTTP connection of the opening phase; let go at the upgrade (idle WebSockets are many).
  #http: HttpServerProtocol | undefined;
  // Bytes after the upgrade request, kept for accept().
  #pending: Uint8Array[] = [];
  readonly #httpMode: boolean;
  #eofPending = false;

  constructor(options: ServerProtocolOptions = {}) {
    super("server", options);
    this.readyState = ReadyState.CONNECTING;
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
   * Processes received bytes: requests first, then frames. Bytes that
   * follow the upgrade request before `accept()` are kept and processed by it.
   *
   * @param chunk Bytes read from the transport.
   * @returns The events these bytes completed.
   */
  override receiveData(chunk: Uint8Array): WsEvent[] {
    if (this.readyState !== ReadyState.CONNECTING) return super.receiveData(chunk);
    const http = this.#http;
    if (http === undefined) {
      // The upgrade request is waiting for accept() or reject().
      if (chunk.length > 0) this.#pending.push(chunk);
      return [];
    }
    return this.#fromHttp(http, http.receiveData(chunk));
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== ReadyState.CONNECTING) return super.receiveEof();
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
    const request = this.#awaitingDecision();
    const { extensions = [], streamMessages = false, ...response } = options;
    const negotiated = negotiateAsServer(request.extensions, extensions);
    this.queueBytes(acceptResponse(request, { ...response, extensions: negotiated.header }));
    this.extensionsHeader = negotiated.header;
    if (streamMessages) this.setStreaming(true);
    this.setExtensions(negotiated.extensions);
    // The head (every header string) is not kept for the connection's lifetime; copy what you need.
    this.request = undefined;
    this.readyState = ReadyState.OPEN;
    const pending = this.#pending;
    this.#pending = [];
    const events = pending.length === 0 ? [] : super.receiveData(pending.length === 1 ? pending[0]! : concat(pending));
    if (this.#eofPending) events.push(...super.receiveEof());
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
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new RangeError(`status ${status} cannot refuse a handshake (use 300-599)`);
    }
    this.#awaitingDecision();
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
    if (http.closed) this.readyState = ReadyState.CLOSED;
  }

  #awaitingDecision(): HandshakeRequest {
    if (this.readyState !== ReadyState.CONNECTING || this.request === undefined || this.#http !== undefined) {
      throw new InvalidStateError("no handshake request is awaiting a decision");
    }
    return this.request;
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
    if (http.closed) this.readyState = ReadyState.CLOSED;
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
    this.readyState = ReadyState.CLOSED;
    out.push({ type: "handshake-error", error });
    return out;
  }

  #close(): void {
    this.#pending = [];
    this.readyState = ReadyState.CLOSED;
    this.queueEof();
  }
}

function asHandshakeError(error: HttpError): HandshakeError {
  return error instanceof HandshakeError ? error : new HandshakeError(error.status, error.code, error.message, error.headers);
}
