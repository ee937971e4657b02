/**
 * The server side of a connection, from the first byte of the opening
 * handshake on. Until {@link ServerProtocol.accept} it reads the HTTP
 * request; then it is a {@link WebSocketProtocol}.
 *
 * @module
 */

import { AcceptingProtocol, type ServerAcceptOptions } from "./accepting_protocol.ts";
import { concat } from "./bytes.ts";
import { type ProtocolOptions, WsReadyState } from "./protocol.ts";
import { HandshakeError, InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { acceptResponse, checkRequest, isUpgradeRequest, reasonPhrase, rejectResponse } from "./handshake.ts";
import { type HeadLimits, type RequestHead, RequestHeadParser, writeResponseHead } from "./http/head.ts";

/** Options of a {@link ServerProtocol}. */
export interface ServerProtocolOptions extends Omit<ProtocolOptions, "extensions"> {
  /** Limits on the request head: size (default 8 KiB) and header count. */
  headLimits?: Partial<HeadLimits>;
  /**
   * Report requests that do not ask for a WebSocket upgrade as
   * `"http-request"` events (answer them with {@link ServerProtocol.respond})
   * instead of refusing them with 426. Default false.
   */
  http?: boolean;
  /** Largest plain-HTTP request body accepted, in bytes (413 above). Default 1 MiB. */
  maxHttpBodySize?: number;
}

/** A plain HTTP response for {@link ServerProtocol.respond}. */
export interface HttpResponseInit {
  status: number;
  /** Reason phrase; default the standard one. */
  reason?: string;
  headers?: Iterable<readonly [string, string]>;
  /** Body bytes; `Content-Length` is added when the headers lack it. */
  body?: Uint8Array;
}

export type { ServerAcceptOptions } from "./accepting_protocol.ts";

/** Default of {@link ServerProtocolOptions.maxHttpBodySize}. */
export const DEFAULT_MAX_HTTP_BODY_SIZE = 1024 * 1024;

/**
 * Sans-IO server connection. Feed it bytes; when it reports a `"request"`
 * event, call {@link accept} (or {@link reject}); a bad request yields a
 * `"handshake-error"` event and its HTTP answer is already queued.
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
  #parser: RequestHeadParser | undefined;
  #pending: Uint8Array[] = [];
  readonly #http: boolean;
  readonly #maxHttpBodySize: number;
  // A plain HTTP request whose body is being read.
  #httpHead: RequestHead | undefined;
  #bodyRemaining = 0;
  #httpResponding = false;
  #eofPending = false;

  constructor(options: ServerProtocolOptions = {}) {
    super(options);
    this.#parser = new RequestHeadParser(options.headLimits);
    this.#http = options.http ?? false;
    this.#maxHttpBodySize = options.maxHttpBodySize ?? DEFAULT_MAX_HTTP_BODY_SIZE;
  }

  /**
   * The request head first, then frames (see
   * {@link WebSocketProtocol.receiveNext}). Bytes that follow the head
   * before `accept()` are kept for it.
   */
  protected override receiveInto(chunk: Uint8Array, events: WsEvent[], step: boolean): void {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveInto(chunk, events, step);
    for (const event of this.#receiveHead(chunk)) events.push(event);
  }

  /** The opening phase: the request head, or a plain HTTP request and its body. */
  #receiveHead(chunk: Uint8Array): WsEvent[] {
    const parser = this.#parser;
    if (parser === undefined) {
      // Request received, waiting for accept()/reject(), or a body being read.
      if (chunk.length > 0) this.#pending.push(chunk);
      return this.#httpHead !== undefined ? this.#readBody(chunk.length) : [];
    }
    const result = parser.push(chunk);
    if (result.state === "incomplete") return [];
    this.#parser = undefined;
    if (result.state === "error") return this.#refuse(result.error);
    if (this.#http && !isUpgradeRequest(result.head)) return this.#startHttp(result.head, result.rest);
    const request = checkRequest(result.head);
    if (request instanceof HandshakeError) return this.#refuse(request);
    this.request = request;
    if (result.rest.length > 0) this.#pending.push(result.rest);
    return [{ type: "request", request }];
  }

  /**
   * Accepts the handshake: queues the 101 response and processes the bytes
   * that arrived after the request.
   *
   * @param options The chosen subprotocol (one the client offered), extension response, extra headers.
   * @returns Events from bytes received before the call (none with `deferInput`).
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
   * Answers a plain HTTP request (after an `"http-request"` event) and
   * closes: one request per connection, `Connection: close`.
   *
   * @param response Status, headers and body.
   */
  respond(response: HttpResponseInit): void {
    if (!this.#httpResponding) throw new InvalidStateError("no HTTP request is awaiting a response");
    this.#httpResponding = false;
    const headers: [string, string][] = [];
    let hasLength = false;
    for (const [name, value] of response.headers ?? []) {
      const lower = name.toLowerCase();
      if (lower === "connection" || lower === "transfer-encoding") continue; // we always close and never chunk
      if (lower === "content-length") hasLength = true;
      headers.push([name, value]);
    }
    const body = response.body ?? new Uint8Array(0);
    if (!hasLength) headers.push(["Content-Length", String(body.length)]);
    headers.push(["Connection", "close"]);
    this.queueBytes(writeResponseHead({ status: response.status, reason: response.reason ?? reasonPhrase(response.status), headers }));
    if (body.length > 0) this.queueBytes(body);
    this.#close();
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveEof();
    // A client may half-close once its request is sent: the answer still goes out, then we close.
    if (this.#httpResponding) return [];
    if (this.request !== undefined && this.#parser === undefined) {
      this.#eofPending = true; // applied after accept(), behind the bytes that preceded it
      return [];
    }
    this.#close();
    return [];
  }

  #startHttp(head: RequestHead, rest: Uint8Array): WsEvent[] {
    if (head.headers.has("transfer-encoding")) {
      return this.#refuse(new HandshakeError(501, "WS_ERR_HTTP_TRANSFER_ENCODING", "Transfer-Encoding request bodies are not supported"));
    }
    const lengths = head.headers.getAll("content-length");
    let length = 0;
    if (lengths.length > 0) {
      if (lengths.length > 1 || !/^[0-9]{1,15}$/.test(lengths[0]!)) {
        return this.#refuse(new HandshakeError(400, "WS_ERR_HTTP_CONTENT_LENGTH", "invalid Content-Length"));
      }
      length = Number(lengths[0]);
    }
    if (length > this.#maxHttpBodySize) {
      return this.#refuse(new HandshakeError(413, "WS_ERR_HTTP_BODY_TOO_LARGE", `request body of ${length} bytes exceeds the limit of ${this.#maxHttpBodySize}`));
    }
    this.#httpHead = head;
    this.#bodyRemaining = length;
    this.#pending = rest.length > 0 ? [rest] : [];
    return this.#readBody(rest.length);
  }

  #readBody(received: number): WsEvent[] {
    this.#bodyRemaining -= received;
    if (this.#bodyRemaining > 0) return [];
    const head = this.#httpHead!;
    const all = concat(this.#pending);
    // Bytes past the body (a pipelined request) are dropped: the connection closes after the response.
    const body = all.subarray(0, all.length + this.#bodyRemaining);
    this.#httpHead = undefined;
    this.#pending = [];
    this.#httpResponding = true;
    return [{ type: "http-request", request: head, body }];
  }

  #refuse(error: HandshakeError): WsEvent[] {
    this.queueBytes(rejectResponse(error.status, error.message, error.headers));
    this.#close();
    return [{ type: "handshake-error", error }];
  }

  #close(): void {
    this.#pending = [];
    this.#parser = undefined;
    this.readyState = WsReadyState.CLOSED;
    this.queueEof();
  }
}
