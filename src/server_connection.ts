/**
 * The server side of a connection, from the first byte of the opening
 * handshake on. Until {@link ServerConnection.accept} it reads the HTTP
 * request; then it is a {@link Connection}.
 *
 * @module
 */

import { concat } from "./bytes.ts";
import { Connection, type ConnectionOptions, ReadyState } from "./connection.ts";
import { HandshakeError, InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { type AcceptOptions, acceptResponse, checkRequest, type HandshakeRequest, rejectResponse } from "./handshake.ts";
import { type HeadLimits, RequestHeadParser } from "./http_head.ts";

/** Options of a {@link ServerConnection}. */
export interface ServerConnectionOptions extends ConnectionOptions {
  /** Limits on the request head: size (default 8 KiB) and header count. */
  headLimits?: Partial<HeadLimits>;
}

/**
 * Sans-IO server connection. Feed it bytes; when it reports a `"request"`
 * event, call {@link accept} (or {@link reject}); a bad request yields a
 * `"handshake-error"` event and its HTTP answer is already queued.
 *
 * @example
 * ```ts
 * const server = new ServerConnection();
 * const [event] = server.receiveData(requestBytes);
 * if (event?.type === "request") server.accept({ protocol: "chat" });
 * socket.write(server.dataToSend());
 * ```
 */
export class ServerConnection extends Connection {
  /** The checked request, once it has arrived. */
  request: HandshakeRequest | undefined;
  #parser: RequestHeadParser | undefined;
  #pending: Uint8Array[] = [];

  constructor(options: ServerConnectionOptions = {}) {
    super("server", options);
    this.readyState = ReadyState.CONNECTING;
    this.#parser = new RequestHeadParser(options.headLimits);
  }

  /**
   * Processes received bytes: the request head first, then frames. Bytes
   * that follow the head before `accept()` are kept and processed by it.
   *
   * @param chunk Bytes read from the transport.
   * @returns The events these bytes completed.
   */
  override receiveData(chunk: Uint8Array): WsEvent[] {
    if (this.readyState !== ReadyState.CONNECTING) return super.receiveData(chunk);
    const parser = this.#parser;
    if (parser === undefined) {
      // Request received, waiting for accept() or reject().
      if (chunk.length > 0) this.#pending.push(chunk);
      return [];
    }
    const result = parser.push(chunk);
    if (result.state === "incomplete") return [];
    this.#parser = undefined;
    if (result.state === "error") return this.#refuse(result.error);
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
   * @returns Events from bytes received before the call.
   */
  accept(options: AcceptOptions = {}): WsEvent[] {
    const request = this.#awaitingDecision();
    this.queueBytes(acceptResponse(request, options));
    this.readyState = ReadyState.OPEN;
    const pending = this.#pending;
    this.#pending = [];
    return pending.length === 0 ? [] : super.receiveData(pending.length === 1 ? pending[0]! : concat(pending));
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

  override receiveEof(): WsEvent[] {
    if (this.readyState !== ReadyState.CONNECTING) return super.receiveEof();
    this.#close();
    return [];
  }

  #awaitingDecision(): HandshakeRequest {
    if (this.readyState !== ReadyState.CONNECTING || this.request === undefined) {
      throw new InvalidStateError("no handshake request is awaiting a decision");
    }
    return this.request;
  }

  #refuse(error: HandshakeError): WsEvent[] {
    this.queueBytes(rejectResponse(error.status, error.message, error.headers));
    this.#close();
    return [{ type: "handshake-error", error }];
  }

  #close(): void {
    this.#pending = [];
    this.#parser = undefined;
    this.readyState = ReadyState.CLOSED;
    this.queueEof();
  }
}
