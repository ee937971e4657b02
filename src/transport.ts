/**
 * The seam between the runtime-agnostic services and a runtime's sockets.
 * An adapter turns a native socket into a {@link Transport} and a native
 * listener into a {@link Network}; everything above this file is written
 * once for every runtime.
 *
 * @module
 */

import { type OutgoingData, SEND_EOF } from "./connection.ts";

/** What a transport reports. Each callback is called synchronously by the adapter. */
export interface TransportEvents {
  /** Bytes arrived. The service keeps the chunk: the adapter must not reuse its memory. */
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
  /** The runtime's own socket object, for what wsport does not wrap. */
  readonly raw: unknown;
}

/** TLS material for a server, in PEM. */
export interface ServerTlsOptions {
  cert: string;
  key: string;
  /** CA certificates used to verify client certificates. */
  ca?: string | string[];
  /** Ask clients for a certificate. */
  requestCert?: boolean;
  /** With `requestCert`, refuse clients without a valid certificate (default true). */
  rejectUnauthorized?: boolean;
}

/** TLS options for a client connection. */
export interface ClientTlsOptions {
  /** CA certificates to trust, in PEM, in addition to or instead of the system's. */
  ca?: string | string[];
  /** Verify the server's certificate (default true). `false` accepts self-signed certificates. */
  rejectUnauthorized?: boolean;
  /** Server name for SNI and verification (default: the host). */
  servername?: string;
  /** Client certificate and key, in PEM. */
  cert?: string;
  key?: string;
}

/** Where to listen. */
export interface ListenOptions {
  hostname: string;
  port: number;
  tls?: ServerTlsOptions;
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

/** What a runtime adapter provides. */
export interface Network {
  /** The runtime family, e.g. `"node"`. */
  readonly name: string;
  /** A native whole-buffer UTF-8 check, when the runtime has a fast one (`node:buffer`'s `isUtf8`). */
  readonly isUtf8?: (bytes: Uint8Array) => boolean;
  /**
   * Listens and hands every accepted connection to `accept`, before any
   * byte is read from it.
   */
  listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener>;
  /** Opens a connection (TCP, or TLS when `options.tls` is set). */
  connect(options: ConnectOptions): Promise<Transport>;
}

/**
 * Writes what a sans-IO connection queued (from `dataToSend()`) to a
 * transport as one batch, and half-closes it if the batch ends with
 * {@link SEND_EOF}.
 *
 * @param items The queued output.
 * @param transport Where to write.
 * @returns True when the transport was half-closed.
 * @example
 * ```ts
 * writeOutgoing(connection.dataToSend(), transport);
 * ```
 */
export function writeOutgoing(items: readonly OutgoingData[], transport: Transport): boolean {
  if (items.length === 0) return false;
  let eof = false;
  const chunks: Uint8Array[] = [];
  for (const item of items) {
    if (item === SEND_EOF) eof = true;
    else chunks.push(item);
  }
  if (chunks.length > 0) transport.write(chunks);
  if (eof) transport.end();
  return eof;
}
