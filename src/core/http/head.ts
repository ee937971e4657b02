/**
 * Incremental HTTP/1.1 head parsing and writing for the WebSocket opening
 * handshake. The parsers are strict (CRLF only, no obs-fold, RFC 7230 tokens)
 * because lenient head parsing is where request smuggling and header
 * injection live, and a WebSocket peer has no reason to be sloppy.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import { HeaderMap } from "./header_map.ts";
import { invalid, parseRequest, parseResponse } from "./head_syntax.ts";
import { decodeAscii, decodeLatin1, encodeLatin1, hexByte, isFieldValueChar, isToken } from "./tokens.ts";

export { HeaderMap };

/** Hard limits on a head, enforced before anything past them is buffered. */
export interface HeadLimits {
  /** Bytes, including the start line and the final CRLFCRLF. */
  maxHeadSize: number;
  /** Header lines (not counting the start line). */
  maxHeaders: number;
}

/**
 * Limits used when none are given: 8 KiB and 64 header lines, in line with
 * what `ws`, Node's HTTP server and python-websockets accept.
 *
 * @example
 * ```ts
 * new RequestHeadParser({ ...DEFAULT_HEAD_LIMITS, maxHeaders: 32 });
 * ```
 */
export const DEFAULT_HEAD_LIMITS: Readonly<HeadLimits> = Object.freeze({
  maxHeadSize: 8192,
  maxHeaders: 64,
});

/** A parsed request line and its headers. */
export interface RequestHead {
  method: string;
  target: string;
  /** As received, e.g. `"HTTP/1.1"`; the handshake layer decides what it accepts. */
  version: string;
  headers: HeaderMap;
}

/** A parsed status line and its headers. */
export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  headers: HeaderMap;
}

/**
 * Outcome of {@link RequestHeadParser.push} / {@link ResponseHeadParser.push}.
 * `rest` holds the bytes that followed the blank line (the first WebSocket
 * frames, possibly); it is a view into the chunk passed to `push`, not a copy.
 */
export type HeadParseResult<T> =
  | { state: "incomplete" }
  | { state: "done"; head: T; rest: Uint8Array }
  | { state: "error"; error: HandshakeError };

const CR = 0x0d;
const LF = 0x0a;
const INCOMPLETE: { state: "incomplete" } = Object.freeze({ state: "incomplete" });

/** What a {@link HeadScanner} reads: the first line's name in errors depends on it (a trailer section has none). */
export type HeadKind = "request" | "response" | "trailers";

function resolveLimits(limits: Partial<HeadLimits> | undefined): HeadLimits {
  // `??` rather than spread: an explicit `undefined` means "use the default".
  const resolved: HeadLimits = {
    maxHeadSize: limits?.maxHeadSize ?? DEFAULT_HEAD_LIMITS.maxHeadSize,
    maxHeaders: limits?.maxHeaders ?? DEFAULT_HEAD_LIMITS.maxHeaders,
  };
  for (const key of ["maxHeadSize", "maxHeaders"] as const) {
    const v = resolved[key];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`${key} must be a non-negative integer, got ${String(v)}`);
    }
  }
  return resolved;
}

/**
 * Finds the end of the head across chunks and enforces the limits and the
 * CRLF rule byte by byte, so that hostile input is refused before it is
 * stored; the grammar is checked once, on the joined head.
 */
/** The incremental head parser both directions share; see {@link RequestHeadParser}. */
export class HeadScanner<T> {
  readonly #limits: HeadLimits;
  readonly #kind: HeadKind;
  readonly #parse: (text: string) => T | HandshakeError;
  #chunks: Uint8Array[] = [];
  #size = 0; // bytes scanned and stored
  #lines = 0; // completed lines, start line included
  #lineLen = 0; // bytes of the current line before its CR
  #prevCR = false;
  #highBits = 0; // OR of every byte scanned: below 0x80 means an ASCII head
  #result: HeadParseResult<T> | null = null;

  constructor(kind: HeadKind, limits: Partial<HeadLimits> | undefined, parse: (text: string) => T | HandshakeError) {
    this.#kind = kind;
    this.#limits = resolveLimits(limits);
    this.#parse = parse;
  }

  /**
   * Consumes the next chunk of the stream. Never throws on any input.
   *
   * @param chunk - Bytes received; may contain the head's end and more.
   * @returns Whether the head is still incomplete, parsed, or refused.
   */
  push(chunk: Uint8Array): HeadParseResult<T> {
    if (this.#result !== null) return this.#result;
    const { maxHeadSize, maxHeaders } = this.#limits;
    for (let i = 0; i < chunk.length; i++) {
      if (this.#size + i + 1 > maxHeadSize) {
        return this.#fail(this.#tooLarge());
      }
      const b = chunk[i]!;
      this.#highBits |= b;
      if (this.#prevCR) {
        if (b !== LF) return this.#fail(invalid(`bare CR in ${this.#lineName()}`));
        this.#prevCR = false;
        if (this.#lineLen === 0) return this.#finish(chunk, i + 1);
        this.#lines++;
        this.#lineLen = 0;
      } else if (b === CR) {
        this.#prevCR = true;
      } else if (b === LF) {
        return this.#fail(invalid(`bare LF in ${this.#lineName()}`));
      } else {
        // Checked when a header line starts, so the excess line is never stored.
        if (this.#lineLen === 0 && this.#lines > maxHeaders) {
          return this.#fail(
            new HandshakeError(431, "WS_ERR_TOO_MANY_HEADERS", `more than ${maxHeaders} header lines`),
          );
        }
        this.#lineLen++;
      }
    }
    // Copied because adapters may reuse their read buffer between pushes.
    if (chunk.length > 0) this.#chunks.push(chunk.slice());
    this.#size += chunk.length;
    return INCOMPLETE;
  }

  #lineName(): string {
    if (this.#kind === "trailers") return "trailer line";
    if (this.#lines > 0) return "header line";
    return this.#kind === "request" ? "request line" : "status line";
  }

  #tooLarge(): HandshakeError {
    const max = this.#limits.maxHeadSize;
    // Nothing but the request line so far: the URI is what is too long (as python-websockets reports it).
    if (this.#kind === "request" && this.#lines === 0) {
      return new HandshakeError(414, "WS_ERR_URI_TOO_LONG", `request line exceeds the head limit of ${max} bytes`);
    }
    return new HandshakeError(431, "WS_ERR_HEAD_TOO_LARGE", `head exceeds the limit of ${max} bytes`);
  }

  #fail(error: HandshakeError): HeadParseResult<T> {
    this.#chunks = [];
    this.#result = { state: "error", error };
    return this.#result;
  }

  #finish(chunk: Uint8Array, end: number): HeadParseResult<T> {
    const total = this.#size + end;
    let joined: Uint8Array;
    if (this.#chunks.length === 0) {
      joined = chunk; // the usual case, a head in one read: no copy
    } else {
      joined = new Uint8Array(total);
      let offset = 0;
      for (const part of this.#chunks) {
        joined.set(part, offset);
        offset += part.length;
      }
      joined.set(chunk.subarray(0, end), offset);
      this.#chunks = [];
    }
    // Drop the final CRLFCRLF's last CRLF: the text is "start CRLF *(field CRLF)".
    const head = joined.subarray(0, total - 2);
    const parsed = this.#parse(this.#highBits < 0x80 ? decodeAscii(head) : decodeLatin1(head));
    if (parsed instanceof HandshakeError) return this.#fail(parsed);
    this.#result = { state: "done", head: parsed, rest: chunk.subarray(end) };
    return this.#result;
  }
}

/**
 * Incremental parser for a client's request head. Feed it bytes as they
 * arrive; it returns `"done"` once the blank line is seen, with any bytes
 * after it in `rest`. Once it returns `"done"` or `"error"` every later call
 * returns that same result object and ignores the new chunk: after `"done"`
 * the caller routes further bytes to the WebSocket layer itself. A request
 * line alone over `maxHeadSize` is reported as 414, any other excess as 431.
 *
 * @example
 * ```ts
 * import { RequestHeadParser } from "wsport/core";
 *
 * const parser = new RequestHeadParser();
 * const r = parser.push(new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n"));
 * if (r.state === "done") console.log(r.head.target, r.head.headers.get("host")); // "/chat" "example.com"
 * ```
 */
export class RequestHeadParser extends HeadScanner<RequestHead> {
  /**
   * @param limits - Overrides of {@link DEFAULT_HEAD_LIMITS}.
   * @throws RangeError if a limit is not a non-negative integer.
   */
  constructor(limits?: Partial<HeadLimits>) {
    super("request", limits, parseRequest);
  }
}

/**
 * Incremental parser for a server's response head, with the same contract as
 * {@link RequestHeadParser}; errors carry 400 or 431 like the request side.
 *
 * @example
 * ```ts
 * import { ResponseHeadParser } from "wsport/core";
 *
 * declare const bytes: Uint8Array; // read from the server
 * declare function startWebSocket(frames: Uint8Array): void; // yours
 * const r = new ResponseHeadParser().push(bytes);
 * if (r.state === "done" && r.head.status === 101) startWebSocket(r.rest);
 * ```
 */
export class ResponseHeadParser extends HeadScanner<ResponseHead> {
  /**
   * @param limits - Overrides of {@link DEFAULT_HEAD_LIMITS}.
   * @throws RangeError if a limit is not a non-negative integer.
   */
  constructor(limits?: Partial<HeadLimits>) {
    super("response", limits, parseResponse);
  }
}

function checkText(what: string, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff) throw new TypeError(`${what} contains U+${c.toString(16).toUpperCase()}, which is not Latin-1`);
    if (!isFieldValueChar(c)) throw new TypeError(`${what} contains the control character ${hexByte(c)}`);
  }
}

function writeHead(startLine: string, headers: Iterable<readonly [string, string]>): Uint8Array {
  const parts = [startLine];
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    checkText(`value of header ${name}`, value);
    parts.push(`${name}: ${value}`);
  }
  parts.push("", "");
  return encodeLatin1(parts.join("\r\n"));
}

/**
 * Serialises a request head as `HTTP/1.1`.
 *
 * @param head - Method (a token), target (visible ASCII) and headers in order.
 * @returns The head bytes, ending with the blank line.
 * @throws TypeError on an invalid method, target, header name or value (CR,
 *   LF, NUL or another control character, or a character above U+00FF), so
 *   user-supplied headers cannot inject lines.
 * @example
 * ```ts
 * writeRequestHead({ method: "GET", target: "/chat", headers: [["Host", "example.com"]] });
 * ```
 */
export function writeRequestHead(head: {
  method: string;
  target: string;
  headers: Iterable<readonly [string, string]>;
}): Uint8Array {
  if (!isToken(head.method)) throw new TypeError(`invalid method ${JSON.stringify(head.method)}`);
  const t = head.target;
  let ok = t.length > 0;
  for (let i = 0; ok && i < t.length; i++) ok = t.charCodeAt(i) > 0x20 && t.charCodeAt(i) < 0x7f;
  if (!ok) throw new TypeError(`invalid request target ${JSON.stringify(t)}`);
  return writeHead(`${head.method} ${t} HTTP/1.1`, head.headers);
}

/**
 * Serialises a response head as `HTTP/1.1`.
 *
 * @param head - Status (100-999), reason phrase and headers in order.
 * @returns The head bytes, ending with the blank line.
 * @throws TypeError on an invalid status, reason, header name or value.
 * @example
 * ```ts
 * writeResponseHead({ status: 101, reason: "Switching Protocols", headers: [["Upgrade", "websocket"]] });
 * ```
 */
export function writeResponseHead(head: {
  status: number;
  reason: string;
  headers: Iterable<readonly [string, string]>;
}): Uint8Array {
  if (!Number.isInteger(head.status) || head.status < 100 || head.status > 999) {
    throw new TypeError(`invalid status ${String(head.status)}`);
  }
  checkText("reason phrase", head.reason);
  return writeHead(`HTTP/1.1 ${head.status} ${head.reason}`, head.headers);
}
