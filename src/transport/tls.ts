/**
 * TLS at the seam: the options a server and a client take, the peer
 * certificate in one portable form, and its conversion from the
 * `getPeerCertificate()` form of `node:tls` and Bun.
 *
 * @module
 */

import type { PeerInfo } from "./transport.ts";

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
 * import type { TLSSocket } from "node:tls";
 *
 * declare const socket: TLSSocket;
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
