/**
 * The client side of a connection, from the opening handshake on. It
 * queues the request at construction, checks the 101 response, then is a
 * {@link Connection}.
 *
 * @module
 */

import { Connection, type ConnectionOptions, ReadyState } from "./connection.ts";
import { HandshakeError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { buildRequest, checkResponse, type ClientRequestOptions, type HandshakeResponse } from "./handshake.ts";
import { type ExtensionOffer, parseExtensions } from "./header_tokens.ts";
import { type HeadLimits, ResponseHeadParser } from "./http_head.ts";

/** Options of a {@link ClientConnection}: the request to send and the limits. */
export interface ClientConnectionOptions extends ConnectionOptions, ClientRequestOptions {
  /** Limits on the response head. */
  headLimits?: Partial<HeadLimits>;
}

/**
 * Sans-IO client connection. The handshake request is in `dataToSend()`
 * from the start; feed the server's bytes to `receiveData()`, which yields a
 * `"response"` event when the connection opens or a `"handshake-error"`.
 *
 * @example
 * ```ts
 * const client = new ClientConnection({ host: "example.com", path: "/chat" });
 * socket.write(client.dataToSend());
 * ```
 */
export class ClientConnection extends Connection {
  /** What the handshake settled, once open. */
  handshake: HandshakeResponse | undefined;
  readonly #key: string;
  readonly #protocols: readonly string[];
  readonly #extensionNames: string[];
  #parser: ResponseHeadParser | undefined;

  constructor(options: ClientConnectionOptions) {
    super("client", options);
    this.readyState = ReadyState.CONNECTING;
    const { bytes, key } = buildRequest(options);
    this.#key = key;
    this.#protocols = options.protocols ?? [];
    const offers: ExtensionOffer[] | null = options.extensions ? parseExtensions(options.extensions) : [];
    if (offers === null) throw new TypeError("malformed Sec-WebSocket-Extensions offer");
    this.#extensionNames = offers.map((offer) => offer.name);
    this.#parser = new ResponseHeadParser(options.headLimits);
    this.queueBytes(bytes);
  }

  /**
   * Processes received bytes: the response head first, then frames (which
   * may arrive in the same chunk as the head).
   *
   * @param chunk Bytes read from the transport.
   * @returns The events these bytes completed.
   */
  override receiveData(chunk: Uint8Array): WsEvent[] {
    const parser = this.#parser;
    if (parser === undefined) return super.receiveData(chunk);
    const result = parser.push(chunk);
    if (result.state === "incomplete") return [];
    this.#parser = undefined;
    if (result.state === "error") {
      // No status was received: the response head itself was malformed.
      return this.#fail(new HandshakeError(0, result.error.code, `invalid response head: ${result.error.message}`));
    }
    const handshake = checkResponse(result.head, {
      key: this.#key,
      protocols: this.#protocols,
      extensions: this.#extensionNames,
    });
    if (handshake instanceof HandshakeError) return this.#fail(handshake);
    this.handshake = handshake;
    this.readyState = ReadyState.OPEN;
    const events: WsEvent[] = [{ type: "response", response: result.head, protocol: handshake.protocol }];
    if (result.rest.length > 0) events.push(...super.receiveData(result.rest));
    return events;
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== ReadyState.CONNECTING) return super.receiveEof();
    this.#parser = undefined;
    this.readyState = ReadyState.CLOSED;
    this.queueEof();
    const error = new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", "connection closed before the handshake response");
    return [{ type: "handshake-error", error }];
  }

  #fail(error: HandshakeError): WsEvent[] {
    this.readyState = ReadyState.CLOSED;
    this.queueEof();
    return [{ type: "handshake-error", error }];
  }
}
