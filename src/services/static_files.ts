/**
 * The decisions of a static-file server, without any IO: which file a
 * request path may name, its Content-Type, its validators (ETag,
 * Last-Modified), whether a conditional request gets 304, and the headers
 * and status of the answer. `wsport/static` does the file-system side
 * (stat, realpath, read) and calls these.
 *
 * Every refusal here means "not found": a path that is malformed, tries to
 * leave the root, or names something that is not a servable file gets the
 * same 404 as a missing file, so a probe learns nothing, and an app that
 * falls through to its own routes still sees requests such as `/a%2Fb`.
 *
 * @module
 */

/** Content types by lower-case file extension (no dot), used unless overridden. */
export const DEFAULT_CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: "text/html",
  htm: "text/html",
  css: "text/css",
  js: "text/javascript",
  mjs: "text/javascript",
  cjs: "text/javascript",
  json: "application/json",
  map: "application/json",
  webmanifest: "application/manifest+json",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  wasm: "application/wasm",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  pdf: "application/pdf",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  mp4: "video/mp4",
  webm: "video/webm",
});

/** The type of a file whose extension is unknown: browsers will not sniff and run it. */
export const FALLBACK_CONTENT_TYPE = "application/octet-stream";

/** Default of the `index` option of `serveDir`. */
export const DEFAULT_INDEX = "index.html";

/** The value of `Allow` on a 405: the only methods a static file answers. */
export const ALLOWED_METHODS = "GET, HEAD";

// Textual types whose bytes are characters: they get `charset=utf-8`, so a
// browser does not guess the encoding (and cannot be tricked into UTF-7 and friends).
const TEXTUAL_APPLICATION_TYPES = new Set(["application/json", "application/manifest+json", "application/xml", "image/svg+xml"]);

/** A request path that passed {@link parseRequestPath}: safe to join under a root. */
export interface RequestPath {
  /** The decoded segments, each a plain file or directory name (none is empty, `.` or `..`). */
  segments: string[];
  /** The path ended with `/` (or was `/`): the client asks for a directory. */
  endsWithSlash: boolean;
}

/**
 * Whether one decoded path segment can be used as a file name under a root
 * on any platform: not empty, not `.` or `..`, and free of `/`, `\`, `:`
 * (Windows drive letters and NTFS streams) and control characters
 * (NUL truncates paths in some APIs).
 *
 * @param segment - One decoded segment.
 * @returns `true` if it names an entry inside its directory.
 * @example
 * ```ts
 * isSafeSegment("app.js"); // true
 * isSafeSegment(".."); // false
 * ```
 */
export function isSafeSegment(segment: string): boolean {
  if (segment === "" || segment === "." || segment === "..") return false;
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x2f /* / */ || code === 0x5c /* \ */ || code === 0x3a /* : */) return false;
  }
  return true;
}

/**
 * Turns a URL pathname (as in `new URL(request.url).pathname`, still
 * percent-encoded) into segments that are safe to join under a root. The
 * pathname is split on `/` first and each segment is percent-decoded once,
 * so an encoded separator (`%2F`, `%5C`) or dot segment (`%2e%2e`) stays
 * inside its segment and is refused by {@link isSafeSegment}; a `%25` decodes
 * to a literal `%` and is never decoded again.
 *
 * @param pathname - The request's pathname; must start with `/`.
 * @returns The segments, or `undefined` for a path that must be answered 404:
 *   malformed percent-encoding, empty segments (`//etc/passwd`), dot
 *   segments, separators, `:` or control characters after decoding.
 * @example
 * ```ts
 * parseRequestPath("/css/site%20main.css"); // { segments: ["css", "site main.css"], endsWithSlash: false }
 * parseRequestPath("/docs/"); // { segments: ["docs"], endsWithSlash: true }
 * parseRequestPath("/..%2fsecret"); // undefined
 * ```
 */
export function parseRequestPath(pathname: string): RequestPath | undefined {
  if (!pathname.startsWith("/")) return undefined;
  const raw = pathname.slice(1).split("/");
  const endsWithSlash = raw[raw.length - 1] === "";
  if (endsWithSlash) raw.pop(); // "/" itself, or a trailing slash
  const segments: string[] = [];
  for (const encoded of raw) {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      return undefined; // a stray "%" or bytes that are not UTF-8
    }
    if (!isSafeSegment(segment)) return undefined;
    segments.push(segment);
  }
  return { segments, endsWithSlash };
}

/**
 * Whether a resolved path lies inside a resolved root (or is the root). Both
 * must be real paths (symlinks resolved), or a link could point anywhere.
 * Compares whole components, so `/srv/www-private` is not inside `/srv/www`.
 *
 * @param root - The root's real path.
 * @param candidate - The real path of the file asked for.
 * @param separator - The platform's path separator (`/`, or `\` on Windows).
 * @returns `true` if `candidate` is `root` or below it.
 * @example
 * ```ts
 * isInsideRoot("/srv/www", "/srv/www/app.js", "/"); // true
 * isInsideRoot("/srv/www", "/srv/www-private/key", "/"); // false
 * ```
 */
export function isInsideRoot(root: string, candidate: string, separator: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(separator) ? root : root + separator;
  return candidate.startsWith(prefix);
}

/**
 * The extension of a file name, lower case, without the dot: what
 * {@link contentTypeFor} looks up. A leading dot (`.env`) is not an extension.
 *
 * @param fileName - A file name or path (`/` or `\` separated).
 * @returns The extension, or `""` when there is none.
 * @example
 * ```ts
 * extensionOf("bundle.min.JS"); // "js"
 * ```
 */
export function extensionOf(fileName: string): string {
  const base = fileName.slice(Math.max(fileName.lastIndexOf("/"), fileName.lastIndexOf("\\")) + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

/**
 * The Content-Type for a file name: from `overrides`, then
 * {@link DEFAULT_CONTENT_TYPES}, else {@link FALLBACK_CONTENT_TYPE}. Text
 * types get `; charset=utf-8` unless the type already names parameters.
 *
 * @param fileName - A file name or path.
 * @param overrides - Extra or replacement types by lower-case extension (no dot).
 * @returns The header value.
 * @example
 * ```ts
 * contentTypeFor("index.html"); // "text/html; charset=utf-8"
 * contentTypeFor("logo.png"); // "image/png"
 * contentTypeFor("data.bin"); // "application/octet-stream"
 * ```
 */
export function contentTypeFor(fileName: string, overrides: Readonly<Record<string, string>> = {}): string {
  const extension = extensionOf(fileName);
  const type = (Object.hasOwn(overrides, extension) ? overrides[extension] : undefined) ??
    (Object.hasOwn(DEFAULT_CONTENT_TYPES, extension) ? DEFAULT_CONTENT_TYPES[extension] : undefined) ??
    FALLBACK_CONTENT_TYPE;
  if (type.includes(";")) return type;
  return type.startsWith("text/") || TEXTUAL_APPLICATION_TYPES.has(type) ? `${type}; charset=utf-8` : type;
}

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
 * Formats a time as an HTTP-date (IMF-fixdate), as `Last-Modified` carries it.
 *
 * @param timeMs - Ms since the epoch.
 * @returns e.g. `Tue, 02 Jan 2024 03:04:05 GMT`.
 * @example
 * ```ts
 * formatHttpDate(Date.UTC(2024, 0, 2, 3, 4, 5)); // "Tue, 02 Jan 2024 03:04:05 GMT"
 * ```
 */
export function formatHttpDate(timeMs: number): string {
  return new Date(Math.floor(timeMs / 1000) * 1000).toUTCString(); // ES2018 fixes this format
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const RFC_850_DATE = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const ASCTIME_DATE = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/**
 * Parses an HTTP-date in any of the three forms RFC 9110 section 5.6.7 makes
 * recipients accept (IMF-fixdate, RFC 850, asctime). Written out rather than
 * left to `Date.parse`, whose leniency differs between JavaScript engines.
 * A two-digit RFC 850 year is read as 1970-2069.
 *
 * @param value - The header value.
 * @returns Ms since the epoch, or `undefined` if it is not an HTTP-date.
 * @example
 * ```ts
 * parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"); // 784111777000
 * parseHttpDate("yesterday"); // undefined
 * ```
 */
export function parseHttpDate(value: string): number | undefined {
  const fields = httpDateFields(value.trim());
  if (fields === undefined) return undefined;
  const month = MONTHS.indexOf(fields.month.toLowerCase());
  const [year, day, hour, minute, second] = [fields.year, fields.day, fields.hour, fields.minute, fields.second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const time = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)); // a leap second counts as the one before
  // Date.UTC rolls "31 Feb" over into March: refuse dates that do not exist.
  return new Date(time).getUTCDate() === day ? time : undefined;
}

interface HttpDateFields {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

function httpDateFields(text: string): HttpDateFields | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m) return { day: m[1]!, month: m[2]!, year: m[3]!, hour: m[4]!, minute: m[5]!, second: m[6]! };
  m = RFC_850_DATE.exec(text);
  if (m) {
    const twoDigitYear = Number(m[3]);
    const year = String(twoDigitYear < 70 ? 2000 + twoDigitYear : 1900 + twoDigitYear);
    return { day: m[1]!, month: m[2]!, year, hour: m[4]!, minute: m[5]!, second: m[6]! };
  }
  m = ASCTIME_DATE.exec(text);
  if (m) return { month: m[1]!, day: m[2]!.trim(), hour: m[3]!, minute: m[4]!, second: m[5]!, year: m[6]! };
  return undefined;
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
  /** 200, or 304 when the client's copy is current. */
  status: 200 | 304;
  headers: Headers;
  /** Whether to read the file and send it: only for a 200 to a GET. */
  sendBody: boolean;
}

/**
 * Decides the answer to a GET or HEAD of an existing regular file: 304 if
 * the client's copy is current, else 200. Both carry `ETag`,
 * `Last-Modified`, `Content-Length` (on a 304, the size a 200 would have,
 * as RFC 9110 section 8.6 allows, so no stray `0` is added downstream) and
 * `Cache-Control` if configured; a 200 also carries `Content-Type`.
 *
 * @param request - The method (GET or HEAD) and headers.
 * @param file - Name, size and modification time.
 * @param options - Content types and Cache-Control.
 * @returns Status, headers, and whether to send the bytes.
 * @example
 * ```ts
 * const plan = planFileResponse(request, { name: "app.js", size: 1200, mtimeMs: stat.mtimeMs });
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
  return { status: 200, headers, sendBody: request.method === "GET" };
}

/**
 * The 404 every refused or missing path gets.
 *
 * @returns A plain-text 404.
 * @example
 * ```ts
 * return notFoundResponse();
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
 * if (!isReadMethod(request.method)) return methodNotAllowedResponse();
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
