/**
 * The client side of a connection, from the opening handshake on. It
 * queues the request at construction, checks the 101 response, then is a
 * {@link WebSocketProtocol}.
 *
 * @module
 */

import { WebSocketProtocol, type ProtocolOptions, WsReadyState } from "./protocol.ts";
import { ExtensionNegotiationError, HandshakeError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import type { ClientExtensionFactory } from "./extensions/extension.ts";
import { extensionOffer, negotiateAsClient } from "./extensions/negotiate.ts";
import { buildRequest, checkResponse, type ClientRequestOptions, type HandshakeResponse } from "./handshake.ts";
import { type ExtensionOffer, parseExtensions } from "./http/header_values.ts";
import { type HeadLimits, ResponseHeadParser } from "./http/head.ts";

/** Options of a {@link ClientProtocol}: the request to send and the limits. */
export interface ClientProtocolOptions
  extends Omit<ProtocolOptions, "extensions">, Omit<ClientRequestOptions, "extensions"> {
  /** Limits on the response head. */
  headLimits?: Partial<HeadLimits>;
  /**
   * The extensions to offer, in order of preference; each checks the
   * server's answer. A string is sent as is: the answer is only checked to
   * name offered extensions, and no transform is installed (so a frame with
   * an RSV bit still fails the connection).
   */
  extensions?: readonly ClientExtensionFactory[] | string;
}

/**
 * Sans-IO client connection. The handshake request is in `dataToSend()`
 * from the start; feed the server's bytes to `receiveData()`, which yields a
 * `"response"` event when the connection opens (then the events of any
 * frames that came with it) or a `"handshake-error"`.
 *
 * @example
 * ```ts
 * import { ClientProtocol, SEND_EOF } from "wsport/core";
 *
 * declare const socket: { write(bytes: Uint8Array): void; end(): void }; // yours
 * const client = new ClientProtocol({ host: "example.com", path: "/chat" });
 * for (const item of client.dataToSend()) {
 *   if (item === SEND_EOF) socket.end();
 *   else socket.write(item);
 * }
 * ```
 */
export class ClientProtocol extends WebSocketProtocol {
  /** What the handshake settled, once open. */
  handshake: HandshakeResponse | undefined;
  readonly #key: string;
  readonly #protocols: readonly string[];
  readonly #extensionNames: string[];
  readonly #factories: readonly ClientExtensionFactory[];
  #parser: ResponseHeadParser | undefined;

  constructor(options: ClientProtocolOptions) {
    super("client", { ...options, extensions: undefined });
    this.readyState = WsReadyState.CONNECTING;
    this.#factories = typeof options.extensions === "string" ? [] : options.extensions ?? [];
    const offer = typeof options.extensions === "string" ? options.extensions : extensionOffer(this.#factories);
    const { bytes, key } = buildRequest({ ...options, extensions: offer });
    this.#key = key;
    this.#protocols = options.protocols ?? [];
    const offers: ExtensionOffer[] | null = offer ? parseExtensions(offer) : [];
    if (offers === null) throw new TypeError("malformed Sec-WebSocket-Extensions offer");
    this.#extensionNames = offers.map((offer) => offer.name);
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
    if (result.state === "error") {
      // No status was received: the response head itself was malformed.
      events.push(...this.#fail(new HandshakeError(0, result.error.code, `invalid response head: ${result.error.message}`)));
      return;
    }
    const handshake = checkResponse(result.head, {
      key: this.#key,
      protocols: this.#protocols,
      extensions: this.#extensionNames,
    });
    if (handshake instanceof HandshakeError) {
      events.push(...this.#fail(handshake));
      return;
    }
    this.handshake = handshake;
    this.readyState = WsReadyState.OPEN;
    try {
      // A raw string offer is checked by name only (checkResponse) and installs nothing.
      if (this.#factories.length > 0) this.setExtensions(negotiateAsClient(handshake.extensions, this.#factories));
    } catch (error) {
      if (!(error instanceof ExtensionNegotiationError)) throw error;
      // RFC 7692 5: the client fails the connection; the 101 made it open, so it can say why with 1010.
      this.fail(1010, error.message.slice(0, 120));
      this.queueEof();
      this.readyState = WsReadyState.CLOSED;
      events.push({ type: "handshake-error", error });
      return;
    }
    events.push({ type: "response", response: result.head, protocol: handshake.protocol });
    // Frames behind the head: the connection opens before their events.
    if (result.rest.length > 0) this.receiveLater(result.rest);
    if (!step) super.receiveInto(new Uint8Array(0), events, false);
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveEof();
    this.#parser = undefined;
    this.readyState = WsReadyState.CLOSED;
    this.queueEof();
    const error = new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", "connection closed before the handshake response");
    return [{ type: "handshake-error", error }];
  }

  #fail(error: HandshakeError): WsEvent[] {
    this.readyState = WsReadyState.CLOSED;
    this.queueEof();
    return [{ type: "handshake-error", error }];
  }
}
