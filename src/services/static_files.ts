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

