/**
 * The seam between the runtime-agnostic services and a runtime's sockets.
 * An adapter turns a native socket into a {@link Transport} and a native
 * listener into a {@link Network}; everything above this file is written
 * once for every runtime.
 *
 * @module
 */

import type { DeflateCodec } from "../core/extensions/deflate_codec.ts";
import type { NativeMaskOption } from "./native_mask.ts";
import type { Http2ConnectOptions, Http2ListenOptions, Http2Opening } from "./http2.ts";
import type { ClientTlsOptions, PeerCertificate, ServerTlsOptions } from "./tls.ts";

export type { ClientTlsOptions, PeerCertificate, ServerTlsOptions, VerifyClient } from "./tls.ts";

/** What a transport reports. Each callback is called synchronously by the adapter. */
export interface TransportEvents {
  /** Bytes arrived. The chunk is the service's (it keeps it and may unmask in place): the adapter must not reuse its memory. */
  data(chunk: Uint8Array): void;
  /** Everything written so far has been handed to the operating system. */
  drain(): void;
  /** The peer half-closed (EOF). */
  end(): void;
  /** The transport is closed for good; called exactly once, last. */
  close(error?: Error): void;
}

/** A connected byte stream: a TCP or TLS socket, an in-memory pipe, a WHATWG stream pair. */
export interface Transport {
  /** Starts delivering events; called once, by the service that owns the transport. */
  start(events: TransportEvents): void;
  /**
   * Writes the chunks in order, as one batch (one system call where the
   * runtime allows). Never blocks: bytes the OS cannot take yet are kept
   * and counted in {@link bufferedAmount} until `drain`.
   */
  write(chunks: readonly Uint8Array[]): void;
  /** Bytes accepted by {@link write} and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /** Half-closes after the pending writes. */
  end(): void;
  /** Closes now, dropping pending writes. */
  destroy(): void;
  /** Stops reading: TCP flow control then reaches the peer. */
  pause(): void;
  /** Resumes reading. */
  resume(): void;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Whether the bytes travel over TLS. */
  readonly secure: boolean;
  /**
   * The certificate the peer presented over TLS, once the TLS handshake is
   * done: the client's on a server (with `requestCert`), the server's on a
   * client. Undefined without TLS, without a certificate, and on networks
   * that cannot read it (Deno's own sockets).
   */
  readonly peerCertificate?: PeerCertificate | undefined;
  /** The runtime's own socket object, for what wsport does not wrap. */
  readonly raw: unknown;
}

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


/** Where to listen. */
export interface ListenOptions {
  hostname: string;
  port: number;
  tls?: ServerTlsOptions;
  /**
   * Share the port with other listeners that ask for it too (Linux
   * `SO_REUSEPORT`): the kernel spreads connections between them. Only
   * where {@link Network.reusePort} says it is supported.
   */
  reusePort?: boolean;
}

/** Where to connect. */
export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Use TLS with these options (an empty object for the defaults). */
  tls?: ClientTlsOptions;
}

/** A listening socket. */
export interface Listener {
  readonly hostname: string;
  /** The port actually bound (useful after listening on port 0). */
  readonly port: number;
  /** Stops accepting; resolves when the listening socket is closed. */
  close(): Promise<void>;
  /** The runtime's own listener object. */
  readonly raw: unknown;
}

/** Whether a network can share a port between listeners; see {@link Network.reusePort}. */
export type ReusePortSupport = { readonly supported: true } | { readonly supported: false; readonly reason: string };

/** What a runtime adapter provides. */
export interface Network {
  /** The runtime family, e.g. `"node"`. */
  readonly name: string;
  /** A native whole-buffer UTF-8 check, when the runtime has a fast one (`node:buffer`'s `isUtf8`). */
  readonly isUtf8?: (bytes: Uint8Array) => boolean;
  /**
   * A native masking routine for large payloads (bufferutil, when the
   * application installed it), loaded on first use; the services install
   * it in the core when they listen or connect.
   */
  nativeMask?(): Promise<NativeMaskOption | undefined>;
  /**
   * Allocates a plain `Uint8Array` of its own `ArrayBuffer` without
   * zero-filling it, when the runtime can (Node's `Buffer.allocUnsafeSlow`):
   * the core uses it for received payloads over 4 KiB, which it overwrites
   * whole before anyone sees them.
   */
  readonly allocateUninitialized?: (size: number) => Uint8Array;
  /** A synchronous native SHA-1 (for `Sec-WebSocket-Accept`), when the runtime has one. */
  readonly sha1?: (data: Uint8Array) => Uint8Array;
  /**
   * The permessage-deflate codec this runtime runs best (bench/codec.md);
   * used by `perMessageDeflate()` without a `codec` option. Default: pako.
   */
  readonly deflateCodec?: DeflateCodec;
  /**
   * The body of a `Response` made from a fixed string or bytes and not read
   * yet, when this runtime can tell without reading its stream; undefined
   * otherwise (the services then read the stream). On Node, reading a
   * small body through its stream costs more than all the rest of the answer.
   */
  readonly fixedResponseBody?: (response: Response) => Uint8Array | string | undefined;
  /**
   * Whether several listeners can share a port here (Linux `SO_REUSEPORT`,
   * the `reusePort` listen option), or why not. Servers refuse `reusePort`
   * up front where it is unsupported: a runtime that ignored the option
   * would fail the second listener with EADDRINUSE, and Deno without
   * `--unstable-net` would exit the process. Absent: unsupported.
   */
  readonly reusePort?: ReusePortSupport;
  /**
   * Listens and hands every accepted connection to `accept`, before any
   * byte is read from it.
   */
  listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener>;
  /** Opens a connection (TCP, or TLS when `options.tls` is set). */
  connect(options: ConnectOptions): Promise<Transport>;
  /**
   * Listens on one TLS port for HTTP/2 (ALPN `h2`: WebSockets as extended
   * CONNECT streams, RFC 8441, and plain requests, each handed to `accept`
   * as an `Http2StreamTransport`) and HTTP/1.1 (ALPN `http/1.1` or none:
   * each connection handed to `accept` as usual). Absent on networks that
   * cannot; rejects with `WS_ERR_HTTP2_UNSUPPORTED` where the runtime lacks
   * what it needs.
   */
  listenHttp2?(options: Http2ListenOptions, accept: (transport: Transport) => void): Promise<Listener>;
  /**
   * Opens a WebSocket as an HTTP/2 stream on the connection to that origin
   * (one per origin and TLS options, reused), or says why it cannot.
   */
  openHttp2Stream?(options: Http2ConnectOptions): Promise<Http2Opening>;
  /**
   * Reverse DNS: the host names of an IP address (PTR records, or what the
   * system resolver says), without trailing dots. Rejects when there is none.
   */
  reverseLookup?(address: string): Promise<string[]>;
  /** This host's name, as the operating system reports it. */
  hostname?(): string;
  /**
   * Checks at once that the process can switch to this user and group
   * (throwing an error that says why not), and returns the function that
   * makes the switch: supplementary groups cleared, then setgid, then
   * setuid. The server calls it once its listener is bound.
   */
  prepareDropPrivileges?(ids: { uid?: number | string; gid?: number | string }): () => void;
}
