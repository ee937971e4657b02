/**
 * What the HTTP/1.1 server state machine reports, discriminated on `type`.
 * A request is reported in parts, as h11 does: its head, its body as it
 * arrives, its end; so a body is never buffered whole.
 *
 * @module
 */

import type { HttpError } from "../errors.ts";
import type { HeaderMap } from "./header_map.ts";
import type { HttpRequest } from "./framing.ts";

/** A request head arrived: answer it (its body, if any, follows once accepted). */
export interface HttpRequestEvent {
  type: "http-request";
  request: HttpRequest;
}

/** Part of the current request's body: a view of the received bytes, not a copy. */
export interface HttpBodyEvent {
  type: "http-body";
  data: Uint8Array;
}

/** The current request's body is complete. */
export interface HttpEndEvent {
  type: "http-end";
  /** The trailer fields of a chunked body, when it had any. */
  trailers: HeaderMap | undefined;
}

/**
 * The request in progress broke the protocol or a limit (a bad chunk, a
 * body over the limit, the client gone before its body ended). The answer,
 * when one can still be given, is queued; the connection closes after it.
 */
export interface HttpErrorEvent {
  type: "http-error";
  error: HttpError;
}

/** Every event of an `HttpServerProtocol`. */
export type HttpEvent = HttpRequestEvent | HttpBodyEvent | HttpEndEvent | HttpErrorEvent;
