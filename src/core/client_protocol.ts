/**
 * The client side of a connection, from the opening handshake on. It
 * queues the request at construction, checks the 101 response, then is a
 * {@link WebSocketProtocol}.
 *
 * @module
 */

import { ClientHandshakeProtocol, type ClientHandshakeOptions } from "./client_handshake.ts";
import { HandshakeError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { buildRequest, checkResponse, type ClientRequestOptions } from "./handshake.ts";
import { type HeadLimits, ResponseHeadParser } from "./http/head.ts";
import { ReadyState } from "./protocol.ts";

/** Options of a {@link ClientProtocol}: the request to send and the limits. */
export interface ClientProtocolOptions extends ClientHandshakeOptions, Omit<ClientRequestOptions, "extensions"> {
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
export class ClientProtocol extends ClientHandshakeProtocol {
  readonly #key: string;
  #parser: ResponseHeadParser | undefined;

  constructor(options: ClientProtocolOptions) {
    super(options);
    const { bytes, key } = buildRequest({ ...options, extensions: this.extensionOffer });
    this.#key = key;
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
      return this.failHandshake(new HandshakeError(0, result.error.code, `invalid response head: ${result.error.message}`));
    }
    const handshake = checkResponse(result.head, { key: this.#key, ...this.offered });
    if (handshake instanceof HandshakeError) return this.failHandshake(handshake);
    const events = this.open(handshake, result.head);
    if (events[0]?.type === "response" && result.rest.length > 0) events.push(...super.receiveData(result.rest));
    return events;
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== ReadyState.CONNECTING) return super.receiveEof();
    this.#parser = undefined;
    return this.failHandshake(new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", "connection closed before the handshake response"));
  }
}
