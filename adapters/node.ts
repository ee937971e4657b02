/**
 * Node adapter: `node:net` and `node:tls` sockets as wsport transports, and
 * an `upgrade` handler for existing `node:http`/`node:https` servers. Also
 * runs on Deno and Bun through their Node compatibility.
 *
 * @module
 */

import { Buffer, isUtf8 } from "node:buffer";
import * as net from "node:net";
import * as tls from "node:tls";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import * as dns from "node:dns";
import * as os from "node:os";
import process from "node:process";
import { isMainThread } from "node:worker_threads";
import type { Server } from "../src/server.ts";
import type { BroadcastChannelLike } from "../src/broadcast.ts";
import { WebSocketError } from "../src/errors.ts";
import { preparePrivilegeDrop } from "../src/privileges.ts";
import { coalesce } from "../src/write_queue.ts";
import {
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  type PeerCertificate,
  toPeerCertificate,
  type Transport,
  type TransportEvents,
} from "../src/transport.ts";

// --- transport ---

// Socket listeners are shared functions that find their transport through a
// symbol on the socket (as ws's kWebSocket): no closures per connection.
const kTransport = Symbol("wsport.transport");
type WithTransport = net.Socket & { [kTransport]: NodeTransport };

function onData(this: WithTransport, chunk: Uint8Array): void {
  // A plain Uint8Array view (no copy): messages reach users as Uint8Array on every runtime, not Buffer.
  this[kTransport].events?.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
}
function onDrain(this: WithTransport): void {
  this[kTransport].events?.drain();
}
function onEnd(this: WithTransport): void {
  this[kTransport].events?.end();
}
function onError(this: WithTransport, error: Error): void {
  this[kTransport].error = error;
}
function onClose(this: WithTransport): void {
  const transport = this[kTransport];
  transport.events?.close(transport.error);
}

function peerCertificateOf(socket: tls.TLSSocket): PeerCertificate | undefined {
  // authorizationError is typed as an Error but is a code string ("UNABLE_TO_VERIFY_LEAF_SIGNATURE").
  return toPeerCertificate(socket.getPeerCertificate(), socket.authorized, socket.authorizationError);
}

/** A `net.Socket` (or `tls.TLSSocket`) as a {@link Transport}. */
export class NodeTransport implements Transport {
  readonly raw: net.Socket;
  readonly secure: boolean;
  /** The certificate the TLS peer presented (read once the TLS handshake is done), if any. */
  readonly peerCertificate: PeerCertificate | undefined;
  /** @internal */
  events: TransportEvents | undefined;
  /** @internal */
  error: Error | undefined;
  #prefix: Uint8Array | undefined;

  /**
   * @param socket The socket.
   * @param prefix Bytes already read from it (by `node:http`), delivered first.
   */
  constructor(socket: net.Socket, prefix?: Uint8Array) {
    this.raw = socket;
    this.secure = socket instanceof tls.TLSSocket;
    // Adapters hand over TLS sockets after their handshake ('secureConnection', 'secureConnect'),
    // so the certificate is known now; read once, while the socket is sure to be open.
    this.peerCertificate = this.secure ? peerCertificateOf(socket as tls.TLSSocket) : undefined;
    this.#prefix = prefix;
    socket.setNoDelay(true);
    (socket as WithTransport)[kTransport] = this;
    // From the start: an error before start() must not become an uncaught 'error' event.
    socket.on("error", onError);
  }

  start(events: TransportEvents): void {
    const socket = this.raw;
    this.events = events;
    const prefix = this.#prefix;
    this.#prefix = undefined;
    if (prefix) events.data(prefix);
    socket.on("data", onData);
    socket.on("drain", onDrain);
    socket.on("end", onEnd);
    socket.on("close", onClose);
  }

  write(chunks: readonly Uint8Array[]): void {
    const socket = this.raw;
    if (socket.destroyed || socket.writableEnded) return;
    const batch = chunks.length === 1 ? chunks : coalesce(chunks);
    if (batch.length === 1) {
      socket.write(batch[0]!);
      return;
    }
    // Corked writes leave as one writev: a large payload is not copied behind its header.
    socket.cork();
    for (const chunk of batch) socket.write(chunk);
    socket.uncork();
  }

  get bufferedAmount(): number {
    return this.raw.writableLength;
  }

  end(): void {
    if (!this.raw.writableEnded) this.raw.end();
  }

  destroy(): void {
    this.raw.destroy();
  }

  pause(): void {
    this.raw.pause();
  }

  resume(): void {
    this.raw.resume();
  }

  get remoteAddress(): string {
    return this.raw.remoteAddress ?? "";
  }

  get remotePort(): number {
    return this.raw.remotePort ?? 0;
  }

  get localAddress(): string {
    return this.raw.localAddress ?? "";
  }

  get localPort(): number {
    return this.raw.localPort ?? 0;
  }
}

// --- network ---

function listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener> {
  if (options.reusePort && !nodeNetHasReusePort()) {
    return Promise.reject(new WebSocketError(
      "WS_ERR_REUSE_PORT_UNSUPPORTED",
      `node:net has reusePort from Node 22.12 and 23.1, this is Node ${process.versions.node}: ` +
        "give each worker its own port, or share one port between node:cluster processes (see clusterChannel)",
    ));
  }
  const onSocket = (socket: net.Socket) => accept(new NodeTransport(socket));
  const server: net.Server = options.tls
    ? tls.createServer({
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.ca,
      requestCert: options.tls.requestCert ?? false,
      rejectUnauthorized: options.tls.rejectUnauthorized ?? true,
      allowHalfOpen: true,
    }, onSocket)
    : net.createServer({ noDelay: true, allowHalfOpen: true }, onSocket);
  // A failed TLS handshake is that client's problem, not the server's.
  server.on("tlsClientError", (_error: Error, socket: Duplex) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.hostname, ...(options.reusePort ? { reusePort: true } : {}) }, () => {
      server.off("error", reject);
      const address = server.address() as net.AddressInfo;
      resolve({
        hostname: address.address,
        port: address.port,
        raw: server,
        // net.Server.close() stops listening at once but calls back only when every connection
        // has ended; the contract is the former.
        close: () => new Promise<void>((done) => {
          server.close();
          setImmediate(done);
        }),
      });
    });
  });
}

function connect(options: ConnectOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = options.tls
      ? tls.connect({
        host: options.hostname,
        port: options.port,
        servername: options.tls.servername ?? (net.isIP(options.hostname) ? undefined : options.hostname),
        ca: options.tls.ca,
        cert: options.tls.cert,
        key: options.tls.key,
        rejectUnauthorized: options.tls.rejectUnauthorized ?? true,
        allowHalfOpen: true, // honoured by tls.connect, missing from its type
      } as tls.ConnectionOptions)
      : net.connect({ host: options.hostname, port: options.port, allowHalfOpen: true });
    const ready = options.tls ? "secureConnect" : "connect";
    socket.once("error", reject);
    socket.once(ready, () => {
      socket.off("error", reject);
      resolve(new NodeTransport(socket));
    });
  });
}

/**
 * Whether `node:net` takes `reusePort`: Node 22.12+ and 23.1+ (Deno's and
 * Bun's `node:net` report later versions and honour it too). Older Nodes
 * ignore the option, so a second listener would fail with EADDRINUSE.
 */
function nodeNetHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** PTR names of an address through the system's resolver configuration (c-ares; /etc/hosts included). */
function reverseLookup(address: string): Promise<string[]> {
  return dns.promises.reverse(address);
}

/**
 * The Node network: `node:net` / `node:tls` listen and connect, Node's
 * native UTF-8 check, reverse DNS (`node:dns`), the host name (`node:os`)
 * and the uid/gid switch (`process.setgroups/setgid/setuid`; main thread only).
 */
export const nodeNetwork: Network = {
  name: "node",
  listen,
  connect,
  isUtf8,
  reverseLookup,
  hostname: () => os.hostname(),
  prepareDropPrivileges: (ids) => preparePrivilegeDrop(process, ids, "node", isMainThread),
};

// --- node:http integration ---

/**
 * An `upgrade` listener for an existing `node:http` or `node:https` server,
 * as ws's `handleUpgrade`: the request node:http parsed is handed to the
 * wsport server (made with `createServer`), which validates it, routes it
 * to a protocol and serves the connection.
 *
 * @param server A wsport server (it need not listen).
 * @returns The listener for `httpServer.on("upgrade", ...)`.
 * @example
 * ```ts
 * const wss = createServer({ protocols: [{ name: "chat", message: (ws, m) => ws.send(m) }] });
 * httpServer.on("upgrade", upgradeHandler(wss));
 * ```
 */
export function upgradeHandler(server: Server): (request: IncomingMessage, socket: Duplex, head: Uint8Array) => void {
  return (request, socket, head) => {
    // The head is re-serialised so the core validates it exactly as if it had read it itself.
    const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
    const raw = request.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    const text = lines.join("\r\n") + "\r\n\r\n";
    const bytes = new Uint8Array(text.length + head.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
    bytes.set(head, text.length);
    server.adopt(new NodeTransport(socket as net.Socket, bytes));
  };
}

// --- node:cluster ---

/** A cluster channel's message on the IPC channel between a worker process and the primary. */
interface ClusterEnvelope {
  wsportChannel: string;
  data: unknown;
}

function isClusterEnvelope(message: unknown): message is ClusterEnvelope {
  return typeof message === "object" && message !== null && typeof (message as ClusterEnvelope).wsportChannel === "string";
}

// The IPC channel serialises as JSON unless the primary chose "advanced": bytes travel as base64 to survive both.
function toIpc(data: unknown): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    out[key] = value instanceof Uint8Array ? { wsportBytes: Buffer.from(value.buffer, value.byteOffset, value.length).toString("base64") } : value;
  }
  return out;
}

function fromIpc(data: unknown): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const bytes = (value as { wsportBytes?: unknown } | null)?.wsportBytes;
    out[key] = typeof bytes === "string" ? new Uint8Array(Buffer.from(bytes, "base64")) : value;
  }
  return out;
}

/**
 * A channel between the worker processes of `node:cluster`, for
 * `serve({ broadcastChannel: clusterChannel("chat") })`: `BroadcastChannel`
 * only reaches the threads of one process, and cluster workers are
 * processes. Messages go through the IPC channel to the primary, which
 * must call {@link relayClusterChannels} to pass them on to the other workers.
 *
 * @param name Servers with the same name hear each other.
 * @returns The channel (call in a cluster worker).
 * @throws WebSocketError `"WS_ERR_NO_IPC"` in a process without an IPC channel to a primary.
 * @example
 * ```ts
 * // in each cluster worker
 * const server = await serve({ port: 9001, broadcastChannel: clusterChannel("chat"), protocols });
 * ```
 */
export function clusterChannel(name: string): BroadcastChannelLike {
  if (typeof process.send !== "function") {
    throw new WebSocketError("WS_ERR_NO_IPC", "clusterChannel needs an IPC channel to the primary: use it in a node:cluster worker");
  }
  const listeners = new Set<(event: { data: unknown }) => void>();
  const onMessage = (message: unknown) => {
    if (!isClusterEnvelope(message) || message.wsportChannel !== name) return;
    const event = { data: fromIpc(message.data) };
    for (const listener of listeners) listener(event);
  };
  process.on("message", onMessage);
  return {
    postMessage: (data) => void process.send?.({ wsportChannel: name, data: toIpc(data) } satisfies ClusterEnvelope),
    addEventListener: (_type, listener) => void listeners.add(listener),
    close: () => {
      process.off("message", onMessage);
      listeners.clear();
    },
  };
}

/** The members of `node:cluster`'s primary side that {@link relayClusterChannels} uses. */
export interface ClusterPrimary {
  readonly workers?: Record<string, { send(message: unknown): boolean; isConnected(): boolean } | undefined>;
  on(event: "message", listener: (worker: unknown, message: unknown) => void): unknown;
  off(event: "message", listener: (worker: unknown, message: unknown) => void): unknown;
}

/**
 * In the `node:cluster` primary: passes every {@link clusterChannel}
 * message from one worker to all the others (never back to the sender).
 *
 * @param cluster The `node:cluster` module.
 * @returns A function that stops relaying.
 * @example
 * ```ts
 * import cluster from "node:cluster";
 * if (cluster.isPrimary) {
 *   relayClusterChannels(cluster);
 *   for (let i = 0; i < 4; i++) cluster.fork();
 * }
 * ```
 */
export function relayClusterChannels(cluster: ClusterPrimary): () => void {
  const onMessage = (from: unknown, message: unknown) => {
    if (!isClusterEnvelope(message)) return;
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker !== undefined && worker !== from && worker.isConnected()) worker.send(message);
    }
  };
  cluster.on("message", onMessage);
  return () => void cluster.off("message", onMessage);
}
