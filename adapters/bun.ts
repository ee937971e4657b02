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
import { loadBufferutil } from "../src/transport/native_mask.ts";
import { sha1From } from "../src/transport/native_sha1.ts";
import { createHash } from "node:crypto";
import { preparePrivilegeDrop } from "../src/transport/privileges.ts";
import { NO_WRITEV_COALESCE_LIMIT } from "../src/transport/write_queue.ts";
import { BaseTransport, type ReleaseReason } from "../src/transport/base_transport.ts";
import { type ConnectOptions, type Listener, type ListenOptions, type Network, type PeerCertificate, type Transport } from "../src/transport/transport.ts";
import { type NodeStyleCertificate, toPeerCertificate } from "../src/transport/tls.ts";
import { nodeHttp2Support } from "./http2_support.ts";

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
  allocUnsafe(size: number): Uint8Array;
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

/** A Bun socket as a {@link Transport}: the runtime glue of {@link BaseTransport}. */
export class BunTransport extends BaseTransport {
  raw: BunSocket | undefined; // set when the socket opens
  #readable = false; // open, and for TLS handshaken: Bun's pause() would stall a handshake
  #endReceived = false;
  #shut = false; // shutdown() done
  #error: Error | undefined;
  #connecting: { resolve(t: Transport): void; reject(e: Error): void } | undefined;
  #pendingAccept: PendingAccept | undefined;
  #peerCertificate: PeerCertificate | undefined;

  constructor(secure: boolean) {
    // Bun sockets have no writev: a frame header and a payload up to this size leave as one write.
    super({ secure, coalesceLimit: NO_WRITEV_COALESCE_LIMIT });
  }

  protected writeSome(chunk: Uint8Array): number {
    // Bun writes what the kernel takes and returns the count; `drain` says when it takes more.
    return this.raw?.write(chunk) ?? 0;
  }

  protected shutdownWrite(): void {
    this.#shut = true;
    this.raw?.shutdown(); // shutdown(SHUT_WR); Bun's socket.end() would close both directions
  }

  protected stopReading(): void {
    if (this.#readable) this.raw?.pause(); // stops reading: the peer meets TCP backpressure
  }

  protected startReading(): void {
    this.raw?.resume();
  }

  protected release(reason: ReleaseReason): void {
    // Both directions ended: Bun closes the socket itself.
    if (reason === "destroy") this.raw?.terminate();
  }

  /** Shared by every socket; `socket.data` is the transport. */
  static readonly handlers: BunHandlers = {
    binaryType: "uint8array", // plain Uint8Array chunks, not Buffer (whose slice() is a view)
    open(socket) {
      BunTransport.open(socket, socket.data); // a client: `data` was set by Bun.connect
    },
    data(socket, chunk) {
      // Bun hands each callback a fresh buffer (its own ArrayBuffer, checked on 1.4.5), so it is kept uncopied.
      socket.data.received(chunk);
    },
    drain(socket) {
      socket.data.writable();
    },
    end(socket) {
      const t = socket.data;
      if (t.#endReceived || t.isClosed) return; // Bun may repeat on_end after a partial write in it (oven-sh/bun#35939)
      t.#endReceived = true;
      t.receivedEnd();
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
        if (t.isPaused) socket.pause();
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
      if (t.isClosed) return; // destroy() reported it already
      // After shutdown(), Bun closes on the peer's FIN without calling `end`; report it as the FIN it is.
      if (!error && t.#shut && !t.#endReceived) BunTransport.handlers.end(socket);
      t.closedByRuntime(error);
    },
  };

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
    if (transport.isPaused && transport.#readable) socket.pause();
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
 * on 1 MiB of mixed UTF-8, Bun 1.4.5), `Bun.allocUnsafe` for received
 * payloads; `reusePort` (Linux), reverse DNS
 * (`node:dns`), the host name (`node:os`) and the uid/gid switch
 * (`process.setgroups/setgid/setuid`, main thread only).
 */
export const bunNetwork: Network = {
  name: "bun",
  // Elsewhere than Linux, Bun ignores the flag and a second listener fails with EADDRINUSE.
  reusePort: process.platform === "linux" ? { supported: true } : { supported: false, reason: `Bun.listen's reusePort works on Linux only, not ${process.platform}` },
  listen,
  connect: (options) => BunTransport.connect(options),
  sha1: sha1From(createHash),
  isUtf8,
  // A plain Uint8Array over memory not zero-filled first.
  allocateUninitialized: (size) => Bun.allocUnsafe(size),
  // below 512 bytes JavaScriptCore masks faster than the native call.
  nativeMask: () => loadBufferutil(512),
  // pako on JavaScriptCore is 3-4x slower than Bun's native zlib from 64 KiB up (bench/codec.md).
  deflateCodec: zlibCodec(),
  reverseLookup: (address) => dns.promises.reverse(address),
  hostname: () => os.hostname(),
  prepareDropPrivileges: (ids) => preparePrivilegeDrop(process, ids, "bun", isMainThread),
  // HTTP/2 (RFC 8441) through the runtime's node:http2 and node:tls, loaded on first use.
  ...nodeHttp2Support,
};
