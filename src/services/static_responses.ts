/**
 * The answers of a static-file server, without any IO: validators (ETag,
 * Last-Modified), conditional requests (304), and the status and headers
 * of the response for a file. The paths and content types are in
 * `static_files.ts`.
 *
 * @module
 */

import { formatHttpDate, parseHttpDate } from "./http_date.ts";
import { ALLOWED_METHODS, contentTypeFor } from "./static_files.ts";
import { type ByteRange, contentRange, ifRangeMatches, parseRange } from "./static_ranges.ts";

export { formatHttpDate, parseHttpDate } from "./http_date.ts";

/**
 * A weak entity tag from the file's size and modification time: cheap (no
 * hashing of the content) and it changes whenever a rewrite changes either.
 * Weak, because equal size and time do not prove equal bytes.
 *
 * @param size - File size in bytes.
 * @param mtimeMs - Modification time, ms since the epoch.
 * @returns The tag, e.g. `W/"1f4-18cc820d888"`.
 * @example
 * ```ts
 * weakETag(500, 1704164645000); // 'W/"1f4-18cc820d888"'
 * ```
 */
export function weakETag(size: number, mtimeMs: number): string {
  return `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/**
 * Whether an `If-None-Match` value matches an entity tag, by the weak
 * comparison RFC 9110 section 13.1.2 prescribes for it (`W/` ignored on
 * both sides). Parsed as a list of quoted tags, since a tag may itself
 * contain commas; a malformed list matches nothing.
 *
 * @param headerValue - The `If-None-Match` value (repeated lines joined with ", ").
 * @param etag - The current tag of the file.
 * @returns `true` for `*` or a tag equal to `etag`.
 * @example
 * ```ts
 * ifNoneMatchMatches('"a", W/"b"', '"b"'); // true
 * ```
 */
export function ifNoneMatchMatches(headerValue: string, etag: string): boolean {
  const value = headerValue.trim();
  if (value === "*") return true;
  const wanted = opaqueTag(etag);
  let i = 0;
  while (i < value.length) {
    while (i < value.length && (value[i] === " " || value[i] === "\t" || value[i] === ",")) i++;
    if (i >= value.length) break;
    if (value.startsWith("W/", i)) i += 2;
    if (value[i] !== '"') return false;
    const close = value.indexOf('"', i + 1);
    if (close < 0) return false;
    if (value.slice(i, close + 1) === wanted) return true;
    i = close + 1;
    while (i < value.length && (value[i] === " " || value[i] === "\t")) i++;
    if (i < value.length && value[i] !== ",") return false;
  }
  return false;
}

function opaqueTag(etag: string): string {
  return etag.startsWith("W/") ? etag.slice(2) : etag;
}

/** What a conditional request is evaluated against. */
export interface Validators {
  /** The current entity tag. */
  etag: string;
  /** The current modification time, ms since the epoch. */
  mtimeMs: number;
}

/**
 * Evaluates the conditional headers of a GET or HEAD (RFC 9110 section
 * 13.2.2): `If-None-Match` when present, which then makes
 * `If-Modified-Since` ignored; otherwise `If-Modified-Since`, compared at
 * the one-second precision of HTTP dates. An unparsable date is ignored.
 *
 * @param requestHeaders - The request's headers.
 * @param validators - The file's current tag and time.
 * @returns `true` if the answer is 304 Not Modified.
 * @example
 * ```ts
 * isNotModified(new Headers({ "if-none-match": 'W/"1f4-1"' }), { etag: 'W/"1f4-1"', mtimeMs: 1 }); // true
 * ```
 */
export function isNotModified(requestHeaders: Headers, validators: Validators): boolean {
  const ifNoneMatch = requestHeaders.get("if-none-match");
  if (ifNoneMatch !== null) return ifNoneMatchMatches(ifNoneMatch, validators.etag);
  const ifModifiedSince = requestHeaders.get("if-modified-since");
  if (ifModifiedSince === null) return false;
  const since = parseHttpDate(ifModifiedSince);
  return since !== undefined && Math.floor(validators.mtimeMs / 1000) * 1000 <= since;
}

/**
 * Whether a method may read a static file.
 *
 * @param method - The request method.
 * @returns `true` for GET and HEAD.
 * @example
 * ```ts
 * isReadMethod("HEAD"); // true
 * ```
 */
export function isReadMethod(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/** What the file system said about a regular file. */
export interface FileFacts {
  /** The file's name or path: its extension picks the Content-Type. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

/** Options shared by `serveFile` and `serveDir`. */
export interface FileResponseOptions {
  /** Extra or replacement content types by lower-case extension without the dot, e.g. `{ glb: "model/gltf-binary" }`. */
  contentTypes?: Readonly<Record<string, string>>;
  /** A `Cache-Control` value for 200 and 304 answers, e.g. `"public, max-age=3600"`. None by default. */
  cacheControl?: string;
}

/** The answer to a GET or HEAD of an existing file, decided before reading it. */
export interface FileResponsePlan {
  /** 200; 206 for a satisfiable range; 304 when the client's copy is current; 416 for a range past the end. */
  status: 200 | 206 | 304 | 416;
  headers: Headers;
  /** Whether to read the file and send it: only for a 200 or 206 to a GET. */
  sendBody: boolean;
  /** With 206: the bytes to send. */
  range?: ByteRange;
}

/**
 * Decides the answer to a GET or HEAD of an existing regular file: 304 if
 * the client's copy is current; for a GET with a `Range` (that `If-Range`,
 * when present, still allows) 206 with that range, or 416 when it is past
 * the end; else 200. All carry `ETag`, `Last-Modified`, `Content-Length`
 * (on a 304, the size a 200 would have, as RFC 9110 section 8.6 allows, so
 * no stray `0` is added downstream) and `Cache-Control` if configured; the
 * others also `Content-Type` and `Accept-Ranges: bytes`.
 *
 * @param request - The method (GET or HEAD) and headers.
 * @param file - Name, size and modification time.
 * @param options - Content types and Cache-Control.
 * @returns Status, headers, whether to send the bytes, and which.
 * @example
 * ```ts
 * const request = new Request("http://localhost/app.js");
 * const plan = planFileResponse(request, { name: "app.js", size: 1200, mtimeMs: Date.parse("2024-01-01") });
 * // { status: 200, headers: Content-Type: text/javascript; charset=utf-8 ..., sendBody: true }
 * ```
 */
export function planFileResponse(
  request: { method: string; headers: Headers },
  file: FileFacts,
  options: FileResponseOptions = {},
): FileResponsePlan {
  const etag = weakETag(file.size, file.mtimeMs);
  const headers = new Headers();
  headers.set("ETag", etag);
  headers.set("Last-Modified", formatHttpDate(file.mtimeMs));
  headers.set("Content-Length", String(file.size));
  if (options.cacheControl !== undefined) headers.set("Cache-Control", options.cacheControl);
  if (isNotModified(request.headers, { etag, mtimeMs: file.mtimeMs })) return { status: 304, headers, sendBody: false };
  headers.set("Content-Type", contentTypeFor(file.name, options.contentTypes));
  headers.set("Accept-Ranges", "bytes");
  const rangeValue = request.headers.get("range");
  // RFC 9110 14.2: Range only applies to GET; If-Range makes it conditional on the file being unchanged.
  if (rangeValue !== null && request.method === "GET") {
    const ifRange = request.headers.get("if-range");
    const range = ifRange === null || ifRangeMatches(ifRange, { etag, mtimeMs: file.mtimeMs }) ? parseRange(rangeValue, file.size) : undefined;
    if (range === "unsatisfiable") {
      headers.set("Content-Range", contentRange(undefined, file.size));
      headers.set("Content-Length", "0");
      return { status: 416, headers, sendBody: false };
    }
    if (range !== undefined) {
      headers.set("Content-Range", contentRange(range, file.size));
      headers.set("Content-Length", String(range.end - range.start + 1));
      return { status: 206, headers, sendBody: true, range };
    }
  }
  return { status: 200, headers, sendBody: request.method === "GET" };
}

/**
 * The 404 every refused or missing path gets.
 *
 * @returns A plain-text 404.
 * @example
 * ```ts
 * const response = notFoundResponse(); // 404, text/plain
 * ```
 */
export function notFoundResponse(): Response {
  return new Response("Not Found", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/**
 * The 405 for a method other than GET and HEAD, with the `Allow` header
 * RFC 9110 section 15.5.6 requires.
 *
 * @returns A plain-text 405.
 * @example
 * ```ts
 * function handle(request: Request): Response {
 *   if (!isReadMethod(request.method)) return methodNotAllowedResponse();
 *   return new Response("ok");
 * }
 * ```
 */
export function methodNotAllowedResponse(): Response {
  return new Response("Method Not Allowed", {
    status: 405,
    headers: { "Allow": ALLOWED_METHODS, "Content-Type": "text/plain; charset=utf-8" },
  });
}

/**
 * The Location that sends a directory asked for without its trailing slash
 * to the slashed form, so relative links in its index resolve inside it.
 * Built from the request's own pathname, which {@link parseRequestPath}
 * accepted: it has no empty segment, so it cannot start with `//` and
 * become a redirect to another host.
 *
 * @param url - The request URL.
 * @returns The path with `/` appended, and the query kept.
 * @example
 * ```ts
 * directoryLocation(new URL("http://h/docs?x=1")); // "/docs/?x=1"
 * ```
 */
export function directoryLocation(url: URL): string {
  return `${url.pathname}/${url.search}`;
}
