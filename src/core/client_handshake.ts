/**
 * What the client's opening handshake does the same over HTTP/1.1 (RFC
 * 6455) and HTTP/2 (RFC 8441): the extension offer, and opening the
 * connection once the server's answer checked out (installing the
 * extensions it accepted, or failing with 1010).
 *
 * @module
 */

import { ExtensionNegotiationError, type HandshakeError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import type { ClientExtensionFactory } from "./extensions/extension.ts";
import { extensionOffer, negotiateAsClient } from "./extensions/negotiate.ts";
import type { HandshakeResponse } from "./handshake.ts";
import { type ExtensionOffer, parseExtensions } from "./http/header_values.ts";
import type { ResponseHead } from "./http/head.ts";
import { type ProtocolOptions, WsReadyState, WebSocketProtocol } from "./protocol.ts";

/** The options both client handshakes take. */
export interface ClientHandshakeOptions extends Omit<ProtocolOptions, "extensions"> {
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /**
   * The extensions to offer, in order of preference; each checks the
   * server's answer. A string is sent as is: the answer is only checked to
   * name offered extensions, and no transform is installed (so a frame with
   * an RSV bit still fails the connection).
   */
  extensions?: readonly ClientExtensionFactory[] | string;
}

/** The client's CONNECTING phase, whatever carries the handshake; then a {@link WebSocketProtocol}. */
export abstract class ClientHandshakeProtocol extends WebSocketProtocol {
  /** What the handshake settled, once open. */
  handshake: HandshakeResponse | undefined;
  /** The `Sec-WebSocket-Extensions` offer sent ("" for none). */
  protected readonly extensionOffer: string;
  /** What the answer is checked against: the subprotocols and extension names offered. */
  protected readonly offered: { protocols: readonly string[]; extensions: readonly string[] };
  readonly #factories: readonly ClientExtensionFactory[];

  constructor(options: ClientHandshakeOptions) {
    super("client", { ...options, extensions: undefined });
    this.readyState = WsReadyState.CONNECTING;
    this.#factories = typeof options.extensions === "string" ? [] : options.extensions ?? [];
    this.extensionOffer = typeof options.extensions === "string" ? options.extensions : extensionOffer(this.#factories);
    const offers: ExtensionOffer[] | null = this.extensionOffer ? parseExtensions(this.extensionOffer) : [];
    if (offers === null) throw new TypeError("malformed Sec-WebSocket-Extensions offer");
    this.offered = { protocols: options.protocols ?? [], extensions: offers.map((offer) => offer.name) };
  }

  /** The answer checked out: open, with the extensions the server accepted; or fail with 1010 if they cannot be set up. */
  protected open(handshake: HandshakeResponse, response: ResponseHead): WsEvent[] {
    this.handshake = handshake;
    this.readyState = WsReadyState.OPEN;
    try {
      // A raw string offer is checked by name only and installs nothing.
      if (this.#factories.length > 0) this.setExtensions(negotiateAsClient(handshake.extensions, this.#factories));
    } catch (error) {
      if (!(error instanceof ExtensionNegotiationError)) throw error;
      // RFC 7692 5: the client fails the connection; the answer made it open, so it can say why with 1010.
      this.fail(1010, error.message.slice(0, 120));
      this.queueEof();
      this.readyState = WsReadyState.CLOSED;
      return [{ type: "handshake-error", error }];
    }
    return [{ type: "response", response, protocol: handshake.protocol }];
  }

  /** The handshake failed before opening: close without a frame. */
  protected failHandshake(error: HandshakeError): WsEvent[] {
    this.readyState = WsReadyState.CLOSED;
    this.queueEof();
    return [{ type: "handshake-error", error }];
  }
}
