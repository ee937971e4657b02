/**
 * What a request head says about the message and the connection: how its
 * body is delimited (RFC 9112 section 6), whether the connection persists
 * after the answer (section 9.3), whether the client waits for `100
 * Continue` (RFC 9110 section 10.1.1) and whether it asks to switch
 * protocols. Strict where request smuggling lives: every head whose body
 * length two parsers could read differently is refused.
 *
 * @module
 */

import { HttpError } from "../errors.ts";
import type { RequestHead } from "./head.ts";
import { isToken, parseTokenList } from "./header_values.ts";

/** A request head with what it says about framing and the connection. */
export interface HttpRequest extends RequestHead {
  /**
   * The body's length in bytes, `"chunked"` when it is sent in chunks, 0
   * when there is none. `Infinity` for a `Content-Length` too long to be
   * represented exactly (always over any body limit).
   */
  bodyLength: number | "chunked";
  /** Whether the client asked to keep the connection open after the answer (RFC 9112 section 9.3). */
  keepAlive: boolean;
  /** The client sent `Expect: 100-continue` and waits for `100 Continue` before sending the body. */
  expectContinue: boolean;
  /** The `Upgrade` header's value, when the client asks to switch protocols. */
  upgrade: string | undefined;
}

/** RFC 9112 9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`. */
function persists(value: string | undefined, http10: boolean): boolean {
  if (value === undefined) return !http10;
  const options = parseTokenList(value);
  // A Connection header nobody can read gets the safe answer: close after this exchange.
  if (options === null) return false;
  let close = false;
  let keepAlive = false;
  for (const option of options) {
    const lower = option.toLowerCase();
    close ||= lower === "close";
    keepAlive ||= lower === "keep-alive";
  }
  return !close && (!http10 || keepAlive);
}

/** The headers framing depends on, read in one pass (a head is read once per request). */
class FramingFields {
  hosts = 0;
  lengths: string[] | undefined;
  codings: string[] | undefined;
  connection: string | undefined;
  expect: string | undefined;
  upgrade: string | undefined;

  constructor(head: RequestHead) {
    head.headers.forEachLine((key, value) => {
      switch (key) {
        case "host":
          this.hosts++;
          break;
        case "content-length":
          (this.lengths ??= []).push(value);
          break;
        case "transfer-encoding":
          (this.codings ??= []).push(value);
          break;
        case "connection":
          this.connection = join(this.connection, value);
          break;
        case "expect":
          this.expect = join(this.expect, value);
          break;
        case "upgrade":
          this.upgrade = join(this.upgrade, value);
          break;
      }
    });
  }
}

/** Repeated list lines read as one (RFC 9110 5.3). */
function join(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

function refuse(status: number, code: string, message: string): HttpError {
  return new HttpError(status, code, message);
}

/** 1*DIGIT; longer than this cannot be a safe integer. */
const MAX_LENGTH_DIGITS = 15;

/**
 * Parses a `Content-Length` value: 1*DIGIT and nothing else (no sign, no
 * space, no list: `5, 5` is refused rather than merged, because parsers
 * that merge and parsers that refuse disagree about such a body).
 *
 * @param value - The field value as received (OWS already trimmed).
 * @returns The length (`Infinity` past 15 digits), or undefined if it is not a number.
 * @example
 * ```ts
 * parseContentLength("42"); // 42
 * parseContentLength("+42"); // undefined
 * ```
 */
export function parseContentLength(value: string): number | undefined {
  if (value.length === 0) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return value.length > MAX_LENGTH_DIGITS ? Infinity : Number(value);
}

/**
 * The transfer codings, lower-cased. Stricter than the list rule of RFC
 * 9110 5.6.1: an empty element (`, chunked`) is refused rather than
 * skipped, since parsers that skip it and parsers that refuse it (h11)
 * disagree about where the body ends.
 */
function strictCodings(lines: string[]): string[] | null {
  const codings: string[] = [];
  for (const line of lines) {
    for (const element of line.split(",")) {
      const coding = element.trim();
      if (!isToken(coding)) return null;
      codings.push(coding.toLowerCase());
    }
  }
  return codings.length === 0 ? null : codings;
}

/** RFC 9112 section 6.1: only `chunked`, last and once; other codings are not implemented here. */
function transferCoding(fields: FramingFields, http10: boolean): "chunked" | HttpError {
  if (http10) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    return refuse(400, "WS_ERR_HTTP_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 request");
  }
  if (fields.lengths !== undefined) {
    // RFC 9112 6.3: "a server MAY reject a request that contains both ... such a message might indicate an attempt to perform request smuggling".
    return refuse(400, "WS_ERR_HTTP_AMBIGUOUS_LENGTH", "both Content-Length and Transfer-Encoding");
  }
  const codings = strictCodings(fields.codings!);
  if (codings === null) return refuse(400, "WS_ERR_HTTP_TRANSFER_ENCODING", "malformed Transfer-Encoding");
  if (codings[codings.length - 1] !== "chunked") {
    // RFC 9112 6.3: chunked not last means the length cannot be determined: 400, then close.
    return refuse(400, "WS_ERR_HTTP_TRANSFER_ENCODING", "chunked is not the final transfer coding");
  }
  if (codings.indexOf("chunked") !== codings.length - 1) {
    return refuse(400, "WS_ERR_HTTP_TRANSFER_ENCODING", "chunked applied more than once");
  }
  if (codings.length > 1) {
    return refuse(501, "WS_ERR_HTTP_TRANSFER_CODING", `transfer coding ${codings[0]} is not implemented`);
  }
  return "chunked";
}

function bodyLengthOf(fields: FramingFields, http10: boolean): number | "chunked" | HttpError {
  if (fields.codings !== undefined) return transferCoding(fields, http10);
  const lengths = fields.lengths;
  if (lengths === undefined) return 0; // RFC 9112 6.3 rule 7: a request without either has no body
  if (lengths.length > 1) return refuse(400, "WS_ERR_HTTP_CONTENT_LENGTH", "repeated Content-Length");
  const length = parseContentLength(lengths[0]!);
  if (length === undefined) return refuse(400, "WS_ERR_HTTP_CONTENT_LENGTH", "invalid Content-Length");
  return length;
}

/**
 * Reads the framing of a request from its head, strictly: `Content-Length`
 * with `Transfer-Encoding`, a repeated or non-numeric `Content-Length`, a
 * `Transfer-Encoding` other than a final `chunked` (or any in HTTP/1.0) are
 * refused with 400 (an unknown coding before `chunked` with 501); a
 * missing (HTTP/1.1) or repeated `Host` with 400; an `Expect` other than
 * `100-continue` with 417; an HTTP version other than 1.x with 505.
 *
 * @param head - A parsed request head.
 * @returns The request with its framing, or the error to answer with (then close).
 * @example
 * ```ts
 * import { HttpError, type RequestHead, requestFraming } from "wsport/core";
 * declare const head: RequestHead;
 *
 * const request = requestFraming(head);
 * if (!(request instanceof HttpError)) console.log(request.bodyLength); // a byte count, or "chunked"
 * ```
 */
export function requestFraming(head: RequestHead): HttpRequest | HttpError {
  const version = head.version;
  // "HTTP/d.d" is guaranteed by the grammar; any 1.x above 1.1 is spoken as 1.1 (RFC 9110 section 2.5).
  if (version.charCodeAt(5) !== 0x31) {
    return refuse(505, "WS_ERR_HTTP_VERSION", `${version} is not supported`);
  }
  const http10 = version === "HTTP/1.0";
  const fields = new FramingFields(head);
  // RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any request with more than one.
  if (fields.hosts > 1 || (fields.hosts === 0 && !http10)) {
    return refuse(400, "WS_ERR_INVALID_HOST", fields.hosts > 1 ? "repeated Host header" : "missing Host header");
  }
  const bodyLength = bodyLengthOf(fields, http10);
  if (bodyLength instanceof HttpError) return bodyLength;
  const keepAlive = persists(fields.connection, http10);
  let expectContinue = false;
  const expect = fields.expect;
  // RFC 9110 10.1.1: an HTTP/1.0 server ignores Expect; anything but 100-continue may get 417.
  if (expect !== undefined && !http10) {
    if (expect.toLowerCase() !== "100-continue") return refuse(417, "WS_ERR_HTTP_EXPECTATION", `unsupported expectation ${JSON.stringify(expect)}`);
    expectContinue = true;
  }
  return { method: head.method, target: head.target, version, headers: head.headers, bodyLength, keepAlive, expectContinue, upgrade: fields.upgrade };
}
