/**
 * The opening handshake (RFC 6455 section 4): the accept key, the checks a
 * server makes on a request and a client on a response, and the heads both
 * send. Failures are {@link HandshakeError} values carrying the HTTP status
 * to answer with.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { HandshakeError } from "./errors.ts";
import { type ExtensionOffer, hasToken, isToken, parseExtensions, parseTokenList } from "./http/header_values.ts";
import { type HeaderMap, type RequestHead, type ResponseHead, writeRequestHead, writeResponseHead } from "./http/head.ts";

export { reasonPhrase, rejectResponse } from "./http/response.ts";
import { sha1 } from "./sha1.ts";

/** The GUID RFC 6455 section 1.3 appends to the key. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version spoken (RFC 6455 section 4.1). */
export const WEBSOCKET_VERSION = "13";

const encoder = new TextEncoder();

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
 *
 * @param key The client's key, as sent.
 * @returns base64(SHA-1(key + GUID)).
 * @example
 * ```ts
 * acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * ```
 */
export function acceptKey(key: string): string {
  return encodeBase64(sha1(encoder.encode(key + WEBSOCKET_GUID)));
}

/**
 * Makes a new random `Sec-WebSocket-Key`: base64 of 16 random bytes.
 *
 * @returns The key.
 * @example
 * ```ts
 * generateKey().length; // 24
 * ```
 */
export function generateKey(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/** What a valid handshake request asks for. */
export interface HandshakeRequest {
  /** The request target, e.g. `/chat?room=1`. */
  path: string;
  host: string;
  /** `Origin`, or undefined when absent (non-browser clients). */
  origin: string | undefined;
  key: string;
  /** Subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** Extensions offered, in order. */
  extensions: ExtensionOffer[];
  head: RequestHead;
}

function reject(status: number, code: string, message: string, headers: [string, string][] = []): HandshakeError {
  return new HandshakeError(status, code, message, headers);
}

/**
 * Checks a request against RFC 6455 section 4.2.1. Statuses follow
 * python-websockets: 405 (+`Allow: GET`) for another method, 505 for an
 * HTTP version below 1.1, 426 (+`Upgrade: websocket`) when `Upgrade` or
 * `Connection` does not ask for the upgrade, 426 (+`Sec-WebSocket-Version:
 * 13`) for another protocol version, 400 for everything else.
 *
 * @param head The parsed request head.
 * @returns The request's parameters, or the error to answer with.
 * @example
 * ```ts
 * import { checkRequest, HandshakeError, RequestHeadParser } from "wsport/core";
 *
 * const bytes = new TextEncoder().encode(
 *   "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
 *     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
 * );
 * const parsed = new RequestHeadParser().push(bytes);
 * if (parsed.state === "done") {
 *   const result = checkRequest(parsed.head);
 *   if (result instanceof HandshakeError) console.log(result.status); // 400, 426...
 *   else console.log(result.path, result.key); // "/chat" "dGhlIHNhbXBsZSBub25jZQ=="
 * }
 * ```
 */
export function checkRequest(head: RequestHead): HandshakeRequest | HandshakeError {
  const h = head.headers;
  if (head.method !== "GET") {
    return reject(405, "WS_ERR_INVALID_METHOD", `method ${head.method} is not GET`, [["Allow", "GET"]]);
  }
  // RFC 6455 4.1: "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
  if (!/^HTTP\/1\.[1-9]$/.test(head.version)) {
    return reject(505, "WS_ERR_INVALID_VERSION", `${head.version} is not supported, HTTP/1.1 is required`);
  }
  const upgradeHeaders: [string, string][] = [["Upgrade", "websocket"], ["Connection", "Upgrade"]];
  const upgrade = h.get("upgrade");
  if (upgrade === null || !hasToken(upgrade, "websocket")) {
    return reject(426, "WS_ERR_INVALID_UPGRADE", "Upgrade header must include websocket", upgradeHeaders);
  }
  const connection = h.get("connection");
  if (connection === null || !hasToken(connection, "upgrade")) {
    return reject(426, "WS_ERR_INVALID_UPGRADE", "Connection header must include upgrade", upgradeHeaders);
  }
  const host = h.getAll("host");
  if (host.length !== 1 || host[0] === "") return reject(400, "WS_ERR_INVALID_HOST", "missing or repeated Host header");
  const version = h.getAll("sec-websocket-version");
  const versionHeader: [string, string][] = [["Sec-WebSocket-Version", WEBSOCKET_VERSION]];
  if (version.length === 0) {
    return reject(400, "WS_ERR_INVALID_WS_VERSION", "missing Sec-WebSocket-Version header", versionHeader);
  }
  if (version.length !== 1 || version[0] !== WEBSOCKET_VERSION) {
    return reject(426, "WS_ERR_INVALID_WS_VERSION", `unsupported Sec-WebSocket-Version ${version.join(", ")}`, versionHeader);
  }
  const keys = h.getAll("sec-websocket-key");
  if (keys.length !== 1) return reject(400, "WS_ERR_INVALID_KEY", "missing or repeated Sec-WebSocket-Key header");
  const key = keys[0]!;
  // RFC 6455 4.1: the key is "a randomly selected 16-byte value that has been base64-encoded".
  if (decodeBase64(key)?.length !== 16) {
    return reject(400, "WS_ERR_INVALID_KEY", "Sec-WebSocket-Key is not base64 of 16 bytes");
  }
  const offers = readOffers(h);
  if (offers instanceof HandshakeError) return offers;
  return { path: head.target, host: host[0]!, key, ...offers, head };
}

/**
 * Reads what a client offers, the same over HTTP/1.1 and HTTP/2 (RFC 8441
 * section 5 keeps these fields of RFC 6455): `Origin`, the subprotocols and
 * the extensions.
 *
 * @param h The request's header fields.
 * @returns The offers, or a 400 {@link HandshakeError} for a malformed list.
 * @example
 * ```ts
 * import { HeaderMap, readOffers } from "wsport/core";
 *
 * readOffers(new HeaderMap([["Sec-WebSocket-Protocol", "chat, superchat"]])); // { protocols: ["chat", "superchat"], ... }
 * ```
 */
export function readOffers(h: HeaderMap): Pick<HandshakeRequest, "origin" | "protocols" | "extensions"> | HandshakeError {
  const protocolValue = h.get("sec-websocket-protocol");
  const protocols = protocolValue === null ? [] : parseTokenList(protocolValue);
  if (protocols === null) return reject(400, "WS_ERR_INVALID_PROTOCOL_HEADER", "malformed Sec-WebSocket-Protocol header");
  const extensionValue = h.get("sec-websocket-extensions");
  const extensions = extensionValue === null ? [] : parseExtensions(extensionValue);
  if (extensions === null) {
    return reject(400, "WS_ERR_INVALID_EXTENSIONS_HEADER", "malformed Sec-WebSocket-Extensions header");
  }
  return { origin: h.get("origin") ?? undefined, protocols, extensions };
}

/** What the server answers a valid request with. */
export interface AcceptOptions {
  /** The chosen subprotocol; must be one the client offered. */
  protocol?: string;
  /** The `Sec-WebSocket-Extensions` response value, if an extension was accepted. */
  extensions?: string;
  /** More response headers (e.g. `Set-Cookie`). */
  headers?: Iterable<readonly [string, string]>;
}

/**
 * Writes the 101 response that accepts `request`.
 *
 * @param request The checked request.
 * @param options Subprotocol, extensions and extra headers.
 * @returns The response head's bytes.
 * @example
 * ```ts
 * import { acceptResponse, type HandshakeRequest } from "wsport/core";
 *
 * declare const request: HandshakeRequest; // from checkRequest(), offering "chat"
 * const bytes = acceptResponse(request, { protocol: "chat" });
 * ```
 */
export function acceptResponse(request: HandshakeRequest, options: AcceptOptions = {}): Uint8Array {
  const headers: [string, string][] = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", acceptKey(request.key)],
  ];
  if (options.protocol) {
    if (!request.protocols.includes(options.protocol)) {
      throw new TypeError(`subprotocol ${options.protocol} was not offered by the client`);
    }
    headers.push(["Sec-WebSocket-Protocol", options.protocol]);
  }
  if (options.extensions) headers.push(["Sec-WebSocket-Extensions", options.extensions]);
  for (const [name, value] of options.headers ?? []) headers.push([name, value]);
  return writeResponseHead({ status: 101, reason: "Switching Protocols", headers });
}

/**
 * Whether a request asks for a WebSocket upgrade at all (its `Upgrade`
 * header names websocket); a server that also speaks plain HTTP sends the
 * others to its HTTP handler.
 *
 * @param head The request head.
 * @returns True for an upgrade request, valid or not.
 * @example
 * ```ts
 * import { isUpgradeRequest, RequestHeadParser } from "wsport/core";
 *
 * const page = new RequestHeadParser().push(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
 * if (page.state === "done") isUpgradeRequest(page.head); // false for a browser's GET of a page
 * ```
 */
export function isUpgradeRequest(head: RequestHead): boolean {
  const upgrade = head.headers.get("upgrade");
  return upgrade !== null && hasToken(upgrade, "websocket");
}

/** What a client puts in its handshake request. */
export interface ClientRequestOptions {
  /** The `Host` header value (host, plus `:port` when not the default). */
  host: string;
  /** The request target: path and query. Default `/`. */
  path?: string;
  /** `Origin`, as a browser would send. */
  origin?: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** The `Sec-WebSocket-Extensions` offer, if any. */
  extensions?: string;
  /** More request headers (e.g. `Authorization`). */
  headers?: Iterable<readonly [string, string]>;
  /** The key to send; default a fresh random one. For tests. */
  key?: string;
}

/**
 * The `Sec-WebSocket-Protocol` value a client offers, or undefined for none.
 *
 * @param protocols Subprotocol names, in order of preference.
 * @returns The names joined with ", ".
 * @throws TypeError for a name that is not a token, or a name given twice (as the WHATWG constructor does).
 */
export function protocolOffer(protocols: readonly string[] = []): string | undefined {
  if (protocols.length === 0) return undefined;
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new TypeError(`invalid subprotocol name ${JSON.stringify(protocol)}`);
  }
  if (new Set(protocols).size !== protocols.length) throw new TypeError("duplicate subprotocol names");
  return protocols.join(", ");
}

/**
 * Writes a client's handshake request (RFC 6455 section 4.1).
 *
 * @param options Host, path, origin, subprotocols, extensions, headers.
 * @returns The request bytes and the key they carry (needed to check the answer).
 * @example
 * ```ts
 * const { bytes, key } = buildRequest({ host: "example.com", path: "/chat", protocols: ["chat"] });
 * ```
 */
export function buildRequest(options: ClientRequestOptions): { bytes: Uint8Array; key: string } {
  const key = options.key ?? generateKey();
  const headers: [string, string][] = [
    ["Host", options.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", WEBSOCKET_VERSION],
  ];
  if (options.origin !== undefined) headers.push(["Origin", options.origin]);
  const offer = protocolOffer(options.protocols);
  if (offer !== undefined) headers.push(["Sec-WebSocket-Protocol", offer]);
  if (options.extensions) headers.push(["Sec-WebSocket-Extensions", options.extensions]);
  for (const [name, value] of options.headers ?? []) headers.push([name, value]);
  return { bytes: writeRequestHead({ method: "GET", target: options.path || "/", headers }), key };
}

/** What a valid 101 response settled. */
export interface HandshakeResponse {
  /** The subprotocol the server chose, or "". */
  protocol: string;
  /** The extensions the server accepted, in order. */
  extensions: ExtensionOffer[];
}

/**
 * Checks a server's response against what the client sent (RFC 6455
 * section 4.2.2, client side of 4.1).
 *
 * @param head The response head.
 * @param sent The key, the subprotocols and the extension names offered.
 * @returns What was negotiated, or a {@link HandshakeError} whose `status` is the status received.
 * @example
 * ```ts
 * import { checkResponse, generateKey, type ResponseHead } from "wsport/core";
 *
 * const key = generateKey(); // sent in the request
 * declare const head: ResponseHead; // the server's answer, from a ResponseHeadParser
 * const result = checkResponse(head, { key, protocols: ["chat"], extensions: [] });
 * ```
 */
export function checkResponse(
  head: ResponseHead,
  sent: { key: string; protocols: readonly string[]; extensions: readonly string[] },
): HandshakeResponse | HandshakeError {
  const h = head.headers;
  const status = head.status;
  if (status !== 101) {
    return reject(status, "WS_ERR_UNEXPECTED_STATUS", `server answered ${status} ${head.reason}`.trimEnd());
  }
  const upgrade = h.get("upgrade");
  if (upgrade === null || !hasToken(upgrade, "websocket")) {
    return reject(status, "WS_ERR_INVALID_UPGRADE", "response Upgrade header is not websocket");
  }
  const connection = h.get("connection");
  if (connection === null || !hasToken(connection, "upgrade")) {
    return reject(status, "WS_ERR_INVALID_UPGRADE", "response Connection header does not include upgrade");
  }
  const accept = h.getAll("sec-websocket-accept");
  if (accept.length !== 1 || accept[0] !== acceptKey(sent.key)) {
    return reject(status, "WS_ERR_INVALID_ACCEPT", "Sec-WebSocket-Accept does not match the key sent");
  }
  return checkNegotiation(h, status, sent);
}

/**
 * Checks what a server's accepting response settled against what the
 * client offered, the same over HTTP/1.1 and HTTP/2: at most one
 * subprotocol, one that was offered; extensions that were offered, each once.
 *
 * @param h The response's header fields.
 * @param status The response's status, carried by any error.
 * @param sent The subprotocols and the extension names offered.
 * @returns What was negotiated, or a {@link HandshakeError}.
 * @example
 * ```ts
 * import { checkNegotiation, HeaderMap } from "wsport/core";
 *
 * checkNegotiation(new HeaderMap([["Sec-WebSocket-Protocol", "chat"]]), 200, { protocols: ["chat"], extensions: [] });
 * ```
 */
export function checkNegotiation(
  h: HeaderMap,
  status: number,
  sent: { protocols: readonly string[]; extensions: readonly string[] },
): HandshakeResponse | HandshakeError {
  const protocols = h.getAll("sec-websocket-protocol");
  let protocol = "";
  if (protocols.length > 0) {
    // RFC 6455 4.1: the server must pick at most one of the values the client offered.
    if (protocols.length !== 1 || !sent.protocols.includes(protocols[0]!)) {
      return reject(status, "WS_ERR_INVALID_SUBPROTOCOL", `server chose subprotocol ${protocols.join(", ")}, which was not offered`);
    }
    protocol = protocols[0]!;
  }
  const extensionValue = h.get("sec-websocket-extensions");
  const extensions = extensionValue === null ? [] : parseExtensions(extensionValue);
  if (extensions === null) return reject(status, "WS_ERR_INVALID_EXTENSIONS_HEADER", "malformed Sec-WebSocket-Extensions header");
  const seen = new Set<string>();
  for (const extension of extensions) {
    if (seen.has(extension.name)) {
      return reject(status, "WS_ERR_INVALID_EXTENSION", `server accepted extension ${extension.name} twice`);
    }
    seen.add(extension.name);
    if (!sent.extensions.includes(extension.name)) {
      return reject(status, "WS_ERR_INVALID_EXTENSION", `server accepted extension ${extension.name}, which was not offered`);
    }
  }
  return { protocol, extensions };
}
