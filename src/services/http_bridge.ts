/**
 * Plain HTTP on the WebSocket port: a request the sans-IO server protocol
 * parsed becomes a WHATWG `Request` for the application's `fetch`, and its
 * `Response` becomes the answer the protocol writes.
 *
 * @module
 */

import type { RequestHead } from "../core/http/head.ts";
import type { ServerProtocol } from "../core/server_protocol.ts";
import type { PeerInfo } from "../transport/transport.ts";

/** The application's plain-HTTP handler, as `ServeOptions.fetch`. */
export type FetchHandler = (request: Request, peer: PeerInfo) => Response | undefined | Promise<Response | undefined>;

/** Where the request arrived, to complete its URL. */
export interface RequestOrigin {
  secure: boolean;
  /** `host:port` of the listener, for requests without a `Host`. */
  fallbackHost: string;
}

/**
 * Answers one plain HTTP request: 400 when it cannot become a `Request`,
 * 404 when `fetch` returns nothing, 500 when it throws.
 *
 * @param core The server protocol that reported the request.
 * @param head The request head.
 * @param body The request body.
 * @param peer Who sent it.
 * @param fetch The application's handler.
 * @param origin Scheme and host for the request's URL.
 */
export async function serveHttp(
  core: ServerProtocol,
  head: RequestHead,
  body: Uint8Array,
  peer: PeerInfo,
  fetch: FetchHandler,
  origin: RequestOrigin,
): Promise<void> {
  const method = head.method;
  let response: Response | undefined;
  let request: Request | undefined;
  try {
    request = toRequest(head, body, origin.secure, origin.fallbackHost);
  } catch {
    response = textResponse(400, "Bad Request");
  }
  if (request) {
    try {
      response = (await fetch(request, peer)) ?? textResponse(404, "Not Found");
    } catch {
      response = textResponse(500, "Internal Server Error");
    }
  }
  response ??= textResponse(500, "Internal Server Error");
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push([name, value]);
  });
  for (const cookie of response.headers.getSetCookie?.() ?? []) headers.push(["set-cookie", cookie]);
  let bytes = new Uint8Array(await response.arrayBuffer());
  if (method === "HEAD") {
    if (!response.headers.has("content-length")) headers.push(["content-length", String(bytes.length)]);
    bytes = new Uint8Array(0);
  }
  core.respond({ status: response.status, reason: response.statusText || undefined, headers, body: bytes });
}

function textResponse(status: number, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** Builds a WHATWG `Request` from a parsed head; throws on a target or header `Request` refuses. */
function toRequest(head: RequestHead, body: Uint8Array, secure: boolean, fallbackHost: string): Request {
  const target = head.target;
  let url: URL;
  try {
    url = /^https?:\/\//i.test(target)
      ? new URL(target)
      : new URL(target, `${secure ? "https" : "http"}://${head.headers.get("host") ?? fallbackHost}`);
  } catch {
    throw new TypeError("invalid request target or Host");
  }
  const headers = new Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  const hasBody = head.method !== "GET" && head.method !== "HEAD";
  return new Request(url, { method: head.method, headers, body: hasBody ? (body as Uint8Array<ArrayBuffer>) : undefined });
}

