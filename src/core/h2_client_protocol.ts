/**
 * The client side of a WebSocket over an HTTP/2 stream (RFC 8441): the
 * extended CONNECT's fields, the check of the server's answer, then the
 * same {@link WebSocketProtocol} as over HTTP/1.1 on the stream's DATA.
 *
 * @module
 */

import { ClientHandshakeProtocol, type ClientHandshakeOptions } from "./client_handshake.ts";
import { HandshakeError, InvalidStateError } from "./errors.ts";
import type { WsEvent } from "./events.ts";
import { buildExtendedConnect, checkExtendedConnectResponse, type ExtendedConnectOptions, type HeaderFields, HTTP2_VERSION } from "./h2_handshake.ts";
import { HeaderMap } from "./http/head.ts";
import { WsReadyState } from "./protocol.ts";

/** Options of an {@link Http2ClientProtocol}: the request's fields and the limits. */
export interface Http2ClientProtocolOptions extends ClientHandshakeOptions, Omit<ExtendedConnectOptions, "extensions" | "protocols"> {}

/**
 * Sans-IO client end of a WebSocket over an HTTP/2 stream. Open a stream
 * with {@link requestFields}; give the answer's status and fields to
 * {@link receiveResponse}, which yields `"response"` (open) or
 * `"handshake-error"`; then the stream's DATA to `receiveData()`.
 *
 * @example
 * ```ts
 * import { connect } from "node:http2";
 * import { Http2ClientProtocol } from "wsport/core";
 *
 * const session = connect("https://example.com");
 * const client = new Http2ClientProtocol({ authority: "example.com", path: "/chat", protocols: ["chat"] });
 * const stream = session.request(Object.fromEntries(client.requestFields), { endStream: false });
 * ```
 */
export class Http2ClientProtocol extends ClientHandshakeProtocol {
  /** The extended CONNECT to send, pseudo-headers first. */
  readonly requestFields: [string, string][];

  constructor(options: Http2ClientProtocolOptions) {
    super(options);
    this.requestFields = buildExtendedConnect({ ...options, extensions: this.extensionOffer, protocols: this.offered.protocols });
  }

  /**
   * Checks the server's answer (200, then subprotocol and extensions).
   *
   * @param status The response's `:status`.
   * @param fields The response's fields.
   * @returns A `"response"` event (the connection is open) or a `"handshake-error"`.
   */
  receiveResponse(status: number, fields: HeaderFields): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) throw new InvalidStateError("no extended CONNECT is awaiting a response");
    const handshake = checkExtendedConnectResponse(status, fields, this.offered);
    if (handshake instanceof HandshakeError) return this.failHandshake(handshake);
    const headers = new HeaderMap(fields.filter(([name]) => !name.startsWith(":")));
    return this.open(handshake, { version: HTTP2_VERSION, status, reason: "", headers });
  }

  override receiveData(chunk: Uint8Array): WsEvent[] {
    // DATA before the response is not the WebSocket's yet (the transport holds it until the response is in).
    if (this.readyState === WsReadyState.CONNECTING) return [];
    return super.receiveData(chunk);
  }

  override receiveEof(): WsEvent[] {
    if (this.readyState !== WsReadyState.CONNECTING) return super.receiveEof();
    return this.failHandshake(new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", "stream ended before the response to the extended CONNECT"));
  }
}
