/**
 * HTTP/2 adapter (RFC 8441): `node:http2` streams as wsport transports, a
 * TLS listener that speaks HTTP/2 and HTTP/1.1 on one port (ALPN), pooled
 * client sessions that carry several WebSockets each, and a `stream`
 * handler for an existing `node:http2` server. The same file runs on Node,
 * Deno and Bun through their `node:http2` and `node:tls`.
 *
 * @module
 */

import http2 from "node:http2";
import type * as net from "node:net";
import process from "node:process";
import * as tls from "node:tls";
import { WebSocketError } from "../src/core/errors.ts";
import type { Server } from "../src/services/server.ts";
import type { Http2ListenOptions } from "../src/transport/http2.ts";
import type { Listener, PeerInfo, Transport } from "../src/transport/transport.ts";
import { bind, NodeTransport, tlsServerOptions } from "./node.ts";
import { type Connection, connectionOf, NO_CONNECTION, NodeHttp2StreamTransport, toFields } from "./node_http2_stream.ts";

// --- server ---

/** Why this runtime cannot serve HTTP/2 on wsport's terms, or undefined when it can. */
function serverUnsupported(): string | undefined {
  if (typeof http2.performServerHandshake !== "function") {
    return `node:http2 of ${runtimeName()} has no performServerHandshake (Node 20.12 and 21.7 added it), ` +
      "which wsport needs to serve HTTP/2 and HTTP/1.1 on one port";
  }
  return undefined;
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  return `Node ${process.versions.node}`;
}

/**
 * What the server's SETTINGS say: extended CONNECT on (RFC 8441 section 3),
 * and at most 128 streams open per connection (as nginx; node:http2's
 * default is 2^32 - 1), so one client cannot hold unbounded streams.
 */
export const HTTP2_SETTINGS: http2.Settings = { enableConnectProtocol: true, maxConcurrentStreams: 128 };

/** The HTTP/2 side of one TLS connection: its streams, and closing it once idle. */
class ServerSession {
  #open = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly session: http2.ServerHttp2Session,
    readonly connection: Connection,
    readonly idleTimeout: number,
  ) {
    this.#armIdle();
  }

  streamOpened(stream: http2.Http2Stream): void {
    this.#open++;
    clearTimeout(this.#idle);
    stream.once("close", () => {
      if (--this.#open === 0) this.#armIdle();
    });
  }

  #armIdle(): void {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.session.close(), this.idleTimeout);
  }

  stop(): void {
    clearTimeout(this.#idle);
  }
}

/**
 * Listens on one TLS port for HTTP/2 and HTTP/1.1, chosen by ALPN: `h2`
 * connections become HTTP/2 sessions advertising
 * SETTINGS_ENABLE_CONNECT_PROTOCOL, whose streams go to `accept`; others
 * (`http/1.1` or no ALPN) go to `accept` as TLS connections, exactly as
 * the Node network's `listen` would hand them over.
 *
 * @param options Address, TLS, the per-connection admission check, the idle timeout.
 * @param accept Receives HTTP/1.1 connections and HTTP/2 streams.
 * @returns The listener; closing it also sends GOAWAY on every session.
 */
export function listenHttp2(options: Http2ListenOptions, accept: (transport: Transport) => void): Promise<Listener> {
  const unsupported = serverUnsupported();
  if (unsupported !== undefined) return Promise.reject(new WebSocketError("WS_ERR_HTTP2_UNSUPPORTED", unsupported));
  const sessions = new Set<ServerSession>();
  const startSession = (socket: tls.TLSSocket) => {
    const connection = connectionOf(socket);
    const peer: PeerInfo = { remoteAddress: connection.remoteAddress, remotePort: connection.remotePort, raw: socket, peerCertificate: connection.peerCertificate };
    if (!options.admit(peer)) {
      socket.destroy();
      return;
    }
    // The listener keeps half-open TLS connections for HTTP/1.1; an HTTP/2 session must see the peer's EOF as the end.
    socket.allowHalfOpen = false;
    const session = http2.performServerHandshake(socket, { settings: HTTP2_SETTINGS });
    const entry = new ServerSession(session, connection, options.idleTimeout);
    sessions.add(entry);
    session.on("error", () => {}); // its streams report it; the session just goes
    session.on("close", () => {
      entry.stop();
      sessions.delete(entry);
    });
    session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      entry.streamOpened(stream);
      accept(new NodeHttp2StreamTransport(stream, toFields(headers), connection, false));
    });
  };
  const server = tls.createServer({ ...tlsServerOptions(options.tls), ALPNProtocols: ["h2", "http/1.1"] }, (socket) => {
    if (socket.alpnProtocol === "h2") startSession(socket);
    else accept(new NodeTransport(socket));
  });
  // GOAWAY: no new streams; open ones (WebSockets in their closing handshake) finish.
  return bind(server, options, () => {
    for (const entry of sessions) {
      entry.stop();
      entry.session.close();
    }
  });
}

/**
 * A `stream` listener for an existing `node:http2` server (created with
 * `settings: { enableConnectProtocol: true }`), as `upgradeHandler` is for
 * `node:http`: each extended CONNECT for websocket is handed to the wsport
 * server (made with `createServer`), which checks it, routes it and serves
 * the WebSocket. Returns false for every other stream, which stays yours.
 * With the compatibility API, call it from the server's `connect` event:
 * `(request) => handle(request.stream, request.headers)`.
 *
 * @param server A wsport server (it need not listen).
 * @returns `(stream, headers) => boolean`: true when the stream was taken.
 * @example
 * ```ts
 * import * as http2 from "node:http2";
 * import { createServer } from "wsport";
 * import { HTTP2_SETTINGS, http2StreamHandler } from "wsport/http2";
 *
 * const wss = createServer({ protocols: [{ name: "chat", message: (ws, m) => ws.send(m) }] });
 * const handle = http2StreamHandler(wss);
 * const h2server = http2.createServer({ settings: HTTP2_SETTINGS });
 * h2server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
 *   if (handle(stream, headers)) return;
 *   stream.respond({ ":status": 200 });
 *   stream.end("hello");
 * });
 * ```
 */
export function http2StreamHandler(server: Server): (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean {
  return (stream, headers) => {
    if (headers[":method"] !== "CONNECT" || headers[":protocol"] === undefined) return false;
    const socket = stream.session?.socket;
    const connection = socket ? connectionOf(socket as net.Socket) : NO_CONNECTION;
    server.adopt(new NodeHttp2StreamTransport(stream, toFields(headers), connection, false));
    return true;
  };
}

export { closeHttp2Sessions, openHttp2Stream } from "./node_http2_client.ts";
export { NodeHttp2StreamTransport } from "./node_http2_stream.ts";
