/**
 * The seam for HTTP/2 (RFC 8441 WebSockets, and plain HTTP/2 requests):
 * an HTTP/2 stream is a {@link Transport} whose request (or response) head
 * the runtime already parsed, and whose response head is sent apart from
 * its bytes. A {@link Network} that can speak HTTP/2 listens for it beside
 * HTTP/1.1 on one TLS port (ALPN), and opens WebSockets as streams on one
 * pooled connection per origin.
 *
 * @module
 */

import type { HeaderFields, Http2ResponseHead } from "../core/h2_handshake.ts";
import type { ClientTlsOptions, ConnectOptions, ListenOptions, PeerInfo, ServerTlsOptions, Transport } from "./transport.ts";

export type { HeaderFields, Http2ResponseHead } from "../core/h2_handshake.ts";

/** One HTTP/2 stream as a transport: DATA both ways, END_STREAM as half-close, RST_STREAM as an error. */
export interface Http2StreamTransport extends Transport {
  /** Tells an HTTP/2 stream from a byte-stream transport. */
  readonly kind: "http2-stream";
  /** The stream's identifier on its connection. */
  readonly streamId: number;
  /** The runtime's HTTP/2 session: streams with the same session share one TCP+TLS connection. */
  readonly session: unknown;
  /** Server: the request's fields; client: the response's. Pseudo-headers included, names lowercase. */
  readonly headers: HeaderFields;
  /**
   * Server side: sends the response HEADERS. Bytes written before it wait
   * for it; `end()` ends the stream after them.
   */
  respond(head: Http2ResponseHead): void;
}

/**
 * Whether a transport is an HTTP/2 stream.
 *
 * @param transport Any transport.
 * @returns True for an {@link Http2StreamTransport}.
 * @example
 * ```ts
 * import { isHttp2Stream, type WebSocketConnection } from "wsport";
 * declare const ws: WebSocketConnection;
 *
 * if (isHttp2Stream(ws.transport)) console.log("a WebSocket over HTTP/2, stream", ws.transport.streamId);
 * ```
 */
export function isHttp2Stream(transport: Transport): transport is Http2StreamTransport {
  return (transport as Partial<Http2StreamTransport>).kind === "http2-stream";
}

/** Where and how to listen for HTTP/2 and HTTP/1.1 on one TLS port. */
export interface Http2ListenOptions extends ListenOptions {
  tls: ServerTlsOptions;
  /**
   * Asked once per TLS connection that chose HTTP/2, before its first
   * frame (the connection filters of the server): false drops it.
   */
  admit(peer: PeerInfo): boolean;
  /** A connection without an open stream for this long is closed (GOAWAY), ms. */
  idleTimeout: number;
}

/** Where to open a WebSocket as an HTTP/2 stream. */
export interface Http2ConnectOptions extends ConnectOptions {
  tls: ClientTlsOptions;
  /** The extended CONNECT's fields, pseudo-headers first. */
  fields: HeaderFields;
  /** Give up on a new connection that has not said what it speaks after this long, ms. */
  timeout: number;
}

/** What came of opening a WebSocket as an HTTP/2 stream. */
export type Http2Opening =
  /** The server answered the extended CONNECT: its status and fields are `transport.headers`. */
  | { kind: "stream"; status: number; transport: Http2StreamTransport }
  /**
   * The server chose HTTP/1.1 by ALPN (or none): here is that TLS
   * connection, unused, for an HTTP/1.1 upgrade instead.
   */
  | { kind: "http/1.1"; transport: Transport; reason: string }
  /** The server speaks HTTP/2 but did not send SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 section 3). */
  | { kind: "unavailable"; reason: string };
