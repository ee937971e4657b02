/**
 * The server: plain HTTP and WebSocket on one port, several named
 * subprotocols each with its own handlers and per-connection data (the
 * model of libwebsockets), filter hooks, timeouts and graceful shutdown.
 * Written once over {@link Network}, for every runtime.
 *
 * @module
 */

import type { Clock, Timer } from "./clock.ts";
import { InvalidStateError } from "./errors.ts";
import { defaultNetwork } from "./default_network.ts";
import type { HandshakeRequest } from "./handshake.ts";
import type { HeadLimits, RequestHead } from "./http_head.ts";
import { ReadyState } from "./connection.ts";
import { ServerConnection } from "./server_connection.ts";
import type { Listener, Network, PeerCertificate, ServerTlsOptions, Transport, TransportEvents } from "./transport.ts";
import { writeOutgoing } from "./transport.ts";
import {
  type ConnectionPolicy,
  type Handlers,
  kClose,
  kData,
  kDrain,
  kEnd,
  kSendShared,
  type Message,
  resolvePolicy,
  WebSocketConnection,
} from "./websocket_connection.ts";
import type { WsEvent } from "./events.ts";
import type { ServerExtensionFactory } from "./extensions/extension.ts";
import { setDefaultDeflateCodec } from "./extensions/default_codec.ts";
import { type BroadcastChannelLike, BroadcastRelay, encodeSharedFrame, type RelayedKind, type SharedFrame } from "./broadcast.ts";
import { TopicRegistry } from "./topics.ts";
import { WebSocketError } from "./errors.ts";

/** Who is connecting. */
export interface PeerInfo {
  remoteAddress: string;
  remotePort: number;
  /** The runtime's socket object. */
  raw: unknown;
  /**
   * The certificate the client presented over TLS (servers with
   * `tls.requestCert`), or undefined; also on `ws.transport.peerCertificate`.
   */
  peerCertificate?: PeerCertificate | undefined;
}

/**
 * A named subprotocol: its handlers and how to make each connection's data.
 * The client's first offered name that matches a protocol is chosen; a
 * client that offers none of them gets the first protocol, unnamed.
 */
export interface Protocol<Data = any> extends Handlers<Data> {
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
  /** The subprotocols served; the first is the default and also serves clients that offer none. */
  protocols?: Protocol[];
  /** Answers plain HTTP requests on the same port (404 when it returns undefined). Without it, such requests get 426. */
  fetch?(request: Request, peer: PeerInfo): Response | undefined | Promise<Response | undefined>;
  /** Sees each new TCP connection before any byte is read; return false to refuse it. */
  filterConnection?(peer: PeerInfo): boolean;
  /** Sees each valid handshake (and the protocol chosen); return a {@link Rejection} to refuse it. */
  filterHandshake?(request: HandshakeRequest, protocol: string, peer: PeerInfo): Rejection | undefined | Promise<Rejection | undefined>;
  /** Time allowed for the whole opening handshake, ms. Default 5000. */
  handshakeTimeout?: number;
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
  /** Largest plain-HTTP request body, bytes. Default 1 MiB. */
  maxHttpBodySize?: number;
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
   * delivered once per server, never back to the sender.
   */
  broadcastChannel?: string | BroadcastChannelLike;
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

/** Options of {@link Server.publish}. */
export interface PublishOptions {
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
  readonly #protocols = new Map<string, Protocol>();
  readonly #defaultProtocol: Protocol | undefined;
  readonly #connections = new Set<WebSocketConnection<any>>();
  readonly #byProtocol = new Map<string, Set<WebSocketConnection<any>>>();
  readonly #handshaking = new Set<Transport>();
  readonly #protocolOf = new WeakMap<WebSocketConnection<any>, string>();
  readonly #forget = (ws: WebSocketConnection<any>) => {
    this.#connections.delete(ws);
    this.#byProtocol.get(this.#protocolOf.get(ws) ?? "")?.delete(ws);
  };
  #listener: Listener | undefined;
  #isUtf8: ((bytes: Uint8Array) => boolean) | undefined;
  #closing = false;
  readonly #topics = new TopicRegistry<WebSocketConnection<any>>();
  readonly #relay: BroadcastRelay | undefined;
  #network: Network | undefined;

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
    if (options.broadcastChannel !== undefined) {
      this.#relay = new BroadcastRelay(options.broadcastChannel, (kind, target, message) => this.#deliverRelayed(kind, target, message));
    }
  }

  /**
   * Starts listening (done by {@link serve}).
   *
   * @param network Where to listen.
   */
  async listen(network: Network): Promise<void> {
    if (this.#listener) throw new InvalidStateError("the server is already listening");
    this.#isUtf8 ??= network.isUtf8;
    if (network.deflateCodec) setDefaultDeflateCodec(network.deflateCodec);
    this.#network = network;
    // Checked before binding: a server that cannot drop its privileges must not start with them.
    const dropPrivileges = this.#privilegeDrop(network);
    this.#listener = await network.listen(
      {
        hostname: this.#options.hostname ?? "0.0.0.0",
        port: this.#options.port ?? 0,
        tls: this.#options.tls,
        ...(this.#options.reusePort ? { reusePort: true } : {}),
      },
      (transport) => this.#accept(transport),
    );
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
   * @returns How many of this server's connections it was queued on.
   */
  broadcast(protocol: string, message: Message): number {
    this.#relay?.post("broadcast", protocol, message);
    return this.#sendToAll(this.connectionsOf(protocol), message, undefined);
  }

  /**
   * Sends a message to every connection subscribed to a topic (see
   * `ws.subscribe`), serialised once, and, with `broadcastChannel`, to the
   * subscribers on the other workers' servers.
   *
   * @param topic The topic.
   * @param message Text or bytes (not copied: do not modify them until sent).
   * @param options A connection to leave out.
   * @returns How many of this server's connections it was queued on.
   */
  publish(topic: string, message: Message, options: PublishOptions = {}): number {
    this.#relay?.post("publish", topic, message);
    return this.#sendToAll(this.#topics.subscribersOf(topic), message, options.except);
  }

  /**
   * The number of this server's connections subscribed to a topic.
   *
   * @param topic The topic.
   * @returns Its local subscribers.
   */
  subscriberCount(topic: string): number {
    return this.#topics.subscribersOf(topic).size;
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

  /** Queues one serialisation of `message` on every open connection of `receivers` but `except`. */
  #sendToAll(receivers: ReadonlySet<WebSocketConnection<any>>, message: Message, except: WebSocketConnection<any> | undefined): number {
    let frame: SharedFrame | undefined;
    let count = 0;
    for (const ws of receivers) {
      if (ws === except || ws.readyState !== ReadyState.OPEN) continue;
      frame ??= encodeSharedFrame(message); // only if someone receives it
      if (ws[kSendShared](frame) !== "dropped") count++;
    }
    return count;
  }

  /** A broadcast or publication from another worker's server: for this server's connections only. */
  #deliverRelayed(kind: RelayedKind, target: string, message: Message): void {
    if (this.#closing) return;
    this.#sendToAll(kind === "broadcast" ? this.connectionsOf(target) : this.#topics.subscribersOf(target), message, undefined);
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
    this.#relay?.close();
    const listenerClosed = this.#listener?.close() ?? Promise.resolve();
    for (const transport of this.#handshaking) transport.destroy();
    const open = [...this.#connections];
    for (const ws of open) ws.close(options.code ?? 1001, options.reason ?? "server shutting down");
    const timeout = options.timeout ?? this.#policy.closeTimeout;
    let timer: Timer | undefined;
    await Promise.race([
      Promise.all(open.map((ws) => ws.closed)),
      new Promise<void>((resolve) => (timer = this.#policy.clock.setTimer(timeout, resolve))),
    ]);
    timer?.cancel();
    for (const ws of this.#connections) ws.terminate();
    await Promise.all(open.map((ws) => ws.closed));
    await listenerClosed;
  }

  // --- handshake phase ---

  #accept(transport: Transport): void {
    const peer: PeerInfo = { remoteAddress: transport.remoteAddress, remotePort: transport.remotePort, raw: transport.raw, peerCertificate: transport.peerCertificate };
    // TLS client-certificate check: the transport arrives with its TLS handshake done.
    const verifyClient = this.#options.tls?.verifyClient;
    if (verifyClient && !this.#safely(() => verifyClient(peer.peerCertificate, peer) === true, false)) {
      transport.destroy();
      return;
    }
    if (this.#closing || (this.#options.filterConnection && !this.#safely(() => this.#options.filterConnection!(peer), false))) {
      transport.destroy();
      return;
    }
    const core = new ServerConnection({
      maxMessageSize: this.#options.maxMessageSize,
      maxFrameSize: this.#options.maxFrameSize,
      headLimits: this.#options.headLimits,
      http: this.#options.fetch !== undefined,
      maxHttpBodySize: this.#options.maxHttpBodySize,
      isUtf8: this.#isUtf8,
    });
    this.#handshaking.add(transport);
    const handshake = new Handshake(this.#hooks, transport, core, peer);
    handshake.arm(this.#options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
    transport.start(handshake);
  }

  /** What a {@link Handshake} needs from its server: made once per server. */
  readonly #hooks: HandshakeHooks = {
    clock: () => this.#policy.clock,
    closeTimeout: () => this.#policy.closeTimeout,
    decide: (handshake, request) => this.#decide(handshake.core, handshake.transport, request, handshake.peer, () => handshake.closed),
    serveHttp: (handshake, head, body) => this.#serveHttp(handshake.core, head, body, handshake.peer),
    upgraded: (transport) => void this.#handshaking.delete(transport),
    closed: (transport) => void this.#handshaking.delete(transport),
  };

  /** The extensions this connection may negotiate: the server's, minus those `confirmExtension` refuses. */
  #extensionsFor(request: HandshakeRequest, protocol: string, peer: PeerInfo): readonly ServerExtensionFactory[] {
    const all = this.#options.extensions ?? [];
    const confirm = this.#options.confirmExtension;
    if (confirm === undefined || all.length === 0) return all;
    // Asked only about what this client offered.
    const offered = new Set(request.extensions.map((offer) => offer.name));
    return all.filter((factory) => offered.has(factory.name)).filter((factory) => this.#safely(() => confirm(factory.name, request, protocol, peer) === true, false));
  }

  /** Routes an upgrade request to a protocol, runs the handshake filter, and accepts or refuses. */
  async #decide(
    core: ServerConnection,
    transport: Transport,
    request: HandshakeRequest,
    peer: PeerInfo,
    isClosed: () => boolean,
  ): Promise<WebSocketConnection<any> | undefined> {
    const chosen = request.protocols.find((name) => this.#protocols.has(name));
    const protocol = chosen !== undefined ? this.#protocols.get(chosen)! : this.#defaultProtocol;
    if (protocol === undefined) {
      core.reject(404, "no WebSocket endpoint here");
      return undefined;
    }
    let rejection: Rejection | undefined;
    if (this.#options.filterHandshake) {
      try {
        rejection = await this.#options.filterHandshake(request, chosen ?? "", peer);
      } catch {
        rejection = { status: 500, body: "handshake filter failed" };
      }
    }
    if (isClosed() || this.#closing || core.readyState !== ReadyState.CONNECTING) {
      transport.destroy();
      return undefined;
    }
    if (rejection) {
      core.reject(rejection.status, rejection.body ?? "", rejection.headers ?? []);
      return undefined;
    }
    let data: unknown;
    try {
      data = protocol.data?.(request, peer);
    } catch {
      core.reject(500, "could not create the connection's data");
      return undefined;
    }
    const early = core.accept({ protocol: chosen, extensions: this.#extensionsFor(request, chosen ?? "", peer),
      streamMessages: protocol.chunk !== undefined,
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
      topics: this.#topics,
    });
    this.#connections.add(ws);
    this.#byProtocol.get(protocol.name)!.add(ws);
    this.#protocolOf.set(ws, protocol.name);
    ws.open(early);
    return ws;
  }

  async #serveHttp(core: ServerConnection, head: RequestHead, body: Uint8Array, peer: PeerInfo): Promise<void> {
    const method = head.method;
    let response: Response | undefined;
    let request: Request | undefined;
    try {
      request = toRequest(head, body, this.#options.tls !== undefined, `${this.hostname}:${this.port}`);
    } catch {
      response = textResponse(400, "Bad Request");
    }
    if (request) {
      try {
        response = (await this.#options.fetch!(request, peer)) ?? textResponse(404, "Not Found");
      } catch {
        response = textResponse(500, "Internal Server Error");
      }
    }
    response ??= textResponse(500, "Internal Server Error");
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (name !== "set-cookie") headers.push([name, value]);
    });
    for (const cookie of response.headers.getSetCookie?.() ?? []) headers.push(["set-cookie", cookie]);
    let bytes = new Uint8Array(await response.arrayBuffer());
    if (method === "HEAD") {
      if (!response.headers.has("content-length")) headers.push(["content-length", String(bytes.length)]);
      bytes = new Uint8Array(0);
    }
    core.respond({ status: response.status, reason: response.statusText || undefined, headers, body: bytes });
  }

  #safely<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch {
      return fallback;
    }
  }
}

function textResponse(status: number, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** Builds a WHATWG `Request` from a parsed head; throws on a target or header `Request` refuses. */
function toRequest(head: RequestHead, body: Uint8Array, secure: boolean, fallbackHost: string): Request {
  const target = head.target;
  let url: URL;
  try {
    url = /^https?:\/\//i.test(target)
      ? new URL(target)
      : new URL(target, `${secure ? "https" : "http"}://${head.headers.get("host") ?? fallbackHost}`);
  } catch {
    throw new TypeError("invalid request target or Host");
  }
  const headers = new Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  const hasBody = head.method !== "GET" && head.method !== "HEAD";
  return new Request(url, { method: head.method, headers, body: hasBody ? (body as Uint8Array<ArrayBuffer>) : undefined });
}

interface HandshakeHooks {
  clock(): Clock;
  closeTimeout(): number;
  decide(handshake: Handshake, request: HandshakeRequest): Promise<WebSocketConnection<any> | undefined>;
  serveHttp(handshake: Handshake, head: RequestHead, body: Uint8Array): Promise<void>;
  upgraded(transport: Transport): void;
  closed(transport: Transport): void;
}

/**
 * One connection's opening phase: reads the request under the handshake
 * timeout, then either answers it (refusal, plain HTTP) or hands every later
 * transport event to the {@link WebSocketConnection}. One object per
 * connection, rather than a set of closures: idle connections are many.
 */
class Handshake implements TransportEvents {
  ws: WebSocketConnection<any> | undefined;
  closed = false;
  #timer: Timer | undefined;

  constructor(
    readonly hooks: HandshakeHooks,
    readonly transport: Transport,
    readonly core: ServerConnection,
    readonly peer: PeerInfo,
  ) {}

  /** (Re)starts the timer that destroys the transport when it runs out. */
  arm(ms: number): void {
    this.#timer?.cancel();
    const transport = this.transport;
    this.#timer = this.hooks.clock().setTimer(ms, () => transport.destroy());
  }

  #stopTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  data(chunk: Uint8Array): void {
    if (this.ws) this.ws[kData](chunk);
    else this.#onEvents(this.core.receiveData(chunk));
  }

  drain(): void {
    this.ws?.[kDrain]();
  }

  end(): void {
    if (this.ws) this.ws[kEnd]();
    else this.#onEvents(this.core.receiveEof());
  }

  close(): void {
    this.closed = true;
    this.#stopTimer();
    this.hooks.closed(this.transport);
    this.ws?.[kClose]();
  }

  #onEvents(events: WsEvent[]): void {
    for (const event of events) {
      if (event.type === "request") {
        this.#stopTimer();
        void this.hooks.decide(this, event.request).then((ws) => {
          if (ws === undefined) return this.#flush();
          this.hooks.upgraded(this.transport);
          this.ws = ws;
        });
      } else if (event.type === "http-request") {
        this.#stopTimer();
        void this.hooks.serveHttp(this, event.request, event.body).then(() => !this.closed && this.#flush());
      }
    }
    this.#flush();
  }

  #flush(): void {
    // Refused or answered: the client gets closeTimeout to close its end.
    if (writeOutgoing(this.core.dataToSend(), this.transport)) this.arm(this.hooks.closeTimeout());
  }
}
