/**
 * The opening phase of a server connection, as the server's decision sees
 * it: an HTTP/1.1 connection with an upgrade request (`HttpConnection`) or
 * an HTTP/2 stream with an extended CONNECT (`Http2Handshake`). Both are
 * routed, filtered and accepted the same way.
 *
 * @module
 */

import type { AcceptingProtocol } from "../core/accepting_protocol.ts";
import type { HandshakeRequest } from "../core/handshake.ts";
import type { PeerInfo, Transport } from "../transport/transport.ts";
import type { Clock } from "./clock.ts";
import type { WebSocketConnection } from "./connection.ts";

/**
 * A snapshot of who is connecting, for the hooks: the transport forgets its
 * addresses once closed, and hooks may keep what they were given.
 *
 * @param transport An open transport.
 * @returns Its peer.
 */
export function peerOf(transport: Transport): PeerInfo {
  return { remoteAddress: transport.remoteAddress, remotePort: transport.remotePort, raw: transport.raw, peerCertificate: transport.peerCertificate };
}

/** One connection's (or HTTP/2 stream's) opening phase, as the server's decision sees it. */
export interface Opening {
  readonly core: AcceptingProtocol;
  readonly transport: Transport;
  readonly peer: PeerInfo;
  /** Whether the transport closed meanwhile. */
  readonly closed: boolean;
  /**
   * The request was accepted: every later transport event goes to this
   * connection. Called synchronously, before the connection runs any
   * handler, so no chunk can fall between the accept and the connection (a
   * network may deliver several in one synchronous loop, or between tasks).
   */
  attach(ws: WebSocketConnection<any>): void;
}

/** What an HTTP/2 stream's opening needs from its server: made once per server. */
export interface Http2HandshakeHooks {
  clock(): Clock;
  closeTimeout(): number;
  /** Routes, filters and accepts (attaching and opening the connection), or refuses (the answer is queued). */
  decide(opening: Opening, request: HandshakeRequest): Promise<WebSocketConnection<any> | undefined>;
  upgraded(transport: Transport): void;
  closed(transport: Transport): void;
}
