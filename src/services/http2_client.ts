/**
 * The client's WebSocket over HTTP/2 (RFC 8441): `connect(url, { http2 })`
 * sends an extended CONNECT on the origin's pooled HTTP/2 connection and
 * runs the connection on that stream. When the server does not offer it
 * (no `h2` by ALPN, or no SETTINGS_ENABLE_CONNECT_PROTOCOL), the caller
 * falls back to an HTTP/1.1 upgrade, or fails when HTTP/2 was required.
 *
 * @module
 */

import { ExtensionNegotiationError, HandshakeError } from "../core/errors.ts";
import { Http2ClientProtocol } from "../core/h2_client_protocol.ts";
import type { Network, Transport } from "../transport/transport.ts";
import { clientConnection, type ConnectOptions } from "./client.ts";
import { type ConnectionPolicy, kClose, kData, kDrain, kEnd, type WebSocketConnection } from "./connection.ts";
import { writeOutgoing } from "./write_outgoing.ts";

/** Where the client connects, as `parseWebSocketUrl` gives it. */
export interface Http2Target {
  secure: boolean;
  hostname: string;
  port: number;
  host: string;
  path: string;
}

/** What an HTTP/2 attempt gives: the open connection, or what to do instead. */
export type Http2Attempt<Data> =
  | { ws: WebSocketConnection<Data> }
  /** Use HTTP/1.1: on this TLS connection (the server chose it by ALPN), or on a new one. */
  | { fallback: Transport | undefined };

/**
 * Opens a WebSocket as an HTTP/2 stream, or says how to fall back.
 *
 * @param target The parsed URL.
 * @param options The client's options (`http2: true` or `"only"`).
 * @param network The network (it must have `openHttp2Stream`).
 * @param policy The connection policy.
 * @param timeout The handshake timeout, ms.
 * @param headers The extra request headers.
 * @returns The connection, or a fallback; rejects with a {@link HandshakeError} when HTTP/2 was required
 *   (`"WS_ERR_HTTP2_UNAVAILABLE"`) or the server refused (its status).
 */
export async function connectHttp2<Data>(
  target: Http2Target,
  options: ConnectOptions<Data>,
  network: Network,
  policy: ConnectionPolicy,
  timeout: number,
  headers: [string, string][],
): Promise<Http2Attempt<Data>> {
  const unavailable = (reason: string, fallback?: Transport): Http2Attempt<Data> => {
    if (options.http2 !== "only") return { fallback };
    fallback?.destroy();
    throw new HandshakeError(0, "WS_ERR_HTTP2_UNAVAILABLE", `a WebSocket over HTTP/2 was required, but ${reason}`);
  };
  if (!target.secure) return unavailable("HTTP/2 WebSockets need wss:// (HTTP/2 is chosen by ALPN during the TLS handshake)");
  if (network.openHttp2Stream === undefined) return unavailable(`the ${network.name} network cannot open HTTP/2 streams`);
  const core = new Http2ClientProtocol({
    authority: options.host ?? target.host,
    path: target.path,
    origin: options.origin,
    protocols: options.protocols,
    headers,
    maxMessageSize: options.maxMessageSize,
    maxFrameSize: options.maxFrameSize,
    isUtf8: network.isUtf8,
    extensions: options.extensions,
    maskFrames: options.maskFrames,
    streamMessages: options.handlers?.chunk !== undefined,
  });
  const opening = await network.openHttp2Stream({
    hostname: target.hostname,
    port: target.port,
    tls: options.tls ?? {},
    fields: core.requestFields,
    timeout,
  });
  if (opening.kind === "http/1.1") return unavailable(opening.reason, opening.transport);
  if (opening.kind === "unavailable") return unavailable(opening.reason);
  const transport = opening.transport;
  const events = core.receiveResponse(opening.status, transport.headers);
  const first = events[0];
  if (first?.type === "handshake-error") {
    if (first.error instanceof ExtensionNegotiationError) {
      // The 200 arrived: the queued close frame (1010) says why before the stream ends.
      transport.start({ data() {}, drain() {}, end() {}, close() {} });
      writeOutgoing(core.dataToSend(), transport);
    } else {
      transport.destroy();
    }
    throw first.error;
  }
  if (first?.type !== "response") throw new HandshakeError(opening.status, "WS_ERR_UNEXPECTED_RESPONSE", "no response event");
  const ws = clientConnection(core, transport, first, target.path, options, policy);
  transport.start({
    data: (chunk) => ws[kData](chunk),
    drain: () => ws[kDrain](),
    end: () => ws[kEnd](),
    close: () => ws[kClose](),
  });
  ws.open(events.slice(1));
  return { ws };
}
