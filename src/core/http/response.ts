/**
 * The server's answers: how a response is framed (RFC 9112 section 6.3:
 * no body for HEAD, 1xx, 204 and 304; `Content-Length` when the length is
 * known; chunked to an HTTP/1.1 client otherwise; to the close for
 * HTTP/1.0), whether the connection persists after it (section 9.3), and
 * the head that says so.
 *
 * @module
 */

import { encodeChunk, lastChunk } from "./chunked.ts";
import { writeResponseHead } from "./head.ts";
import { parseContentLength } from "./framing.ts";
import { parseTokenList } from "./header_values.ts";

const encoder = new TextEncoder();

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * The standard reason phrase of an HTTP status, or "Unknown".
 *
 * @param status - An HTTP status code.
 * @returns The reason phrase.
 * @example
 * ```ts
 * reasonPhrase(404); // "Not Found"
 * ```
 */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "Unknown";
}

/**
 * Writes a complete response that refuses a request, with a plain-text
 * body and `Connection: close`: after it the connection is closed.
 *
 * @param status - The HTTP status.
 * @param body - The body text (the reason, for a person reading it).
 * @param headers - More headers (a 426 needs `Sec-WebSocket-Version` or `Upgrade`).
 * @returns The response's bytes, head and body.
 * @example
 * ```ts
 * rejectResponse(400, "Sec-WebSocket-Key is not base64 of 16 bytes");
 * ```
 */
export function rejectResponse(
  status: number,
  body: string,
  headers: Iterable<readonly [string, string]> = [],
): Uint8Array {
  const bodyBytes = encoder.encode(body);
  const all: [string, string][] = [];
  for (const [name, value] of headers) all.push([name, value]);
  all.push(["Content-Type", "text/plain; charset=utf-8"]);
  all.push(["Content-Length", String(bodyBytes.length)]);
  all.push(["Connection", "close"]);
  const head = writeResponseHead({ status, reason: REASONS[status] ?? "Error", headers: all });
  const out = new Uint8Array(head.length + bodyBytes.length);
  out.set(head, 0);
  out.set(bodyBytes, head.length);
  return out;
}

/** A response's status line and headers, for `HttpServerProtocol.startResponse`. */
export interface ResponseHeadInit {
  /** 200-599 (informational answers have their own method). */
  status: number;
  /** Reason phrase; default the standard one. */
  reason?: string;
  /**
   * Headers in order. `Connection`, `Keep-Alive` and `Transfer-Encoding`
   * are the connection's business and replaced (a `Connection: close` here
   * closes the connection after the answer); a valid `Content-Length` makes
   * the body that long.
   */
  headers?: Iterable<readonly [string, string]>;
}

/** How a response body is delimited on the wire. */
export type BodyFraming = "none" | "length" | "chunked" | "close";

/** What {@link planResponse} decided. */
export interface ResponsePlan {
  head: Uint8Array;
  framing: BodyFraming;
  /** With `"length"` framing: the body's length. */
  length: number;
  /** Whether the connection persists after this answer. */
  keepAlive: boolean;
}

/** What {@link planResponse} needs to know about the request. */
export interface AnsweredRequest {
  method: string;
  version: string;
  keepAlive: boolean;
}

/**
 * Decides a response's framing and persistence and writes its head.
 *
 * @param request - The request answered: method, version, whether its client asked to keep the connection.
 * @param init - Status, reason and headers.
 * @param mayKeepAlive - Whether the server is willing to keep the connection (limits, shutdown).
 * @returns The head bytes and how the body must be sent.
 * @throws TypeError on an invalid status, header name or value (no line can be injected).
 * @example
 * ```ts
 * const plan = planResponse({ method: "GET", version: "HTTP/1.1", keepAlive: true }, { status: 200 }, true);
 * plan.framing; // "chunked"
 * ```
 */
export function planResponse(request: AnsweredRequest, init: ResponseHeadInit, mayKeepAlive: boolean): ResponsePlan {
  const status = init.status;
  if (!Number.isInteger(status) || status < 200 || status > 999) throw new TypeError(`invalid response status ${String(status)}`);
  const headers: [string, string][] = [];
  let length: number | undefined;
  let appCloses = false;
  for (const [name, value] of init.headers ?? []) {
    const lower = name.toLowerCase();
    if (lower === "connection") {
      appCloses ||= parseTokenList(value)?.some((t) => t.toLowerCase() === "close") ?? false;
    } else if (lower === "content-length") {
      const parsed = parseContentLength(value.trim());
      if (parsed !== undefined && parsed !== Infinity) length = parsed; // else: framed by us instead
    } else if (lower !== "transfer-encoding" && lower !== "keep-alive") {
      headers.push([name, value]);
    }
  }
  const http10 = request.version === "HTTP/1.0";
  let framing: BodyFraming;
  // RFC 9112 6.3: responses to HEAD, and 204 and 304 responses, end at the head whatever their headers say.
  if (request.method === "HEAD" || status === 204 || status === 304) {
    framing = "none";
    // RFC 9110 8.6: a HEAD or 304 answer may state the length a GET would get; a 204 must not.
    if (length !== undefined && status !== 204) headers.push(["Content-Length", String(length)]);
  } else if (length !== undefined) {
    framing = "length";
    headers.push(["Content-Length", String(length)]);
  } else if (!http10) {
    framing = "chunked";
    headers.push(["Transfer-Encoding", "chunked"]);
  } else {
    framing = "close"; // HTTP/1.0 knows no chunks: the end of the connection ends the body
  }
  const keepAlive = mayKeepAlive && request.keepAlive && !appCloses && framing !== "close";
  if (!keepAlive) headers.push(["Connection", "close"]);
  else if (http10) headers.push(["Connection", "keep-alive"]);
  const head = writeResponseHead({ status, reason: init.reason ?? reasonPhrase(status), headers });
  return { head, framing, length: length ?? 0, keepAlive };
}

/**
 * Frames the body of one answer as its plan says: as it is with
 * `Content-Length` (never past it) or to the close, in chunks otherwise,
 * nothing for bodiless answers.
 */
export class BodyFramer {
  readonly framing: BodyFraming;
  #left: number;

  /** @param plan - What {@link planResponse} decided. */
  constructor(plan: ResponsePlan) {
    this.framing = plan.framing;
    this.#left = plan.length;
  }

  /**
   * The parts to write for `data` (not copied).
   *
   * @throws TypeError when `data` goes past the `Content-Length` announced.
   */
  frame(data: Uint8Array): Uint8Array[] {
    switch (this.framing) {
      case "none":
        return [];
      case "length":
        if (data.length > this.#left) throw new TypeError(`response body longer than its Content-Length (${this.#left} bytes left)`);
        this.#left -= data.length;
        return [data];
      case "chunked":
        return encodeChunk(data);
      case "close":
        return [data];
    }
  }

  /** What ends the body (the last chunk, or nothing), and whether it is whole (a short `Content-Length` body is not). */
  end(): { parts: Uint8Array[]; whole: boolean } {
    if (this.framing === "chunked") return { parts: [lastChunk()], whole: true };
    return { parts: [], whole: this.framing !== "length" || this.#left === 0 };
  }
}
