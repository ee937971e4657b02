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
import type { Server } from "../src/services/server.ts";
import { useNetworkFeatures } from "../src/services/network_features.ts";
import { loadBufferutil } from "../src/transport/native_mask.ts";
import { sha1From } from "../src/transport/native_sha1.ts";
import { createHash } from "node:crypto";
import { preparePrivilegeDrop } from "../src/transport/privileges.ts";
import { coalesce } from "../src/transport/write_queue.ts";
import {
  type ClientTlsOptions,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  type PeerCertificate,
  type ServerTlsOptions,
  type Transport,
  type TransportEvents,
} from "../src/transport/transport.ts";
import { toPeerCertificate } from "../src/transport/tls.ts";
import { nodeHttp2Support } from "./http2_support.ts";
import { zlibCodec } from "./zlib.ts";
import { hybridCodec } from "../src/core/extensions/hybrid_codec.ts";
import { pakoCodec } from "../src/core/extensions/pako_codec.ts";

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

/** @internal The certificate a `node:tls` socket's peer presented, in wsport's form. */
export function peerCertificateOf(socket: tls.TLSSocket): PeerCertificate | undefined {
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
  const onSocket = (socket: net.Socket) => accept(new NodeTransport(socket));
  const server: net.Server = options.tls
    ? tls.createServer(tlsServerOptions(options.tls), onSocket)
    : net.createServer({ noDelay: true, allowHalfOpen: true }, onSocket);
  return bind(server, options);
}

/** @internal The `node:tls` options of a server with these TLS options (half-open connections allowed). */
export function tlsServerOptions(options: ServerTlsOptions): tls.TlsOptions & { allowHalfOpen: boolean } {
  return {
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    allowHalfOpen: true,
  };
}

/**
 * @internal Listens with a `node:net` or `node:tls` server and resolves with
 * it as a {@link Listener}; `closing` runs when the listener is closed.
 */
export function bind(server: net.Server, options: ListenOptions, closing?: () => void): Promise<Listener> {
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
          closing?.();
          setImmediate(done);
        }),
      });
    });
  });
}

/** @internal The `node:tls` options of a client connection to `hostname` with these TLS options. */
export function tlsConnectOptions(hostname: string, port: number, options: ClientTlsOptions): tls.ConnectionOptions {
  return {
    host: hostname,
    port,
    servername: options.servername ?? (net.isIP(hostname) ? undefined : hostname),
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    allowHalfOpen: true, // honoured by tls.connect, missing from its type
  } as tls.ConnectionOptions;
}

function connect(options: ConnectOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = options.tls
      ? tls.connect(tlsConnectOptions(options.hostname, options.port, options.tls))
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

// --- Response bodies ---

/**
 * The symbol under which Node's fetch implementation (undici) keeps a
 * `Response`'s state, whose `body.source` is the string or bytes it was
 * made from. Found once, by probing; undefined if undici's shape ever
 * changes, and then every body is read through its stream, as elsewhere.
 */
const undiciState: symbol | undefined = (() => {
  try {
    const probe = new Response("probe");
    const symbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === "state");
    const body = symbol === undefined ? undefined : (probe as unknown as Record<symbol, { body?: { source?: unknown; length?: unknown } }>)[symbol]?.body;
    return body?.source === "probe" && body.length === 5 ? symbol : undefined;
  } catch {
    return undefined;
  }
})();

/** The string or bytes a Response was made from, when nothing has read it; see {@link Network.fixedResponseBody}. */
function fixedResponseBody(response: Response): Uint8Array | string | undefined {
  if (undiciState === undefined || response.bodyUsed) return undefined;
  const body = (response as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[undiciState]?.body;
  if (body == null || body.stream?.locked) return undefined;
  const source = body.source;
  if (typeof source === "string" || source instanceof Uint8Array) return source;
  return source instanceof ArrayBuffer ? new Uint8Array(source) : undefined;
}

/**
 * The Node network: `node:net` / `node:tls` listen and connect, Node's
 * native UTF-8 check, `Buffer.allocUnsafeSlow` for received payloads, reverse DNS (`node:dns`), the host name (`node:os`)
 * and the uid/gid switch (`process.setgroups/setgid/setuid`; main thread only).
 */
export const nodeNetwork: Network = {
  name: "node",
  reusePort: nodeNetHasReusePort() ? { supported: true } : {
    supported: false,
    reason: `node:net has reusePort from Node 22.12 and 23.1, this is Node ${process.versions.node}: ` +
      "give each worker its own port, or share one port between node:cluster processes (see clusterChannel)",
  },
  listen,
  connect,
  sha1: sha1From(createHash),
  isUtf8,
  // A plain Uint8Array (not a Buffer, whose slice() shares) over memory not zero-filled first.
  allocateUninitialized: (size) => new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size),
  // pako below 16 KiB (no thread hop per message), node:zlib's streams from there (2-3x pako's
  // speed at 64 KiB); inflating likewise from 4 KiB compressed (bench/codec.md).
  deflateCodec: hybridCodec(pakoCodec, zlibCodec()),
  // bufferutil masks faster than V8 from 32 bytes (Node 20: 2x at 64 B, 6x at 64 KiB).
  nativeMask: () => loadBufferutil(32),
  fixedResponseBody,
  reverseLookup,
  hostname: () => os.hostname(),
  prepareDropPrivileges: (ids) => preparePrivilegeDrop(process, ids, "node", isMainThread),
  // HTTP/2 (RFC 8441) through the runtime's node:http2 and node:tls, loaded on first use.
  ...nodeHttp2Support,
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
 * import http from "node:http";
 * import { createServer } from "wsport";
 * import { upgradeHandler } from "wsport/node";
 *
 * const wss = createServer({ protocols: [{ name: "chat", message: (ws, m) => void ws.send(m) }] });
 * const httpServer = http.createServer((_request, response) => response.end("hello"));
 * httpServer.on("upgrade", upgradeHandler(wss));
 * httpServer.listen(8080);
 * ```
 */
export function upgradeHandler(server: Server): (request: IncomingMessage, socket: Duplex, head: Uint8Array) => void {
  void useNetworkFeatures(nodeNetwork);
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

export { clusterChannel, type ClusterPrimary, relayClusterChannels } from "./node_cluster.ts";
