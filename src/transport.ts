/**
 * The seam between the runtime-agnostic services and a runtime's sockets.
 * An adapter turns a native socket into a {@link Transport} and a native
 * listener into a {@link Network}; everything above this file is written
 * once for every runtime.
 *
 * @module
 */

import { type OutgoingData, SEND_EOF } from "./connection.ts";
import type { DeflateCodec } from "./extensions/deflate_codec.ts";
import type { PeerInfo } from "./server.ts";

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

/**
 * A certificate the peer presented during the TLS handshake, in the form
 * every runtime can give (built from `getPeerCertificate()` on Node and
 * Bun; Deno's own sockets expose none).
 */
export interface PeerCertificate {
  /** Subject attributes, e.g. `{ CN: "alice", O: "Example" }`; a repeated attribute gives an array. */
  readonly subject: Readonly<Record<string, string | string[]>>;
  /** Issuer attributes, in the same form as {@link PeerCertificate.subject}. */
  readonly issuer: Readonly<Record<string, string | string[]>>;
  /** The subjectAltName extension as OpenSSL prints it (`"DNS:localhost, IP Address:127.0.0.1"`), or `""`. */
  readonly subjectAltName: string;
  /** Serial number, upper-case hexadecimal. */
  readonly serialNumber: string;
  /** Start of the validity period. */
  readonly validFrom: Date;
  /** End of the validity period. */
  readonly validTo: Date;
  /** SHA-256 of the DER encoding, as colon-separated upper-case hex pairs (`"AB:CD:..."`). */
  readonly fingerprint256: string;
  /** The certificate in DER. */
  readonly raw: Uint8Array;
  /**
   * Whether the certificate verified against the trusted CAs (on a server,
   * its `ca`). Always true on a server with `rejectUnauthorized` on, which
   * refuses the others during the TLS handshake.
   */
  readonly authorized: boolean;
  /** Why verification failed (e.g. `"UNABLE_TO_VERIFY_LEAF_SIGNATURE"`), when {@link PeerCertificate.authorized} is false. */
  readonly authorizationError?: string;
}

/**
 * Decides whether a client may proceed, from the certificate it presented
 * (`undefined` when it presented none, or when none was asked for: set
 * `requestCert`). With `requestCert` it runs once the TLS handshake is done,
 * before any byte of the request is read. Return `true` to let it in;
 * `false` (or throwing) closes the connection: no HTTP response and no
 * WebSocket handshake. The counterpart of libwebsockets'
 * `LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION`.
 *
 * @param certificate The client's certificate, if any; `certificate.authorized` says whether it verified against `ca`.
 * @param peer Who is connecting, as the server's other hooks see it.
 * @returns True to accept the connection.
 */
export type VerifyClient = (certificate: PeerCertificate | undefined, peer: PeerInfo) => boolean;

/** TLS material for a server, in PEM, and the client-certificate policy. */
export interface ServerTlsOptions {
  /** The server's certificate chain (leaf first), in PEM. */
  cert: string;
  /** The server's private key, in PEM. */
  key: string;
  /** CA certificates used to verify client certificates (only these are trusted for clients). */
  ca?: string | string[];
  /**
   * Ask clients for a certificate. Not offered by `Deno.listenTls`: the Deno
   * network refuses it with an error (use the node network on Deno).
   */
  requestCert?: boolean;
  /**
   * With `requestCert`, refuse during the TLS handshake a client without a
   * certificate that verifies against `ca` (default true). `false` lets such
   * clients through, to {@link ServerTlsOptions.verifyClient} and the application.
   */
  rejectUnauthorized?: boolean;
  /**
   * Sees each client's certificate after the TLS handshake and can refuse
   * the connection; see {@link VerifyClient}. Runs in the server, before
   * `filterConnection`.
   */
  verifyClient?: VerifyClient;
}

/** TLS options for a client connection. */
export interface ClientTlsOptions {
  /**
   * CA certificates to trust, in PEM: on Node and Bun instead of the
   * runtime's bundled roots (as `node:tls`), on Deno in addition to them.
   */
  ca?: string | string[];
  /**
   * Verify the server's certificate (default true). `false` accepts any
   * certificate, e.g. a self-signed one (libwebsockets' `ssl = 2`); Deno has
   * no per-connection switch for it and its network refuses it with an error.
   */
  rejectUnauthorized?: boolean;
  /** Server name for SNI and verification (default: the host). */
  servername?: string;
  /** Client certificate chain (leaf first), in PEM, for servers that request one. */
  cert?: string;
  /** The client certificate's private key, in PEM. */
  key?: string;
}

/** Where to listen. */
export interface ListenOptions {
  hostname: string;
  port: number;
  tls?: ServerTlsOptions;
  /**
   * Share the port with other listeners that ask for it too (Linux
   * `SO_REUSEPORT`): the kernel spreads connections between them. A network
   * that cannot rejects with a `WebSocketError` coded
   * `"WS_ERR_REUSE_PORT_UNSUPPORTED"`.
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

/** What a runtime adapter provides. */
export interface Network {
  /** The runtime family, e.g. `"node"`. */
  readonly name: string;
  /** A native whole-buffer UTF-8 check, when the runtime has a fast one (`node:buffer`'s `isUtf8`). */
  readonly isUtf8?: (bytes: Uint8Array) => boolean;
  /**
   * The permessage-deflate codec this runtime runs best (bench/codec.md);
   * used by `perMessageDeflate()` without a `codec` option. Default: pako.
   */
  readonly deflateCodec?: DeflateCodec;
  /**
   * Listens and hands every accepted connection to `accept`, before any
   * byte is read from it.
   */
  listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener>;
  /** Opens a connection (TCP, or TLS when `options.tls` is set). */
  connect(options: ConnectOptions): Promise<Transport>;
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

// --- TLS peer certificates ---

/**
 * A certificate as `getPeerCertificate()` reports it on `node:tls` sockets
 * (Node, and the node:tls of Deno and Bun) and on Bun's own TLS sockets:
 * the members {@link toPeerCertificate} reads.
 */
export interface NodeStyleCertificate {
  subject?: Readonly<Record<string, string | string[] | undefined>>;
  issuer?: Readonly<Record<string, string | string[] | undefined>>;
  subjectaltname?: string;
  serialNumber?: string;
  valid_from?: string;
  valid_to?: string;
  fingerprint256?: string;
  raw?: Uint8Array;
}

/**
 * Converts a `getPeerCertificate()` result to the portable
 * {@link PeerCertificate}.
 *
 * @param certificate The runtime's certificate object; `null`, `undefined` or `{}` when the peer sent none.
 * @param authorized Whether it verified (the socket's `authorized`).
 * @param authorizationError Why not, as the runtime reports it (a code string or an error with `code`).
 * @returns The certificate, or undefined when there is none.
 * @example
 * ```ts
 * const certificate = toPeerCertificate(socket.getPeerCertificate(), socket.authorized, socket.authorizationError);
 * ```
 */
export function toPeerCertificate(
  certificate: NodeStyleCertificate | null | undefined,
  authorized: boolean,
  authorizationError?: unknown,
): PeerCertificate | undefined {
  const raw = certificate?.raw;
  if (certificate == null || raw === undefined || raw.length === 0) return undefined;
  const error = authorizationError as { code?: unknown; message?: unknown } | string | null | undefined;
  const reason = typeof error === "string" ? error : typeof error?.code === "string" ? error.code : typeof error?.message === "string" ? error.message : undefined;
  return {
    subject: nameOf(certificate.subject),
    issuer: nameOf(certificate.issuer),
    subjectAltName: certificate.subjectaltname ?? "",
    serialNumber: (certificate.serialNumber ?? "").toUpperCase(),
    validFrom: new Date(certificate.valid_from ?? NaN),
    validTo: new Date(certificate.valid_to ?? NaN),
    fingerprint256: certificate.fingerprint256 ?? "",
    // A plain Uint8Array over the same bytes, not a Buffer: the same type on every runtime.
    raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.length),
    authorized: authorized && reason === undefined,
    ...(authorized && reason === undefined ? {} : { authorizationError: reason ?? "certificate not verified" }),
  };
}

function nameOf(name: NodeStyleCertificate["subject"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(name ?? {})) if (value !== undefined) out[key] = value;
  return out;
}
