/**
 * Bun adapter: `Bun.listen` / `Bun.connect` sockets as wsport transports.
 *
 * Bun calls one shared set of handlers for every socket; the transport
 * lives in `socket.data`. Sockets are half-open (`allowHalfOpen: true`):
 * the peer's FIN is reported as `end` and the connection closes once this
 * side has ended too. `socket.write` takes what the kernel accepts and
 * returns the count; the rest waits in a {@link WriteQueue} for `drain`.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { zlibCodec } from "./zlib.ts";
import * as dns from "node:dns";
import * as os from "node:os";
import process from "node:process";
import { isMainThread } from "node:worker_threads";
import { WebSocketError } from "../src/core/errors.ts";
import { preparePrivilegeDrop } from "../src/transport/privileges.ts";
import { coalesce, WriteQueue } from "../src/transport/write_queue.ts";
import {
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  type PeerCertificate,
  type Transport,
  type TransportEvents,
} from "../src/transport/transport.ts";
import { type NodeStyleCertificate, toPeerCertificate } from "../src/transport/tls.ts";

// --- types (the part of Bun's API used here; bun-types has the real one) ---

/** The members of Bun's `Socket` used here. */
export interface BunSocket {
  data: BunTransport;
  write(bytes: Uint8Array): number;
  shutdown(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** TLS sockets: the peer's certificate, in node:tls's form (after the handshake). */
  getPeerCertificate?(): NodeStyleCertificate | undefined;
  /** TLS sockets: whether the peer's certificate verified. */
  readonly authorized?: boolean;
}
interface BunHandlers {
  binaryType: "uint8array";
  open?(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  handshake(socket: BunSocket, success: boolean, error: Error | null): void;
}
interface BunSocketOptions {
  hostname: string;
  port: number;
  allowHalfOpen: boolean;
  socket: BunHandlers;
  tls?: Record<string, unknown>;
  data?: BunTransport;
  reusePort?: boolean;
}
interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}
interface BunApi {
  listen(options: BunSocketOptions): BunListener;
  connect(options: BunSocketOptions): Promise<BunSocket>;
}
const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

// --- transport ---

/**
 * Time a client of a server with `requestCert` has to finish its TLS
 * handshake, ms: the default of node:tls's `handshakeTimeout`. Such
 * connections reach the server only after the handshake (as on node:tls),
 * so the server's own handshake timer does not cover it.
 */
const TLS_HANDSHAKE_TIMEOUT = 120_000;

/** A server connection held back until its TLS handshake is done. */
interface PendingAccept {
  accept(transport: Transport): void;
  /** `rejectUnauthorized`: a certificate that did not verify is refused. */
  strict: boolean;
  timer: ReturnType<typeof setTimeout>;
}

/** A Bun socket as a {@link Transport}. */
export class BunTransport implements Transport {
  readonly secure: boolean;
  raw: BunSocket | undefined; // set when the socket opens
  #events: TransportEvents | undefined;
  #queue = new WriteQueue();
  #paused = false;
  #readable = false; // open, and for TLS handshaken: Bun's pause() would stall a handshake
  #held: (Uint8Array | null)[] = []; // arrived before start() or while paused (null: EOF)
  #endReceived = false;
  #ended = false; // end() called; shutdown follows the queue
  #shut = false; // shutdown() done
  #closed = false;
  #error: Error | undefined;
  #connecting: { resolve(t: Transport): void; reject(e: Error): void } | undefined;
  #pendingAccept: PendingAccept | undefined;
  #peerCertificate: PeerCertificate | undefined;

  constructor(secure: boolean) {
    this.secure = secure;
  }

  start(events: TransportEvents): void {
    this.#events = events;
    if (this.#closed) queueMicrotask(() => events.close(this.#error)); // closed before start()
    else if (!this.#paused) this.#deliverHeld();
  }

  /** Shared by every socket; `socket.data` is the transport. */
  static readonly handlers: BunHandlers = {
    binaryType: "uint8array", // plain Uint8Array chunks, not Buffer (whose slice() is a view)
    open(socket) {
      BunTransport.open(socket, socket.data); // a client: `data` was set by Bun.connect
    },
    data(socket, chunk) {
      // Bun hands each callback a fresh buffer (its own ArrayBuffer, checked on 1.4.5), so it is kept uncopied.
      const t = socket.data;
      if (t.#events && !t.#paused && t.#held.length === 0) t.#events.data(chunk);
      else t.#held.push(chunk);
    },
    drain(socket) {
      const t = socket.data;
      const queue = t.#queue;
      if (queue.empty || t.#closed) return;
      while (!queue.empty) {
        const chunk = queue.peek()!;
        const n = socket.write(chunk);
        if (n > 0) queue.consume(n);
        if (n < chunk.length) return;
      }
      if (t.#ended) t.#shutdown();
      else t.#events?.drain();
    },
    end(socket) {
      const t = socket.data;
      if (t.#endReceived || t.#closed) return; // Bun may repeat on_end after a partial write in it (oven-sh/bun#35939)
      t.#endReceived = true;
      if (t.#events && !t.#paused && t.#held.length === 0) t.#events.end();
      else t.#held.push(null);
    },
    error(socket, error) {
      socket.data.#error ??= error;
    },
    handshake(socket, success, error) {
      const t = socket.data;
      const pending = t.#pendingAccept;
      if (pending) clearTimeout(pending.timer);
      t.#pendingAccept = undefined;
      // With success, `error` is a verification failure that rejectUnauthorized: false let through.
      if (success) t.#peerCertificate = toPeerCertificate(socket.getPeerCertificate?.(), socket.authorized ?? false, error);
      if (!success || (pending?.strict && error)) {
        // (A client certificate from another CA arrives here as success with an error; Bun closes it.)
        t.#error ??= error ?? new Error("TLS handshake failed");
        t.#connecting?.reject(t.#error); // Bun closes the socket next
        if (pending) t.destroy();
      } else {
        t.#readable = true;
        if (t.#paused) socket.pause();
        t.#connecting?.resolve(t);
        pending?.accept(t);
      }
      t.#connecting = undefined;
    },
    close(socket, error) {
      const t = socket.data;
      if (t.#pendingAccept) clearTimeout(t.#pendingAccept.timer); // never accepted: closed during its TLS handshake
      t.#pendingAccept = undefined;
      error ??= t.#error;
      t.#connecting?.reject(error ?? new Error("connection closed during the TLS handshake"));
      t.#connecting = undefined;
      if (t.#closed) return; // destroy() reported it already
      // After shutdown(), Bun closes on the peer's FIN without calling `end`; report it as the FIN it is.
      if (!error && t.#shut && !t.#endReceived) BunTransport.handlers.end(socket);
      t.#close(error);
    },
  };

  #deliverHeld(): void {
    while (this.#held.length > 0 && !this.#paused && !this.#closed) {
      const chunk = this.#held.shift()!;
      if (chunk === null) this.#events!.end();
      else this.#events!.data(chunk);
    }
    if (this.#held.length === 0 && !this.#paused) this.raw?.resume();
  }

  write(chunks: readonly Uint8Array[]): void {
    const socket = this.raw;
    if (this.#closed || this.#ended || socket === undefined) return;
    const batch = coalesce(chunks); // small chunks joined: one write, one syscall
    let i = 0;
    while (this.#queue.empty && i < batch.length) {
      const chunk = batch[i++]!;
      const n = socket.write(chunk);
      if (n < chunk.length) this.#queue.push([n > 0 ? chunk.subarray(n) : chunk]);
    }
    this.#queue.push(batch.slice(i));
  }

  get bufferedAmount(): number {
    return this.#queue.length;
  }

  end(): void {
    if (this.#closed || this.#ended) return;
    this.#ended = true;
    if (this.#queue.empty) this.#shutdown();
  }

  #shutdown(): void {
    this.#shut = true;
    this.raw?.shutdown(); // shutdown(SHUT_WR); Bun's socket.end() would close both directions
  }

  destroy(): void {
    if (this.#closed) return;
    this.#close(); // first: the close handler terminate() runs finds the transport closed
    this.raw?.terminate();
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#queue.clear();
    this.#events?.close(error);
  }

  pause(): void {
    this.#paused = true;
    if (this.#readable) this.raw?.pause(); // stops reading: the peer meets TCP backpressure
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#events) queueMicrotask(() => this.#deliverHeld());
  }

  get remoteAddress(): string {
    return this.raw?.remoteAddress ?? "";
  }

  get remotePort(): number {
    return this.raw?.remotePort ?? 0;
  }

  get localAddress(): string {
    return this.raw?.localAddress ?? "";
  }

  get localPort(): number {
    return this.raw?.localPort ?? 0;
  }

  /** The certificate the TLS peer presented, once the TLS handshake is done. */
  get peerCertificate(): PeerCertificate | undefined {
    return this.#peerCertificate;
  }

  /** Adopts an opened socket; what arrives before start() is held. */
  static open(socket: BunSocket, transport: BunTransport): void {
    transport.raw = socket;
    socket.data = transport;
    socket.setNoDelay(true);
    transport.#readable = !transport.secure;
    if (transport.#paused && transport.#readable) socket.pause();
  }

  /**
   * Hands a server's TLS connection to `accept` only once its TLS handshake
   * is done, so that its client certificate is known (for `requestCert`).
   *
   * @param transport The opened, not yet accepted, transport.
   * @param accept The listener's accept callback.
   * @param strict `rejectUnauthorized`: refuse a certificate that did not verify.
   */
  static acceptAfterHandshake(transport: BunTransport, accept: (transport: Transport) => void, strict: boolean): void {
    const timer = setTimeout(() => transport.destroy(), TLS_HANDSHAKE_TIMEOUT);
    (timer as { unref?(): void }).unref?.(); // the socket, not this timer, keeps the process alive
    transport.#pendingAccept = { accept, strict, timer };
  }

  static connect(options: ConnectOptions): Promise<Transport> {
    const { hostname, port, tls } = options;
    const transport = new BunTransport(tls !== undefined);
    return new Promise<Transport>((resolve, reject) => {
      if (tls) transport.#connecting = { resolve, reject };
      Bun.connect({
        hostname,
        port,
        allowHalfOpen: true,
        data: transport,
        socket: BunTransport.handlers,
        // Never `tls: {}`: Bun takes an empty object for plain TCP.
        tls: tls && { ca: tls.ca, cert: tls.cert, key: tls.key, serverName: tls.servername, rejectUnauthorized: tls.rejectUnauthorized ?? true },
      }).then(() => tls || resolve(transport), reject);
    });
  }
}

// --- network ---

function listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener> {
  const { hostname, port, tls } = options;
  if (options.reusePort && process.platform !== "linux") {
    // Elsewhere Bun ignores the flag and a second listener fails with EADDRINUSE.
    return Promise.reject(new WebSocketError("WS_ERR_REUSE_PORT_UNSUPPORTED", `Bun.listen's reusePort works on Linux only, not ${process.platform}`));
  }
  try {
    const server = Bun.listen({
      hostname,
      port,
      ...(options.reusePort ? { reusePort: true } : {}),
      allowHalfOpen: true,
      socket: {
        ...BunTransport.handlers,
        open(socket) {
          const transport = new BunTransport(tls !== undefined);
          BunTransport.open(socket, transport);
          if (tls?.requestCert) BunTransport.acceptAfterHandshake(transport, accept, tls.rejectUnauthorized ?? true);
          else accept(transport);
        },
      },
      tls: tls && { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requestCert ?? false, rejectUnauthorized: tls.rejectUnauthorized ?? true },
    });
    return Promise.resolve({
      hostname: server.hostname,
      port: server.port,
      raw: server,
      close: () => Promise.resolve(server.stop(false)),
    });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The Bun network: `Bun.listen` / `Bun.connect`, and Bun's native
 * `node:buffer` UTF-8 check (21.9 GB/s against 1.9 for a fatal TextDecoder
 * on 1 MiB of mixed UTF-8, Bun 1.4.5); `reusePort` (Linux), reverse DNS
 * (`node:dns`), the host name (`node:os`) and the uid/gid switch
 * (`process.setgroups/setgid/setuid`, main thread only).
 */
export const bunNetwork: Network = {
  name: "bun",
  listen,
  connect: (options) => BunTransport.connect(options),
  isUtf8,
  // pako on JavaScriptCore is 3-4x slower than Bun's native zlib from 64 KiB up (bench/codec.md).
  deflateCodec: zlibCodec(),
  reverseLookup: (address) => dns.promises.reverse(address),
  hostname: () => os.hostname(),
  prepareDropPrivileges: (ids) => preparePrivilegeDrop(process, ids, "bun", isMainThread),
};
