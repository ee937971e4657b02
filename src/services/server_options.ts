/**
 * What a server is made of: its options (every limit and timeout with a
 * safe default), the subprotocols it serves and the answers its hooks give.
 *
 * @module
 */

import type { HandshakeRequest } from "../core/handshake.ts";
import type { HeadLimits } from "../core/http/head.ts";
import type { ServerExtensionFactory } from "../core/extensions/extension.ts";
import type { Network, PeerInfo, ServerTlsOptions } from "../transport/transport.ts";
import type { BroadcastChannelLike, ChannelEngine } from "./pubsub/channel_engine.ts";
import type { PubSubEngine } from "./pubsub/engine.ts";
import type { ConnectionPolicy, Handlers } from "./connection.ts";
import type { WebSocketConnection } from "./connection.ts";

/**
 * A named subprotocol: its handlers and how to make each connection's data.
 * The client's first offered name that matches a protocol is chosen; a
 * client that offers none of them gets the first protocol, unnamed.
 */
export interface Subprotocol<Data = any> extends Handlers<Data> {
  /** The `Sec-WebSocket-Protocol` token. */
  name: string;
  /** Creates the per-connection data when a connection opens. */
  data?(request: HandshakeRequest, peer: PeerInfo): Data;
}

/** A handshake refusal from {@link ServeOptions.filterHandshake}. */
export interface Rejection {
  status: number;
  body?: string;
  headers?: [string, string][];
}

/** Options of {@link serve}. Every limit and timeout has a safe default. */
export interface ServeOptions extends Partial<ConnectionPolicy> {
  /** Port to listen on; 0 picks a free one (read it from `server.port`). Default 0. */
  port?: number;
  /** Interface to bind. Default "0.0.0.0". */
  hostname?: string;
  /** TLS certificate and key (PEM), and optional client-certificate checks. */
  tls?: ServerTlsOptions;
  /**
   * Also speak HTTP/2 on the TLS port (needs `tls`): a client that chooses
   * `h2` by ALPN opens WebSockets as streams of one connection (RFC 8441
   * extended CONNECT; browsers do when the page came over HTTP/2), and
   * `fetch` answers its plain requests; HTTP/1.1 clients are served as
   * before on the same port. Where the network cannot, `serve` rejects with
   * a `WebSocketError` coded `"WS_ERR_HTTP2_UNSUPPORTED"` saying why.
   * Default false.
   */
  http2?: boolean;
  /** The subprotocols served; the first is the default and also serves clients that offer none. */
  protocols?: Subprotocol[];
  /**
   * Answers plain HTTP requests on the same port: a WHATWG `Request` (its
   * body a stream fed as the bytes arrive, its `signal` aborted when the
   * client goes away) in, a `Response` (streamed out as it is produced) out;
   * `undefined` gives 404, a throw or rejection 500. Connections are kept
   * alive between requests and pipelined requests are answered in order.
   * Without it, a request that is not a WebSocket upgrade gets 426.
   */
  fetch?(request: Request, peer: PeerInfo): Response | undefined | Promise<Response | undefined>;
  /** Sees each new TCP connection before any byte is read; return false to refuse it. */
  filterConnection?(peer: PeerInfo): boolean;
  /** Sees each valid handshake (and the protocol chosen); return a {@link Rejection} to refuse it. */
  filterHandshake?(request: HandshakeRequest, protocol: string, peer: PeerInfo): Rejection | undefined | Promise<Rejection | undefined>;
  /**
   * Time allowed to receive a request head, ms: from the connection's start
   * for the first, from its first byte for a later one on a kept-alive
   * connection. A client that sends nothing, or its head too slowly, is
   * closed. Default 5000.
   */
  handshakeTimeout?: number;
  /**
   * Time a connection may stay idle between plain-HTTP requests before the
   * server closes it, ms; 0 for no limit. (To close after every answer, set
   * `maxRequestsPerConnection` to 1.) Default 5000.
   */
  keepAliveTimeout?: number;
  /**
   * Time `fetch` has to return its `Response`, ms: past it the client gets
   * 503 and the request's `signal` aborts (with a `TimeoutError`). A
   * streamed body may then take as long as it needs. 0 for no limit.
   * Default 30000.
   */
  fetchTimeout?: number;
  /**
   * Longest silence while a request body is being received, ms (the time
   * the application takes to read it does not count): past it the client
   * gets 408 (or the answer is cut short) and the connection closes. 0 for
   * no limit. Default 30000.
   */
  bodyTimeout?: number;
  /** Plain-HTTP requests served on one connection; the answer to the last says `Connection: close`. Default 1000. */
  maxRequestsPerConnection?: number;
  /** Largest message accepted, bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Extensions the server can negotiate, e.g. `[perMessageDeflate()]`.
   * Each takes the first of the client's offers it accepts. Default none.
   */
  extensions?: readonly ServerExtensionFactory[];
  /**
   * Decides per connection whether an extension may be negotiated
   * (libwebsockets' `CONFIRM_EXTENSION_OKAY`): return false to leave it out.
   */
  confirmExtension?(name: string, request: HandshakeRequest, protocol: string, peer: PeerInfo): boolean;
  /** Largest frame accepted, bytes. Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /** Limits on the request head. Default 8 KiB, 64 headers. */
  headLimits?: Partial<HeadLimits>;
  /**
   * Largest plain-HTTP request body, bytes: a number for every route, or a
   * function of the request (its URL, method and headers; the body not yet
   * read) for a limit per route. A `Content-Length` above it gets 413
   * before a byte of the body is read; a chunked body, once it passes it.
   * Default 1 MiB.
   *
   * @example
   * ```ts
   * import { serve } from "wsport";
   *
   * await serve({
   *   fetch: () => new Response("ok"),
   *   maxHttpBodySize: (request) => new URL(request.url).pathname === "/upload" ? 1 << 30 : 64 * 1024,
   * });
   * ```
   */
  maxHttpBodySize?: number | ((request: Request, peer: PeerInfo) => number);
  /** Where to listen: the runtime's network by default; a `MemoryNetwork` in tests. */
  network?: Network;
  /**
   * Several servers, one port (Linux `SO_REUSEPORT`): every worker listens on
   * the same port and the kernel spreads connections between them. Supported
   * by `Bun.listen`, `Deno.listen` (with `--unstable-net`) and `node:net` from
   * Node 22.12 / 23.1 (and the `node:net` of Deno and Bun); elsewhere `serve`
   * rejects with a `WebSocketError` coded `"WS_ERR_REUSE_PORT_UNSUPPORTED"`.
   */
  reusePort?: boolean;
  /**
   * Links this server to the servers of other workers (libwebsockets'
   * `fork_service_loop`): `broadcast` and `publish` also reach their
   * connections, and theirs reach this server's. A name opens a
   * `BroadcastChannel` (which reaches the workers of one process: threads,
   * not processes); an object is used as the channel, e.g. `wsport/node`'s
   * `clusterChannel` across `node:cluster` processes. Each message is
   * delivered once per server, never back to the sender. A shorthand for
   * `pubsub: new ChannelEngine(broadcastChannel)`; give one or the other.
   */
  broadcastChannel?: string | BroadcastChannelLike;
  /**
   * The engine that carries `broadcast` and `publish` to other servers and
   * theirs to this one: across machines, `redisEngine` from `wsport/redis`
   * (with history, recovery and presence); within a machine, a
   * {@link ChannelEngine}. The server attaches it, and closes it when it closes.
   */
  pubsub?: PubSubEngine;
  /**
   * Once listening, switch the process to this user (libwebsockets'
   * `uid`): supplementary groups cleared, then setgid, then setuid. A name
   * or a numeric id. Main thread only. Refused before listening where the
   * runtime cannot do it (a `WebSocketError` coded
   * `"WS_ERR_PRIVILEGES_UNSUPPORTED"` says why: e.g. Deno, which has no
   * setgroups, while the process has supplementary groups). If the switch
   * itself fails, the listener is closed and `serve` rejects.
   */
  uid?: number | string;
  /** Once listening, switch the process to this group; see {@link ServeOptions.uid}. */
  gid?: number | string;
}

/** Options of {@link Server.broadcast}. */
export interface BroadcastOptions {
  /**
   * False: only the other servers' connections receive it (through the
   * `pubsub` engine), not this server's: for an application that serves
   * its own connections its own way. Default true.
   */
  local?: boolean;
}

/** Options of {@link Server.publish}. */
export interface PublishOptions extends BroadcastOptions {
  /** A connection that must not receive it (typically the one publishing). */
  except?: WebSocketConnection<any>;
}

/** Options of {@link Server.close}. */
export interface ShutdownOptions {
  /** Close code sent to every connection. Default 1001 (going away). */
  code?: number;
  reason?: string;
  /** How long to wait for closing handshakes before terminating, ms. Default: the `closeTimeout`. */
  timeout?: number;
}

/** Default of {@link ServeOptions.handshakeTimeout}. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5000;

/** Default of {@link ServeOptions.keepAliveTimeout} (as Node's `http.Server`). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT = 5000;

/** Default of {@link ServeOptions.fetchTimeout}. */
export const DEFAULT_FETCH_TIMEOUT = 30000;

/** Default of {@link ServeOptions.bodyTimeout}. */
export const DEFAULT_BODY_TIMEOUT = 30000;

/** Default of {@link ServeOptions.maxRequestsPerConnection} (nginx's `keepalive_requests`). */
export const DEFAULT_MAX_REQUESTS_PER_CONNECTION = 1000;
