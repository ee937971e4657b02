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
import { WsReadyState } from "./protocol.ts";

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
 * import { connect } from "node:net";
 * import { ClientProtocol, SEND_EOF } from "wsport/core";
 *
 * const socket = connect(80, "example.com");
 * const client = new ClientProtocol({ host: "example.com", path: "/chat", protocols: ["chat"] });
 * const flush = () => {
 *   for (const data of client.dataToSend()) data === SEND_EOF ? socket.end() : socket.write(data);
 * };
 * flush(); // the handshake request
 * socket.on("data", (bytes: Uint8Array) => {
 *   for (const event of client.receiveData(bytes)) console.log(event.type); // "response", then "message", ...
 *   flush(); // pongs, close replies
 * });
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
   * The response head first, then frames (see
   * {@link WebSocketProtocol.receiveNext}): frames that arrived in the same
   * chunk as the head come after the `"response"` event (with
   * `receiveNext`, from the following calls).
   */
  protected override receiveInto(chunk: Uint8Array, events: WsEvent[], step: boolean): void {
    const parser = this.#parser;
    if (parser === undefined) return super.receiveInto(chunk, events, step);
    const result = parser.push(chunk);
    if (result.state === "incomplete") return;
    this.#parser = undefined;
    let opened: WsEvent[];
    if (result.state === "error") {
      // No status was received: the response head itself was malformed.
      opened = this.failHandshake(new HandshakeError(0, result.error.code, `invalid response head: ${result.error.message}`));
    } else {
      const handshake = checkResponse(result.head, { key: this.#key, ...this.offered });
      opened = handshake instanceof HandshakeError ? this.failHandshake(handshake) : this.open(handshake, result.head);
    }
    for (const event of opened) events.push(event);
    if (opened[0]?.type !== "response" || result.state !== "done") return;
    // Frames behind the head: the connection opens before their events.
    if (result.rest.length > 0) this.receiveLater(result.rest);
    if (!step) super.receiveInto(new Uint8Array(0), events, false);
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveEof();
    this.#parser = undefined;
    return this.failHandshake(new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", "connection closed before the handshake response"));
  }
}
