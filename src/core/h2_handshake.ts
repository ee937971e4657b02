/**
 * The opening handshake over HTTP/2 (RFC 8441, "Bootstrapping WebSockets
 * with HTTP/2"): an extended CONNECT with `:protocol: websocket` opens one
 * stream of an HTTP/2 connection as the WebSocket. No key and no accept
 * value (the `:protocol` pseudo-header replaced them) and `200` instead of
 * `101`; version, subprotocol and extension negotiation stay as in RFC 6455.
 * The checked request is the same {@link HandshakeRequest} an HTTP/1.1
 * upgrade produces, so routing, filters and extensions are shared.
 *
 * HTTP/2 itself (frames, HPACK, flow control) is the runtime's: these
 * functions see header fields as name/value pairs, pseudo-headers included.
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";
import {
  type AcceptOptions,
  checkNegotiation,
  type HandshakeRequest,
  type HandshakeResponse,
  protocolOffer,
  readOffers,
  WEBSOCKET_VERSION,
} from "./handshake.ts";
import { DEFAULT_HEAD_LIMITS, HeaderMap, type HeadLimits } from "./http/head.ts";

/** Header fields as an HTTP/2 stream carries them: lowercase names, pseudo-headers (`:method`...) first. */
export type HeaderFields = readonly (readonly [string, string])[];

/** A response head to send as an HTTP/2 HEADERS frame: the `:status` and the other fields (lowercase names). */
export interface Http2ResponseHead {
  status: number;
  headers: [string, string][];
}

/** The version string of the synthesised {@link RequestHead} of an HTTP/2 request: tells the two handshakes apart. */
export const HTTP2_VERSION = "HTTP/2";

/**
 * Fields never sent over a stream: the connection-specific ones HTTP/2
 * forbids (RFC 9113 section 8.2.2), and `host`, which `:authority` replaces
 * (section 8.3.1).
 */
const NOT_SENT = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);

const encoder = new TextEncoder();

function refuse(status: number, code: string, message: string, headers: [string, string][] = []): HandshakeError {
  return new HandshakeError(status, code, message, headers);
}

/**
 * Whether a request is an extended CONNECT (RFC 8441 section 4): `:method`
 * CONNECT with a `:protocol`, whatever protocol it names. Other requests are
 * plain HTTP/2 requests for the application's HTTP handler.
 *
 * @param fields The request's fields.
 * @returns True for an extended CONNECT.
 * @example
 * ```ts
 * isExtendedConnect([[":method", "CONNECT"], [":protocol", "websocket"]]); // true
 * ```
 */
export function isExtendedConnect(fields: HeaderFields): boolean {
  let connect = false;
  let protocol = false;
  for (const [name, value] of fields) {
    if (name === ":method") connect = value === "CONNECT";
    else if (name === ":protocol") protocol = true;
  }
  return connect && protocol;
}

/** The pseudo-headers of a request, each at most once, and its other fields as a {@link HeaderMap}. */
interface SplitFields {
  pseudo: Map<string, string>;
  headers: HeaderMap;
}

function split(fields: HeaderFields, limits: HeadLimits): SplitFields | HandshakeError {
  const pseudo = new Map<string, string>();
  const headers = new HeaderMap();
  const cookies: string[] = [];
  // RFC 9113 section 4.3.1 counts 32 octets of overhead per field; the limit is the HTTP/1.1 head's.
  let size = 0;
  if (fields.length > limits.maxHeaders + 5) return refuse(431, "WS_ERR_TOO_MANY_HEADERS", `more than ${limits.maxHeaders} header fields`);
  for (const [name, value] of fields) {
    size += name.length + value.length + 32;
    if (name.startsWith(":")) {
      if (pseudo.has(name)) return refuse(400, "WS_ERR_INVALID_PSEUDO_HEADER", `repeated ${name} pseudo-header`);
      pseudo.set(name, value);
    } else if (name === "cookie") {
      cookies.push(value); // RFC 9113 8.2.3: crumbs, joined with "; " (not ", ")
    } else {
      headers.append(name, value);
    }
  }
  if (size > limits.maxHeadSize) return refuse(431, "WS_ERR_HEAD_TOO_LARGE", `header fields larger than ${limits.maxHeadSize} bytes`);
  if (headers.size + Math.min(cookies.length, 1) > limits.maxHeaders) {
    return refuse(431, "WS_ERR_TOO_MANY_HEADERS", `more than ${limits.maxHeaders} header fields`);
  }
  if (cookies.length > 0) headers.append("cookie", cookies.join("; "));
  return { pseudo, headers };
}

/**
 * Checks an extended CONNECT against RFC 8441 sections 4 and 5 and the
 * parts of RFC 6455 section 4.2.1 that stay. Statuses: 501 for a
 * `:protocol` other than websocket (as RFC 9220 section 3 says a server
 * SHOULD), 400 for a missing `:scheme`, `:path` or `:authority`, for a
 * missing or other `Sec-WebSocket-Version` (with `Sec-WebSocket-Version: 13`;
 * not 426, which asks for an `Upgrade` an HTTP/2 stream cannot make) and for
 * malformed offers; 431 past the head limits. A `Sec-WebSocket-Key`, if a
 * client sends one, is ignored: RFC 8441 replaced it with `:protocol`.
 *
 * @param fields The request's fields, pseudo-headers included.
 * @param limits The limits of an HTTP/1.1 request head, applied to the fields (default 8 KiB, 64 fields).
 * @returns The request (its `key` is "", its `head.version` is "HTTP/2"), or the error to answer with.
 * @example
 * ```ts
 * const request = checkExtendedConnect([
 *   [":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "https"],
 *   [":path", "/chat"], [":authority", "example.com"], ["sec-websocket-version", "13"],
 * ]);
 * ```
 */
export function checkExtendedConnect(fields: HeaderFields, limits: Partial<HeadLimits> = {}): HandshakeRequest | HandshakeError {
  const parts = split(fields, { ...DEFAULT_HEAD_LIMITS, ...stripUndefined(limits) });
  if (parts instanceof HandshakeError) return parts;
  const { pseudo, headers } = parts;
  const method = pseudo.get(":method");
  if (method !== "CONNECT") return refuse(405, "WS_ERR_INVALID_METHOD", `method ${method ?? "(none)"} is not CONNECT`, [["allow", "CONNECT"]]);
  const protocol = pseudo.get(":protocol");
  if (protocol === undefined) return refuse(400, "WS_ERR_INVALID_PSEUDO_HEADER", "CONNECT without :protocol is not a WebSocket handshake");
  // RFC 8441 5: 'The value of this field MUST be "websocket"'.
  if (protocol.toLowerCase() !== "websocket") {
    return refuse(501, "WS_ERR_UNSUPPORTED_PROTOCOL", `:protocol ${JSON.stringify(protocol)} is not supported, only websocket`);
  }
  const scheme = pseudo.get(":scheme");
  if (scheme !== "https" && scheme !== "http") return refuse(400, "WS_ERR_INVALID_PSEUDO_HEADER", `:scheme must be https or http, not ${scheme ?? "missing"}`);
  const path = pseudo.get(":path");
  if (path === undefined || !path.startsWith("/")) return refuse(400, "WS_ERR_INVALID_PSEUDO_HEADER", "missing or invalid :path");
  const authority = pseudo.get(":authority");
  if (authority === undefined || authority === "") return refuse(400, "WS_ERR_INVALID_HOST", "missing :authority");
  const version = headers.getAll("sec-websocket-version");
  const versionHeader: [string, string][] = [["sec-websocket-version", WEBSOCKET_VERSION]];
  if (version.length !== 1 || version[0] !== WEBSOCKET_VERSION) {
    const what = version.length === 0 ? "missing sec-websocket-version" : `unsupported sec-websocket-version ${version.join(", ")}`;
    return refuse(400, "WS_ERR_INVALID_WS_VERSION", what, versionHeader);
  }
  const offers = readOffers(headers);
  if (offers instanceof HandshakeError) return offers;
  return {
    path,
    host: authority,
    key: "",
    ...offers,
    head: { method: "CONNECT", target: path, version: HTTP2_VERSION, headers },
  };
}

function stripUndefined(limits: Partial<HeadLimits>): Partial<HeadLimits> {
  const out: Partial<HeadLimits> = {};
  if (limits.maxHeadSize !== undefined) out.maxHeadSize = limits.maxHeadSize;
  if (limits.maxHeaders !== undefined) out.maxHeaders = limits.maxHeaders;
  return out;
}

/**
 * The fields of a response sent over a stream: lowercase names, without
 * the connection-specific ones HTTP/2 forbids (RFC 9113 section 8.2.2).
 *
 * @param headers Fields in any case.
 * @returns The fields to send.
 * @example
 * ```ts
 * http2Fields([["Set-Cookie", "a=1"], ["Connection", "close"]]); // [["set-cookie", "a=1"]]
 * ```
 */
export function http2Fields(headers: Iterable<readonly [string, string]>): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (!NOT_SENT.has(lower) && !lower.startsWith(":")) out.push([lower, value]);
  }
  return out;
}

/**
 * The `200` that accepts an extended CONNECT (RFC 8441 section 5: "it MUST
 * respond with a 200 (OK) status code"), with the chosen subprotocol and
 * the extensions' answer.
 *
 * @param request The checked request.
 * @param options Subprotocol (one the client offered), extension response, extra fields.
 * @returns The response head.
 * @example
 * ```ts
 * import { extendedConnectResponse, type HandshakeRequest } from "wsport/core";
 * declare const request: HandshakeRequest;
 *
 * extendedConnectResponse(request, { protocol: "chat" }); // { status: 200, headers: [["sec-websocket-protocol", "chat"]] }
 * ```
 */
export function extendedConnectResponse(request: HandshakeRequest, options: AcceptOptions = {}): Http2ResponseHead {
  const headers: [string, string][] = [];
  if (options.protocol) {
    if (!request.protocols.includes(options.protocol)) {
      throw new TypeError(`subprotocol ${options.protocol} was not offered by the client`);
    }
    headers.push(["sec-websocket-protocol", options.protocol]);
  }
  if (options.extensions) headers.push(["sec-websocket-extensions", options.extensions]);
  headers.push(...http2Fields(options.headers ?? []));
  return { status: 200, headers };
}

/**
 * A refusal over a stream: the status, a plain-text body and its fields.
 *
 * @param status The HTTP status.
 * @param body The reason, for a person reading it.
 * @param headers More fields (e.g. `sec-websocket-version: 13`).
 * @returns The head and the body bytes.
 * @example
 * ```ts
 * const { head, body } = http2Refusal(403, "not you");
 * ```
 */
export function http2Refusal(
  status: number,
  body: string,
  headers: Iterable<readonly [string, string]> = [],
): { head: Http2ResponseHead; body: Uint8Array } {
  const bytes = encoder.encode(body);
  const fields = http2Fields(headers);
  fields.push(["content-type", "text/plain; charset=utf-8"], ["content-length", String(bytes.length)]);
  return { head: { status, headers: fields }, body: bytes };
}

/** What a client puts in its extended CONNECT. */
export interface ExtendedConnectOptions {
  /** `:authority`: host, plus `:port` when not the scheme's default. */
  authority: string;
  /** `:scheme`: "https" for wss URLs (the default), "http" for ws. */
  scheme?: "https" | "http";
  /** `:path`: path and query. Default `/`. */
  path?: string;
  /** `origin`, as a browser would send. */
  origin?: string;
  /** Subprotocols to offer, in order of preference. */
  protocols?: readonly string[];
  /** The `sec-websocket-extensions` offer, if any. */
  extensions?: string;
  /** More fields (connection-specific ones are left out). */
  headers?: Iterable<readonly [string, string]>;
}

/**
 * The fields of a client's extended CONNECT (RFC 8441 section 5.1's example).
 *
 * @param options Authority, path, origin, subprotocols, extensions, fields.
 * @returns The request's fields, pseudo-headers first.
 * @example
 * ```ts
 * buildExtendedConnect({ authority: "example.com", path: "/chat", protocols: ["chat"] });
 * ```
 */
export function buildExtendedConnect(options: ExtendedConnectOptions): [string, string][] {
  const fields: [string, string][] = [
    [":method", "CONNECT"],
    [":protocol", "websocket"],
    [":scheme", options.scheme ?? "https"],
    [":path", options.path || "/"],
    [":authority", options.authority],
    ["sec-websocket-version", WEBSOCKET_VERSION],
  ];
  if (options.origin !== undefined) fields.push(["origin", options.origin]);
  const offer = protocolOffer(options.protocols);
  if (offer !== undefined) fields.push(["sec-websocket-protocol", offer]);
  if (options.extensions) fields.push(["sec-websocket-extensions", options.extensions]);
  fields.push(...http2Fields(options.headers ?? []));
  return fields;
}

/**
 * Checks a server's answer to an extended CONNECT: 200 (RFC 8441 section
 * 5), then the same subprotocol and extension checks as over HTTP/1.1.
 *
 * @param status The response's `:status`.
 * @param fields The response's other fields.
 * @param sent The subprotocols and the extension names offered.
 * @returns What was negotiated, or a {@link HandshakeError} whose `status` is the status received.
 * @example
 * ```ts
 * checkExtendedConnectResponse(200, [["sec-websocket-protocol", "chat"]], { protocols: ["chat"], extensions: [] });
 * ```
 */
export function checkExtendedConnectResponse(
  status: number,
  fields: HeaderFields,
  sent: { protocols: readonly string[]; extensions: readonly string[] },
): HandshakeResponse | HandshakeError {
  if (status !== 200) return refuse(status, "WS_ERR_UNEXPECTED_STATUS", `server answered ${status} to the extended CONNECT`);
  return checkNegotiation(new HeaderMap(fields.filter(([name]) => !name.startsWith(":"))), status, sent);
}
