/**
 * The server: plain HTTP and WebSocket on one port, several named
 * subprotocols each with its own handlers and per-connection data (the
 * model of libwebsockets), broadcast and topics, filter hooks, timeouts
 * and graceful shutdown. Written once over {@link Network}, for every
 * runtime.
 *
 * @module
 */

import { InvalidStateError, WebSocketError } from "../core/errors.ts";
import type { HandshakeRequest } from "../core/handshake.ts";
import { WsReadyState } from "../core/protocol.ts";
import { DEFAULT_MAX_HTTP_BODY_SIZE, ServerProtocol } from "../core/server_protocol.ts";
import { isExtendedConnect } from "../core/h2_handshake.ts";
import { Http2ServerProtocol } from "../core/h2_server_protocol.ts";
import type { ServerExtensionFactory } from "../core/extensions/extension.ts";
import { defaultNetwork } from "../transport/default_network.ts";
import { type Http2StreamTransport, isHttp2Stream } from "../transport/http2.ts";
import type { Listener, ListenOptions, Network, PeerInfo, Transport } from "../transport/transport.ts";
import type { Timer } from "./clock.ts";
import { type ConnectionPolicy, type Message, resolvePolicy, WebSocketConnection } from "./connection.ts";
import { ChannelEngine } from "./pubsub/channel_engine.ts";
import type { PubSubEngine } from "./pubsub/engine.ts";
import { Fanout, type TopicListener } from "./pubsub/fanout.ts";
import { useNetworkFeatures } from "./network_features.ts";
import { serveHttp2Request } from "./http2_bridge.ts";
import { Http2Handshake } from "./http2_handshake.ts";
import { type ConnectionHooks, HttpConnection } from "./http_connection.ts";
import type { HttpService } from "./http_exchange.ts";
import { type Http2HandshakeHooks, type Opening, peerOf } from "./opening.ts";
import {
  type BroadcastOptions,
  DEFAULT_BODY_TIMEOUT,
  DEFAULT_FETCH_TIMEOUT,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_KEEP_ALIVE_TIMEOUT,
  DEFAULT_MAX_REQUESTS_PER_CONNECTION,
  type PublishOptions,
  type Rejection,
  type ServeOptions,
  type ShutdownOptions,
  type Subprotocol,
} from "./server_options.ts";

export * from "./server_options.ts";

/**
 * Starts a server.
 *
 * @param options Port, protocols, HTTP handler, hooks, limits.
 * @returns The listening server.
 * @example
 * ```ts
 * const server = await serve({
 *   port: 9001,
 *   protocols: [{ name: "echo", message: (ws, message) => ws.send(message) }],
 * });
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<Server> {
  const server = new Server(options);
  await server.listen(options.network ?? await defaultNetwork());
  return server;
}

/**
 * Creates a server that does not listen: hand it connections yourself with
 * {@link Server.adopt} (e.g. from a `node:http` server's `upgrade` event,
 * see `wsport/node`'s `upgradeHandler`).
 *
 * @param options Protocols, hooks, limits (`port`, `hostname` and `tls` are ignored).
 * @returns The server.
 * @example
 * ```ts
 * const wss = createServer({ protocols: [{ name: "chat", message: (ws, m) => ws.send(m) }] });
 * ```
 */
export function createServer(options: ServeOptions = {}): Server {
  return new Server(options);
}

/** A listening server. Created by {@link serve}. */
export class Server {
  readonly #options: ServeOptions;
  readonly #policy: ConnectionPolicy;
  readonly #protocols = new Map<string, Subprotocol>();
  readonly #defaultProtocol: Subprotocol | undefined;
  readonly #connections = new Set<WebSocketConnection<any>>();
  readonly #byProtocol = new Map<string, Set<WebSocketConnection<any>>>();
  // Connections still speaking HTTP (plain requests, or an upgrade being decided).
  // Connections still speaking HTTP (before an upgrade), and HTTP/2 streams in their opening.
  readonly #handshaking = new Set<HttpConnection>();
  readonly #h2Opening = new Set<Transport>();
  readonly #protocolOf = new WeakMap<WebSocketConnection<any>, string>();
  // One function for every connection: a closure made in #decide would keep that call's whole scope (the request) alive.
  readonly #recover = (ws: WebSocketConnection<any>, topic: string, since: string) => this.#fanout.recover(ws, topic, since);
  readonly #forget = (ws: WebSocketConnection<any>) => {
    this.#connections.delete(ws);
    this.#byProtocol.get(this.#protocolOf.get(ws) ?? "")?.delete(ws);
    this.#fanout.forget(ws);
  };
  #listener: Listener | undefined;
  #isUtf8: ((bytes: Uint8Array) => boolean) | undefined;
  #closing = false;
  readonly #fanout: Fanout;
  #network: Network | undefined;
  readonly #hooks: ConnectionHooks;

  /** @internal Use {@link serve}. */
  constructor(options: ServeOptions) {
    this.#options = options;
    this.#policy = resolvePolicy(options);
    for (const protocol of options.protocols ?? []) {
      if (this.#protocols.has(protocol.name)) throw new TypeError(`protocol ${protocol.name} is defined twice`);
      this.#protocols.set(protocol.name, protocol);
      this.#byProtocol.set(protocol.name, new Set());
    }
    this.#defaultProtocol = options.protocols?.[0];
    this.#isUtf8 = options.network?.isUtf8;
    this.#network = options.network;
    if (options.pubsub !== undefined && options.broadcastChannel !== undefined) {
      throw new TypeError("pubsub and broadcastChannel are two ways to link servers: pass one");
    }
    const engine = options.pubsub ?? (options.broadcastChannel !== undefined ? new ChannelEngine(options.broadcastChannel) : undefined);
    this.#fanout = new Fanout(engine, [...this.#protocols.keys()], (protocol) => this.connectionsOf(protocol));
    this.#hooks = this.#connectionHooks();
  }

  /**
   * Starts listening (done by {@link serve}).
   *
   * @param network Where to listen.
   */
  async listen(network: Network): Promise<void> {
    if (this.#listener) throw new InvalidStateError("the server is already listening");
    this.#isUtf8 ??= network.isUtf8;
    await useNetworkFeatures(network);
    this.#network = network;
    if (this.#hooks.service) this.#hooks.service.fixedResponseBody ??= network.fixedResponseBody;
    const sharing = network.reusePort ?? { supported: false, reason: `the ${network.name} network cannot share a port (reusePort)` };
    if (this.#options.reusePort && !sharing.supported) throw new WebSocketError("WS_ERR_REUSE_PORT_UNSUPPORTED", sharing.reason);
    // Checked before binding: a server that cannot drop its privileges must not start with them.
    const dropPrivileges = this.#privilegeDrop(network);
    const where: ListenOptions = {
      hostname: this.#options.hostname ?? "0.0.0.0",
      port: this.#options.port ?? 0,
      tls: this.#options.tls,
      ...(this.#options.reusePort ? { reusePort: true } : {}),
    };
    const accept = (transport: Transport) => this.#accept(transport);
    this.#listener = this.#options.http2 ? await this.#listenHttp2(network, where, accept) : await network.listen(where, accept);
    if (dropPrivileges === undefined) return;
    try {
      dropPrivileges();
    } catch (error) {
      const listener = this.#listener;
      this.#listener = undefined;
      await listener.close();
      throw error;
    }
  }

  /** HTTP/2 and HTTP/1.1 on one TLS port, where the network can. */
  #listenHttp2(network: Network, where: ListenOptions, accept: (transport: Transport) => void): Promise<Listener> {
    const tls = where.tls;
    if (tls === undefined) {
      throw new WebSocketError("WS_ERR_HTTP2_REQUIRES_TLS", "http2 needs tls: clients choose HTTP/2 by ALPN during the TLS handshake (browsers speak it only over TLS)");
    }
    if (network.listenHttp2 === undefined) {
      throw new WebSocketError("WS_ERR_HTTP2_UNSUPPORTED", `the ${network.name} network cannot serve HTTP/2 (it has no listenHttp2)`);
    }
    return network.listenHttp2({
      ...where,
      tls,
      admit: (peer) => this.#admit(peer),
      // No keep-alive beyond the handshake time, as over HTTP/1.1: a connection without streams is closed.
      idleTimeout: this.#options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    }, accept);
  }

  /** What `uid`/`gid` ask for: the network's prepared switch, or an error now if it cannot make it. */
  #privilegeDrop(network: Network): (() => void) | undefined {
    const { uid, gid } = this.#options;
    if (uid === undefined && gid === undefined) return undefined;
    if (network.prepareDropPrivileges === undefined) {
      throw new WebSocketError("WS_ERR_PRIVILEGES_UNSUPPORTED", `the ${network.name} network cannot switch the process's user and group (uid/gid)`);
    }
    return network.prepareDropPrivileges({ uid, gid });
  }

  /**
   * Serves a connection accepted elsewhere, from its first byte (the
   * request head): the handshake, routing and everything after.
   *
   * @param transport A transport that has not been started.
   */
  adopt(transport: Transport): void {
    this.#accept(transport);
  }

  /** The port listened on. */
  get port(): number {
    return this.#listener?.port ?? 0;
  }

  /** The address listened on. */
  get hostname(): string {
    return this.#listener?.hostname ?? "";
  }

  /** The runtime's listener object. */
  get raw(): unknown {
    return this.#listener?.raw;
  }

  /** Every open WebSocket connection. */
  get connections(): ReadonlySet<WebSocketConnection<any>> {
    return this.#connections;
  }

  /**
   * The open connections of one protocol.
   *
   * @param protocol A protocol name.
   * @returns Its connections (empty for an unknown name).
   */
  connectionsOf(protocol: string): ReadonlySet<WebSocketConnection<any>> {
    return this.#byProtocol.get(protocol) ?? new Set();
  }

  /**
   * Sends a message to every open connection of a protocol
   * (libwebsockets' broadcast): the frame is serialised once and the same
   * bytes are queued on every connection, each under its own limits (one
   * over `maxBufferedAmount` is closed with 1008, as `send` would do; the
   * others are not affected). With `broadcastChannel`, the other workers'
   * servers send it to their connections of that protocol too.
   *
   * @param protocol A protocol name.
   * @param message Text or bytes (not copied: do not modify them until sent).
   * @param options `local: false` sends it to the other servers only.
   * @returns How many of this server's connections it was queued on.
   */
  broadcast(protocol: string, message: Message, options: BroadcastOptions = {}): number {
    return this.#fanout.broadcast(protocol, message, options.local ?? true);
  }

  /**
   * Sends a message to every connection subscribed to a topic (see
   * `ws.subscribe`), serialised once, and, with `broadcastChannel`, to the
   * subscribers on the other workers' servers.
   *
   * @param topic The topic.
   * @param message Text or bytes (not copied: do not modify them until sent).
   * @param options A connection to leave out; `local: false` to send it to the other servers only.
   * @returns How many of this server's connections it was queued on.
   */
  publish(topic: string, message: Message, options: PublishOptions = {}): number {
    return this.#fanout.publish(topic, message, options.except, options.local ?? true);
  }

  /**
   * Subscribes the server itself to a topic: `listener` gets every
   * message published on it, by this server and (through `pubsub`) the
   * others, as a connection would (on a topic with history, stamped with
   * its id, as the connections get it). For state the servers share (the
   * demo's connection list), or work done once per server.
   *
   * @param topic The topic.
   * @param listener Called with each message (an exception it throws is ignored).
   * @returns A function that unsubscribes it.
   */
  subscribe(topic: string, listener: TopicListener): () => void {
    return this.#fanout.listen(topic, listener);
  }

  /**
   * The number of this server's connections subscribed to a topic (the
   * whole deployment's: `pubsub.subscriberCount(topic)` on an engine with
   * presence, such as `wsport/redis`'s).
   *
   * @param topic The topic.
   * @returns Its local subscribers.
   */
  subscriberCount(topic: string): number {
    return this.#fanout.topics.subscribersOf(topic).size;
  }

  /** The engine that links this server to others (`pubsub`, or the one `broadcastChannel` made), if any. */
  get pubsub(): PubSubEngine | undefined {
    return this.#fanout.engine;
  }

  /**
   * Asks for the writable callback (`drain`) on every connection of a
   * protocol (libwebsockets' `callback_on_writable_all_protocol`): each
   * gets it as soon as it can take more, at once when nothing is buffered.
   *
   * @param protocol A protocol name.
   * @returns How many connections were asked.
   */
  requestWritable(protocol: string): number {
    const connections = this.connectionsOf(protocol);
    for (const ws of connections) ws.requestWritable();
    return connections.size;
  }

  /**
   * Looks up the host names of a peer's address (reverse DNS, as
   * libwebsockets' `lws_get_peer_addresses`). Nothing is looked up unless
   * asked: it costs a DNS query.
   *
   * @param peer A connection, or the `PeerInfo` the hooks receive.
   * @returns The names (possibly several), without a trailing dot.
   * @throws WebSocketError `"WS_ERR_LOOKUP_FAILED"` when the address has no name or the lookup failed;
   *   `"WS_ERR_LOOKUP_UNSUPPORTED"` on a network that cannot look names up.
   */
  async lookupPeer(peer: { readonly remoteAddress: string }): Promise<string[]> {
    const network = this.#network;
    if (network?.reverseLookup === undefined) {
      throw new WebSocketError("WS_ERR_LOOKUP_UNSUPPORTED", `the ${network?.name ?? "unknown"} network cannot look up host names`);
    }
    try {
      return await network.reverseLookup(peer.remoteAddress);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new WebSocketError("WS_ERR_LOOKUP_FAILED", `reverse lookup of ${peer.remoteAddress} failed: ${why}`, { cause });
    }
  }

  /**
   * This host's name, as the operating system reports it (libwebsockets'
   * `lws_canonical_hostname`).
   *
   * @returns The host name.
   * @throws WebSocketError `"WS_ERR_HOSTNAME_UNSUPPORTED"` on a network without one (e.g. the memory network),
   *   or before the server has a network.
   */
  canonicalHostname(): string {
    const network = this.#network;
    if (network?.hostname === undefined) {
      throw new WebSocketError("WS_ERR_HOSTNAME_UNSUPPORTED", `the ${network?.name ?? "unknown"} network cannot tell the host name`);
    }
    return network.hostname();
  }

  /**
   * Graceful shutdown: stops accepting, sends a close (1001) to every
   * connection, waits for the closing handshakes up to `timeout`, then
   * terminates the rest.
   *
   * @param options Close code, reason and timeout.
   * @returns Resolves when every connection and the listener are closed.
   */
  async close(options: ShutdownOptions = {}): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const engineClosed = this.#fanout.close();
    const listenerClosed = this.#listener?.close() ?? Promise.resolve();
    // Idle keep-alive connections close now; an exchange in progress finishes, with Connection: close.
    const http = [...this.#handshaking];
    for (const connection of http) connection.shutdown();
    const open = [...this.#connections];
    for (const ws of open) ws.close(options.code ?? 1001, options.reason ?? "server shutting down");
    const timeout = options.timeout ?? this.#policy.closeTimeout;
    let timer: Timer | undefined;
    await Promise.race([
      Promise.all([...open.map((ws) => ws.closed), ...http.map((connection) => connection.whenClosed())]),
      new Promise<void>((resolve) => (timer = this.#policy.clock.setTimer(timeout, resolve))),
    ]);
    timer?.cancel();
    for (const ws of this.#connections) ws.terminate();
    for (const connection of this.#handshaking) connection.transport.destroy();
    for (const transport of this.#h2Opening) transport.destroy();
    await Promise.all(open.map((ws) => ws.closed));
    await listenerClosed;
    await engineClosed;
  }

  // --- handshake phase ---

  /** The connection filters: the client certificate (the TLS handshake is done), then `filterConnection`. */
  #admit(peer: PeerInfo): boolean {
    const verifyClient = this.#options.tls?.verifyClient;
    if (verifyClient && !this.#safely(() => verifyClient(peer.peerCertificate, peer) === true, false)) return false;
    return !this.#closing && !(this.#options.filterConnection && !this.#safely(() => this.#options.filterConnection!(peer), false));
  }

  #accept(transport: Transport): void {
    // An HTTP/2 stream's connection was admitted once, before its first stream (or by the application's own server).
    if (isHttp2Stream(transport)) return this.#acceptStream(transport, peerOf(transport));
    // The peer is read when a hook asks (its address costs a system call and a string per connection),
    // here at once if a connection hook will see it.
    const peer = this.#options.tls?.verifyClient || this.#options.filterConnection ? peerOf(transport) : undefined;
    if (this.#closing || (peer !== undefined && !this.#admit(peer))) {
      transport.destroy();
      return;
    }
    const core = new ServerProtocol({
      maxMessageSize: this.#options.maxMessageSize,
      maxFrameSize: this.#options.maxFrameSize,
      headLimits: this.#options.headLimits,
      http: this.#options.fetch !== undefined,
      maxRequests: this.#options.maxRequestsPerConnection ?? DEFAULT_MAX_REQUESTS_PER_CONNECTION,
      isUtf8: this.#isUtf8,
      unmaskInPlace: true, // a transport's chunks are the service's (TransportEvents.data)
    });
    const connection = new HttpConnection(this.#hooks, transport, core, peer);
    this.#handshaking.add(connection);
    connection.start();
  }

  /** An HTTP/2 stream: a WebSocket (extended CONNECT) or a plain request for `fetch`. */
  #acceptStream(transport: Http2StreamTransport, peer: PeerInfo): void {
    if (this.#closing) {
      transport.destroy();
      return;
    }
    this.#h2Opening.add(transport);
    if (!isExtendedConnect(transport.headers)) {
      const limit = this.#options.maxHttpBodySize ?? DEFAULT_MAX_HTTP_BODY_SIZE;
      // (A per-route limit needs the Request, which this bridge builds after the check: the default applies.)
      const limits = { maxBodySize: typeof limit === "function" ? DEFAULT_MAX_HTTP_BODY_SIZE : limit, highWaterMark: this.#policy.highWaterMark };
      void serveHttp2Request(transport, peer, this.#options.fetch, limits).finally(() => this.#h2Opening.delete(transport));
      return;
    }
    const core = new Http2ServerProtocol({
      maxMessageSize: this.#options.maxMessageSize,
      maxFrameSize: this.#options.maxFrameSize,
      headLimits: this.#options.headLimits,
      isUtf8: this.#isUtf8,
    });
    new Http2Handshake(this.#h2Hooks, transport, core, peer).begin(this.#options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
  }

  /** What an {@link Http2Handshake} needs from its server: made once per server. */
  readonly #h2Hooks: Http2HandshakeHooks = {
    clock: () => this.#policy.clock,
    closeTimeout: () => this.#policy.closeTimeout,
    decide: (opening, request) => this.#decide(opening, request),
    upgraded: (transport) => void this.#h2Opening.delete(transport),
    closed: (transport) => void this.#h2Opening.delete(transport),
  };

  /** What every {@link HttpConnection} needs from this server: made once. */
  #connectionHooks(): ConnectionHooks {
    return {
      clock: this.#policy.clock,
      closeTimeout: this.#policy.closeTimeout,
      highWaterMark: this.#policy.highWaterMark,
      headTimeout: this.#options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      keepAliveTimeout: this.#options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT,
      service: this.#httpService(),
      decide: (connection, request) => this.#decide(connection, request),
      upgraded: (connection) => void this.#handshaking.delete(connection),
      closed: (connection) => void this.#handshaking.delete(connection),
    };
  }

  /** Plain HTTP as this server answers it, when it has `fetch`. */
  #httpService(): HttpService | undefined {
    const options = this.#options;
    const fetch = options.fetch;
    if (fetch === undefined) return undefined;
    const limit = options.maxHttpBodySize ?? DEFAULT_MAX_HTTP_BODY_SIZE;
    return {
      fetch: (request, peer) => fetch.call(options, request, peer),
      clock: this.#policy.clock,
      secure: options.tls !== undefined,
      fallbackHost: () => `${this.hostname}:${this.port}`,
      maxBodySize: typeof limit === "function" ? limit : () => limit,
      fetchTimeout: options.fetchTimeout ?? DEFAULT_FETCH_TIMEOUT,
      bodyTimeout: options.bodyTimeout ?? DEFAULT_BODY_TIMEOUT,
      fixedResponseBody: options.network?.fixedResponseBody, // set again once listening
    };
  }

  /** The extensions this connection may negotiate: the server's, minus those `confirmExtension` refuses. */
  #extensionsFor(request: HandshakeRequest, protocol: string, opening: Opening): readonly ServerExtensionFactory[] {
    const all = this.#options.extensions ?? [];
    const confirm = this.#options.confirmExtension;
    if (confirm === undefined || all.length === 0) return all;
    // Asked only about what this client offered.
    const offered = new Set(request.extensions.map((offer) => offer.name));
    const peer = opening.peer;
    return all.filter((factory) => offered.has(factory.name)).filter((factory) => this.#safely(() => confirm(factory.name, request, protocol, peer) === true, false));
  }

  /** Routes an upgrade request to a protocol, runs the handshake filter, and accepts or refuses. */
  async #decide(opening: Opening, request: HandshakeRequest): Promise<WebSocketConnection<any> | undefined> {
    // The peer is read only if a hook asks: its address costs a system call and objects per connection.
    const { core, transport } = opening;
    const chosen = request.protocols.find((name) => this.#protocols.has(name));
    const protocol = chosen !== undefined ? this.#protocols.get(chosen)! : this.#defaultProtocol;
    if (protocol === undefined) {
      core.reject(404, "no WebSocket endpoint here");
      return undefined;
    }
    let rejection: Rejection | undefined;
    if (this.#options.filterHandshake) {
      try {
        rejection = await this.#options.filterHandshake(request, chosen ?? "", opening.peer);
      } catch {
        rejection = { status: 500, body: "handshake filter failed" };
      }
    }
    if (opening.closed || this.#closing || core.readyState !== WsReadyState.CONNECTING) {
      transport.destroy();
      return undefined;
    }
    if (rejection) {
      core.reject(rejection.status, rejection.body ?? "", rejection.headers ?? []);
      return undefined;
    }
    let data: unknown;
    try {
      data = protocol.data?.(request, opening.peer);
    } catch {
      core.reject(500, "could not create the connection's data");
      return undefined;
    }
    // deferInput: frames that came with the request are parsed by ws.open(), after the open handler.
    core.accept({
      protocol: chosen,
      extensions: this.#extensionsFor(request, chosen ?? "", opening),
      streamMessages: protocol.chunk !== undefined,
      deferInput: true,
    });
    const ws = new WebSocketConnection<any>({
      core,
      transport,
      policy: this.#policy,
      handlers: protocol,
      data,
      protocol: chosen ?? "",
      extensions: core.extensionsHeader,
      path: request.path,
      onClosed: this.#forget,
      topics: this.#fanout.topics,
      recover: this.#recover,
    });
    this.#connections.add(ws);
    this.#byProtocol.get(protocol.name)!.add(ws);
    this.#protocolOf.set(ws, protocol.name);
    // Transport events go to the connection from now on, before open() runs any handler: some
    // runtimes deliver several chunks in one loop, or between tasks.
    opening.attach(ws);
    ws.open();
    return ws;
  }

  #safely<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch {
      return fallback;
    }
  }
}
