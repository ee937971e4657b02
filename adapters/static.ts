/**
 * Static files over `serve({ fetch })`, the equivalent of libwebsockets'
 * `lws_serve_http_file`: the file-system side (stat, realpath, read) of
 * `src/services/static_files.ts`, through `node:fs/promises`, which Node, Deno and
 * Bun all provide.
 *
 * @example
 * ```ts
 * import { serve } from "wsport";
 * import { serveDir } from "wsport/static";
 *
 * await serve({ port: 8080, fetch: serveDir("./public") });
 * ```
 *
 * @module
 */

import { type FileHandle, open, realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import {
  DEFAULT_INDEX,
  isInsideRoot,
  isSafeSegment,
  parseRequestPath,
} from "../src/services/static_files.ts";
import {
  directoryLocation,
  type FileResponseOptions,
  isReadMethod,
  methodNotAllowedResponse,
  notFoundResponse,
  planFileResponse,
} from "../src/services/static_responses.ts";

export {
  contentTypeFor,
  DEFAULT_CONTENT_TYPES,
  DEFAULT_INDEX,
  parseRequestPath,
} from "../src/services/static_files.ts";
export {
  type FileResponseOptions,
  isNotModified,
  weakETag,
} from "../src/services/static_responses.ts";

/** Options of {@link serveFile}. */
export type ServeFileOptions = FileResponseOptions;

/** Options of {@link serveDir}. */
export interface ServeDirOptions extends FileResponseOptions {
  /** The file served for a directory; `false` serves no directory. Default `"index.html"`. */
  index?: string | false;
  /**
   * Answer `undefined` instead of 404 (for a missing or refused path) or
   * 405 (for a method other than GET and HEAD), so the app can try its
   * other routes. Default false.
   */
  fallthrough?: boolean;
}

/** A request handler for `serve({ fetch })`: `undefined` means "not mine". */
export type StaticHandler = (request: Request) => Promise<Response | undefined>;

// File-system answers that mean "there is nothing to serve here"; anything
// else (EIO, EMFILE...) is a server fault and is thrown, for a 500.
const NOT_FOUND_CODES = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "EACCES", "EPERM", "EISDIR", "EINVAL"]);

interface Entry {
  path: string;
  isFile: boolean;
  isDirectory: boolean;
  size: number;
  mtimeMs: number;
}

/**
 * Answers a GET or HEAD with one file: 200 with its bytes (none for HEAD),
 * streamed from the file as the client reads them; 206 with one range for
 * a `Range` request (416 past the end; `If-Range` honoured); 304 when the
 * client's `If-None-Match` / `If-Modified-Since` shows its copy is
 * current; 404 if it is missing or not a regular file; 405 (with `Allow:
 * GET, HEAD`) for other methods. The path is trusted: it is not checked
 * against any root, and symlinks are followed.
 *
 * @param request - The request.
 * @param filePath - The file to send.
 * @param options - Content types and Cache-Control.
 * @returns The response.
 * @example
 * ```ts
 * import { serve } from "wsport";
 * import { serveFile } from "wsport/static";
 *
 * await serve({ fetch: (request) => serveFile(request, "./dist/app.html") });
 * ```
 */
export async function serveFile(request: Request, filePath: string, options: ServeFileOptions = {}): Promise<Response> {
  if (!isReadMethod(request.method)) return methodNotAllowedResponse();
  const entry = await lookUp(filePath);
  if (!entry?.isFile) return notFoundResponse();
  return fileResponse(request, entry, options);
}

/**
 * A handler that serves the files under `root`, for `serve({ fetch })`.
 * The URL path is split and percent-decoded once; a path with an empty,
 * `.` or `..` segment, an encoded `/` or `\`, a `:`, a control character
 * (`%00`) or bad percent-encoding is refused, and so is anything whose real
 * path (symlinks resolved) is outside the root's real path. A refused path
 * gets the same 404 as a missing one. A directory is served by its `index`
 * file: `/docs/` serves `docs/index.html`, `/docs` redirects (301) to
 * `/docs/`; a directory without one is 404.
 *
 * @param root - The directory to serve (relative to the working directory, or absolute).
 * @param options - Index file, fallthrough, content types, Cache-Control.
 * @returns The handler.
 * @throws TypeError if `index` is not a plain file name.
 * @example
 * ```ts
 * import { serve } from "wsport";
 * import { serveDir } from "wsport/static";
 *
 * const files = serveDir("./public", { fallthrough: true });
 * const api = (request: Request) => Response.json({ path: new URL(request.url).pathname });
 * await serve({ fetch: async (request) => (await files(request)) ?? api(request) });
 * ```
 */
export function serveDir(root: string, options: ServeDirOptions = {}): StaticHandler {
  const index = options.index ?? DEFAULT_INDEX;
  if (index !== false && !isSafeSegment(index)) throw new TypeError(`index must be a plain file name, not ${JSON.stringify(index)}`);
  const nothingHere = () => (options.fallthrough ? undefined : notFoundResponse());
  return async (request) => {
    if (!isReadMethod(request.method)) return options.fallthrough ? undefined : methodNotAllowedResponse();
    const url = new URL(request.url);
    const requested = parseRequestPath(url.pathname);
    if (requested === undefined) return nothingHere();
    // Resolved on every request rather than once, so a root created, moved or re-linked later is honoured.
    const realRoot = await realPathOf(root);
    if (realRoot === undefined) return nothingHere();
    const entry = await lookUpInside(realRoot, requested.segments.reduce(childPath, realRoot));
    if (entry === undefined) return nothingHere();
    if (entry.isFile) return requested.endsWithSlash ? nothingHere() : fileResponse(request, entry, options);
    if (!entry.isDirectory || index === false) return nothingHere();
    const indexEntry = await lookUpInside(realRoot, childPath(entry.path, index));
    if (!indexEntry?.isFile) return nothingHere();
    if (!requested.endsWithSlash && requested.segments.length > 0) {
      return new Response(null, { status: 301, headers: { Location: directoryLocation(url) } });
    }
    return fileResponse(request, indexEntry, options);
  };
}

async function fileResponse(request: Request, entry: Entry, options: FileResponseOptions): Promise<Response> {
  const plan = planFileResponse(request, { name: entry.path, size: entry.size, mtimeMs: entry.mtimeMs }, options);
  if (!plan.sendBody) return new Response(null, { status: plan.status, headers: plan.headers });
  const handle = await ifExists(() => open(entry.path, "r"));
  if (handle === undefined) return notFoundResponse();
  const start = plan.range?.start ?? 0;
  const end = plan.range === undefined ? entry.size : plan.range.end + 1;
  return new Response(fileStream(handle, start, end), { status: plan.status, headers: plan.headers });
}

/** Bytes read from a file at a time: what one pull of the stream reads. */
const READ_SIZE = 64 * 1024;

/**
 * The bytes `start` to `end` (exclusive) of an open file, read as the
 * stream is read: the file is never held in memory whole, and a client
 * that does not read stops the reading (the server pulls only when the
 * socket can take more). The handle is closed at the end, on cancel and on
 * error. A file that shrank since `stat` ends the stream early, and its
 * `Content-Length` answer is cut short, which tells the client.
 */
function fileStream(handle: FileHandle, start: number, end: number): ReadableStream<Uint8Array> {
  let position = start;
  const done = () => void handle.close().catch(() => {});
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const length = Math.min(READ_SIZE, end - position);
      if (length <= 0) {
        controller.close();
        return done();
      }
      const buffer = new Uint8Array(length);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, length, position));
      } catch (error) {
        done();
        throw error;
      }
      if (bytesRead === 0) {
        controller.close();
        return done();
      }
      position += bytesRead;
      controller.enqueue(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
    },
    cancel: done,
  }, { highWaterMark: 0 });
}

/** Stats a real path inside the root; `undefined` if missing or if its real path leaves the root. */
async function lookUpInside(realRoot: string, path: string): Promise<Entry | undefined> {
  const real = await realPathOf(path);
  if (real === undefined || !isInsideRoot(realRoot, real, sep)) return undefined;
  return lookUp(real);
}

/** Joins one checked segment to a path, without doubling the separator when the path is a file-system root. */
function childPath(parent: string, name: string): string {
  return parent.endsWith(sep) ? parent + name : parent + sep + name;
}

async function lookUp(path: string): Promise<Entry | undefined> {
  const info = await ifExists(() => stat(path));
  if (info === undefined) return undefined;
  return { path, isFile: info.isFile(), isDirectory: info.isDirectory(), size: info.size, mtimeMs: info.mtimeMs };
}

function realPathOf(path: string): Promise<string | undefined> {
  return ifExists(() => realpath(path));
}

async function ifExists<T>(operation: () => Promise<T>): Promise<T | undefined> {
  try {
    return await operation();
  } catch (error) {
    if (NOT_FOUND_CODES.has((error as { code?: unknown })?.code as string)) return undefined;
    throw error;
  }
}
