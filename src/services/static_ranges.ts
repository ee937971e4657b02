/**
 * Range requests for static files (RFC 9110 section 14), without IO: the
 * byte range a `Range` header asks of a file, whether `If-Range` still
 * allows it, and the `Content-Range` of the answer. One range per answer:
 * a request for several is answered with the whole file, which RFC 9110
 * 14.2 allows, rather than with `multipart/byteranges`.
 *
 * @module
 */

import { parseHttpDate } from "./http_date.ts";

/** An inclusive byte range of a file: bytes `start` to `end`. */
export interface ByteRange {
  start: number;
  end: number;
}

const DIGITS = /^\d{1,15}$/;

/**
 * Reads a `Range` header against a file's size.
 *
 * @param value - The header value, e.g. `bytes=0-499`, `bytes=500-`, `bytes=-200`.
 * @param size - The file's size in bytes.
 * @returns The range to send; `"unsatisfiable"` when no byte of the file is
 *   asked for (416); `undefined` when the header is to be ignored (not
 *   `bytes`, malformed, or several ranges): the whole file is sent.
 * @example
 * ```ts
 * parseRange("bytes=0-99", 1000); // { start: 0, end: 99 }
 * parseRange("bytes=-100", 1000); // { start: 900, end: 999 }
 * parseRange("bytes=2000-", 1000); // "unsatisfiable"
 * ```
 */
export function parseRange(value: string, size: number): ByteRange | "unsatisfiable" | undefined {
  const eq = value.indexOf("=");
  if (eq < 0 || value.slice(0, eq).trim().toLowerCase() !== "bytes") return undefined;
  const spec = value.slice(eq + 1).trim();
  if (spec.includes(",")) return undefined; // several ranges: the whole file instead
  const dash = spec.indexOf("-");
  if (dash < 0) return undefined;
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  if (first === "") {
    // A suffix: the last N bytes.
    if (!DIGITS.test(last)) return undefined;
    const length = Number(last);
    if (length === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  if (!DIGITS.test(first) || (last !== "" && !DIGITS.test(last))) return undefined;
  const start = Number(first);
  if (last !== "" && Number(last) < start) return undefined; // invalid: RFC 9110 14.1.1 says ignore it
  if (start >= size) return "unsatisfiable";
  return { start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}

/**
 * Whether `If-Range` lets a range be sent (RFC 9110 13.1.5): it must name
 * the file as it is now, by a strong entity tag or by its exact
 * modification date. A weak tag never matches, so a client holding one
 * gets the whole file.
 *
 * @param value - The `If-Range` value.
 * @param validators - The file's current tag and modification time.
 * @returns True when the range may be sent.
 * @example
 * ```ts
 * ifRangeMatches("Tue, 02 Jan 2024 03:04:05 GMT", { etag: 'W/"1"', mtimeMs: Date.UTC(2024, 0, 2, 3, 4, 5) }); // true
 * ```
 */
export function ifRangeMatches(value: string, validators: { etag: string; mtimeMs: number }): boolean {
  const trimmed = value.trim();
  if (trimmed.startsWith('"')) return !validators.etag.startsWith("W/") && trimmed === validators.etag;
  if (trimmed.startsWith("W/")) return false;
  const date = parseHttpDate(trimmed);
  return date !== undefined && date === Math.floor(validators.mtimeMs / 1000) * 1000;
}

/**
 * The `Content-Range` of a partial answer, or of a 416.
 *
 * @param range - The range sent, or undefined for a 416.
 * @param size - The file's size.
 * @returns e.g. `bytes 0-99/1000`, or `bytes *\/1000`.
 * @example
 * ```ts
 * contentRange({ start: 0, end: 99 }, 1000); // "bytes 0-99/1000"
 * ```
 */
export function contentRange(range: ByteRange | undefined, size: number): string {
  return range === undefined ? `bytes */${size}` : `bytes ${range.start}-${range.end}/${size}`;
}
