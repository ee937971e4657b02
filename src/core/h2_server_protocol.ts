/**
 * The server side of a WebSocket over an HTTP/2 stream (RFC 8441), from the
 * extended CONNECT on. The runtime's HTTP/2 parsed the request; this
 * checks it, and after {@link Http2ServerProtocol.accept} it is the same
 * {@link WebSocketProtocol} as over HTTP/1.1, reading and writing the
 * stream's DATA.
 *
 * @module
 */

import { AcceptingProtocol, type ServerAcceptOptions } from "./accepting_protocol.ts";
import { HandshakeError, InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import {
  checkExtendedConnect,
  extendedConnectResponse,
  type HeaderFields,
  http2Refusal,
  type Http2ResponseHead,
} from "./h2_handshake.ts";
import type { HeadLimits } from "./http/head.ts";
import { type ProtocolOptions, WsReadyState } from "./protocol.ts";

/** Options of an {@link Http2ServerProtocol}. */
export interface Http2ServerProtocolOptions extends Omit<ProtocolOptions, "extensions"> {
  /** Limits on the request's fields, as on an HTTP/1.1 head: size (default 8 KiB) and count (64). */
  headLimits?: Partial<HeadLimits>;
}

/**
 * Sans-IO server end of a WebSocket over an HTTP/2 stream. Give it the
 * request's fields with {@link receiveRequest}; on a `"request"` event call
 * {@link accept} or {@link reject}; then send {@link takeResponse}'s head
 * as the stream's HEADERS, and `dataToSend()` as its DATA (`SEND_EOF` is
 * END_STREAM).
 *
 * @example
 * ```ts
 * import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
 * import { Http2ServerProtocol } from "wsport/core";
 * declare const stream: ServerHttp2Stream;
 * declare const headers: IncomingHttpHeaders;
 *
 * const server = new Http2ServerProtocol();
 * const fields = Object.entries(headers).map(([name, value]): [string, string] => [name, String(value)]);
 * const [event] = server.receiveRequest(fields);
 * if (event?.type === "request") server.accept({ protocol: "chat" });
 * const head = server.takeResponse();
 * if (head) stream.respond({ ...Object.fromEntries(head.headers), ":status": head.status });
 * ```
 */
export class Http2ServerProtocol extends AcceptingProtocol {
  readonly #limits: Partial<HeadLimits> | undefined;
  #received = false;
  #response: Http2ResponseHead | undefined;
  #pending: Uint8Array[] = [];
  #eofPending = false;

  constructor(options: Http2ServerProtocolOptions = {}) {
    super(options);
    this.#limits = options.headLimits;
  }

  /**
   * Checks the extended CONNECT. A bad one yields a `"handshake-error"`
   * event and its refusal is already queued (head and body).
   *
   * @param fields The request's fields, pseudo-headers included.
   * @returns A `"request"` or a `"handshake-error"` event.
   */
  receiveRequest(fields: HeaderFields): WsEvent[] {
    if (this.#received) throw new InvalidStateError("the request was already received");
    this.#received = true;
    const request = checkExtendedConnect(fields, this.#limits);
    if (request instanceof HandshakeError) {
      this.#queueRefusal(request.status, request.message, request.headers);
      return [{ type: "handshake-error", error: request }];
    }
    this.request = request;
    return [{ type: "request", request }];
  }

  /**
   * Processes the stream's DATA: kept until `accept()` while the request
   * awaits a decision, then frames.
   *
   * @param chunk Bytes read from the stream.
   * @returns The events these bytes completed.
   */
  override receiveData(chunk: Uint8Array): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveData(chunk);
    if (this.request !== undefined && chunk.length > 0) this.#pending.push(chunk);
    return [];
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveEof();
    if (this.request !== undefined) this.#eofPending = true; // applied after accept(), behind the bytes before it
    return [];
  }

  /**
   * Accepts: queues the 200 (with subprotocol and extensions) and processes
   * the DATA that arrived meanwhile.
   *
   * @param options The chosen subprotocol, the extensions allowed, extra fields.
   * @returns Events from DATA received before the call.
   */
  accept(options: ServerAcceptOptions = {}): WsEvent[] {
    const events = this.open(options, (request, response) => (this.#response = extendedConnectResponse(request, response)), { chunks: this.#pending, eof: this.#eofPending });
    this.#pending = [];
    return events;
  }

  /**
   * Refuses with a status and a plain-text body, then ends the stream.
   *
   * @param status The HTTP status (300-599).
   * @param body A plain-text body.
   * @param headers More response fields.
   */
  reject(status: number, body = "", headers: Iterable<readonly [string, string]> = []): void {
    this.checkRefusal(status);
    this.#queueRefusal(status, body, headers);
  }

  /**
   * The response head queued by `accept()`, `reject()` or a refused
   * request, once: send it as the stream's HEADERS before any DATA.
   *
   * @returns The head, or undefined when none is waiting.
   */
  takeResponse(): Http2ResponseHead | undefined {
    const head = this.#response;
    this.#response = undefined;
    return head;
  }

  #queueRefusal(status: number, body: string, headers: Iterable<readonly [string, string]>): void {
    const refusal = http2Refusal(status, body, headers);
    this.#response = refusal.head;
    if (refusal.body.length > 0) this.queueBytes(refusal.body);
    this.request = undefined;
    this.#pending = [];
    this.readyState = WsReadyState.CLOSED;
    this.queueEof();
  }
}
