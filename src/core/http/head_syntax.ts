/**
 * The grammar of an HTTP/1.1 head once its bytes are complete: start line
 * and header fields per RFC 7230 sections 3.1 and 3.2, strictly. Used by
 * `http_head.ts`, whose scanner has already checked limits and line endings.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import { HeaderMap } from "./header_map.ts";
import type { RequestHead, ResponseHead } from "./head.ts";
import { hexByte, isFieldValueChar, isOws, isTchar } from "./tokens.ts";

const CR = 0x0d;
const SP = 0x20;
const COLON = 0x3a;

/**
 * Builds the 400 error every syntax violation maps to.
 *
 * @param message - What was wrong, in sentence case.
 * @returns A `HandshakeError` with code `WS_ERR_INVALID_HEAD`.
 * @example
 * ```ts
 * invalid("obs-fold is not allowed");
 * ```
 */
export function invalid(message: string): HandshakeError {
  return new HandshakeError(400, "WS_ERR_INVALID_HEAD", message);
}

/** Every line in `text` ends with CRLF (the scanner guarantees it). */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === CR) {
      lines.push(text.slice(start, i));
      start = i + 2;
      i++;
    }
  }
  return lines;
}

function parseHeaders(lines: readonly string[]): HeaderMap | HandshakeError {
  const headers = new HeaderMap();
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (isOws(line.charCodeAt(0))) return invalid("obs-fold is not allowed");
    let i = 0;
    while (i < line.length && isTchar(line.charCodeAt(i))) i++;
    if (i === line.length) return invalid("missing colon in header line");
    const stop = line.charCodeAt(i);
    if (stop !== COLON) {
      if (isOws(stop)) return invalid("whitespace between header name and colon");
      return invalid(`invalid character ${hexByte(stop)} in header name`);
    }
    if (i === 0) return invalid("empty header name");
    let start = i + 1;
    let end = line.length;
    for (let j = start; j < end; j++) {
      const c = line.charCodeAt(j);
      if (!isFieldValueChar(c)) {
        return invalid(c === 0 ? "NUL in header value" : `control character ${hexByte(c)} in header value`);
      }
    }
    while (start < end && isOws(line.charCodeAt(start))) start++;
    while (end > start && isOws(line.charCodeAt(end - 1))) end--;
    headers.append(line.slice(0, i), line.slice(start, end));
  }
  return headers;
}

/**
 * Parses the trailer section of a chunked body (RFC 9112 section 7.1.2):
 * field lines with the same grammar as header lines.
 *
 * @param text - The field lines as Latin-1 text, each ending in CRLF, without the blank line.
 * @returns The fields, or the error describing the first violation.
 * @example
 * ```ts
 * parseTrailers("Checksum: abc\r\n");
 * ```
 */
export function parseTrailers(text: string): HeaderMap | HandshakeError {
  // parseHeaders skips a start line: give it an empty one.
  return parseHeaders(["", ...splitLines(text)]);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Syntax only, `HTTP/d.d`: the handshake layer decides which versions it accepts. */
function isHttpVersion(s: string): boolean {
  return s.length === 8 && s.startsWith("HTTP/") && isDigit(s.charCodeAt(5)) &&
    s.charCodeAt(6) === 0x2e && isDigit(s.charCodeAt(7));
}

/**
 * Parses a request head.
 *
 * @param text - The head as Latin-1 text, every line ending in CRLF, without the blank line.
 * @returns The parsed head or the error describing the first violation.
 * @example
 * ```ts
 * parseRequest("GET / HTTP/1.1\r\nHost: a\r\n");
 * ```
 */
export function parseRequest(text: string): RequestHead | HandshakeError {
  const lines = splitLines(text);
  const line = lines[0] ?? "";
  if (line.length === 0) return invalid("empty request line");
  let i = 0;
  while (i < line.length && isTchar(line.charCodeAt(i))) i++;
  if (i === 0) return invalid("request line does not start with a method token");
  if (i === line.length) return invalid("missing request target in request line");
  if (line.charCodeAt(i) !== SP) {
    return invalid(`invalid character ${hexByte(line.charCodeAt(i))} in method`);
  }
  const method = line.slice(0, i);
  const targetStart = ++i;
  while (i < line.length) {
    const c = line.charCodeAt(i);
    if (c === SP) break;
    // RFC 9112 3.2: a target is URI characters, all visible ASCII; raw bytes above 0x7e are refused, not guessed at.
    if (c < 0x20 || c > 0x7e) return invalid(`invalid character ${hexByte(c)} in request target`);
    i++;
  }
  if (i === targetStart) return invalid("empty request target or extra space in request line");
  if (i === line.length) return invalid("missing HTTP version in request line");
  const target = line.slice(targetStart, i);
  const version = line.slice(i + 1);
  if (!isHttpVersion(version)) return invalid("malformed HTTP version in request line");
  const headers = parseHeaders(lines);
  if (headers instanceof HandshakeError) return headers;
  return { method, target, version, headers };
}

/**
 * Parses a response head.
 *
 * @param text - The head as Latin-1 text, every line ending in CRLF, without the blank line.
 * @returns The parsed head or the error describing the first violation.
 * @example
 * ```ts
 * parseResponse("HTTP/1.1 101 Switching Protocols\r\n");
 * ```
 */
export function parseResponse(text: string): ResponseHead | HandshakeError {
  const lines = splitLines(text);
  const line = lines[0] ?? "";
  if (line.length === 0) return invalid("empty status line");
  const version = line.slice(0, 8);
  if (!isHttpVersion(version)) return invalid("malformed HTTP version in status line");
  if (line.charCodeAt(8) !== SP) return invalid("missing status code in status line");
  const code = line.slice(9, 12);
  if (code.length !== 3 || !isDigit(code.charCodeAt(0)) || !isDigit(code.charCodeAt(1)) || !isDigit(code.charCodeAt(2))) {
    return invalid("status code is not 3 digits");
  }
  let reason = "";
  // A missing " reason" is tolerated: some servers send "HTTP/1.1 101" alone.
  if (line.length > 12) {
    if (line.charCodeAt(12) !== SP) return invalid("status code is not 3 digits");
    reason = line.slice(13);
    for (let j = 0; j < reason.length; j++) {
      const c = reason.charCodeAt(j);
      if (!isFieldValueChar(c)) return invalid(`invalid character ${hexByte(c)} in reason phrase`);
    }
  }
  const headers = parseHeaders(lines);
  if (headers instanceof HandshakeError) return headers;
  return { version, status: Number(code), reason, headers };
}
