/**
 * Plain HTTP/2 requests on the WebSocket port: a stream that is not an
 * extended CONNECT becomes a WHATWG `Request` for the application's
 * `fetch`, with its body streamed in (the stream is paused while the
 * handler does not read), and the `Response` is written back with its body
 * streamed out under the stream's backpressure.
 *
 * @module
 */

import { http2Fields, http2Refusal, type Http2ResponseHead } from "../core/h2_handshake.ts";
import type { Http2StreamTransport } from "../transport/http2.ts";
import type { PeerInfo } from "../transport/transport.ts";
import type { FetchHandler } from "./http_exchange.ts";

/** Limits of {@link serveHttp2Request}. */
export interface Http2BridgeLimits {
  /** Largest request body, bytes (413 above). */
  maxBodySize: number;
  /** Bytes queued on the stream above which the response body waits for a drain. */
  highWaterMark: number;
}

/** Request body bytes queued for the handler before the stream is paused. */
const BODY_QUEUE_BYTES = 64 * 1024;

/**
 * Answers one plain HTTP/2 request: 404 without `fetch` or when it returns
 * nothing, 500 when it throws, 405 for a CONNECT that is not RFC 8441's,
 * 413 for a body over the limit, 400 for a request `Request` refuses.
 *
 * @param transport The stream, not started.
 * @param peer Who sent it.
 * @param fetch The application's handler, if any.
 * @param limits Body size and write backpressure.
 * @returns Resolves when the response is written (or the stream is gone).
 */
export async function serveHttp2Request(
  transport: Http2StreamTransport,
  peer: PeerInfo,
  fetch: FetchHandler | undefined,
  limits: Http2BridgeLimits,
): Promise<void> {
  const exchange = new Exchange(transport, limits);
  const method = exchange.field(":method") ?? "";
  if (method === "CONNECT") return exchange.refuse(405, "CONNECT is only served as an RFC 8441 extended CONNECT for websocket", [["allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"]]);
  if (fetch === undefined) return exchange.refuse(404, "no HTTP handler here");
  const length = exchange.field("content-length");
  if (length !== undefined && Number(length) > limits.maxBodySize) {
    return exchange.refuse(413, `request body of ${length} bytes exceeds the limit of ${limits.maxBodySize}`, [], true);
  }
  let request: Request;
  try {
    request = exchange.toRequest(method);
  } catch {
    return exchange.refuse(400, "Bad Request");
  }
  let response: Response | undefined;
  try {
    response = (await fetch(request, peer)) ?? new Response("Not Found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
  } catch {
    response = new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  await exchange.send(response, method === "HEAD");
}

/** One request/response exchange over a stream. */
class Exchange {
  readonly #transport: Http2StreamTransport;
  readonly #limits: Http2BridgeLimits;
  #body: ReadableStreamDefaultController<Uint8Array> | undefined;
  #received = 0;
  #answered = false;
  #closed = false;
  #drained: (() => void) | undefined;

  constructor(transport: Http2StreamTransport, limits: Http2BridgeLimits) {
    this.#transport = transport;
    this.#limits = limits;
    transport.start({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#drained?.(),
      end: () => this.#settleBody(),
      close: (error) => {
        this.#closed = true;
        this.#settleBody(error ?? new Error("the stream closed"));
        this.#drained?.();
      },
    });
  }

  /** A field of the request (pseudo-headers included), its first value. */
  field(name: string): string | undefined {
    return this.#transport.headers.find(([field]) => field === name)?.[1];
  }

  toRequest(method: string): Request {
    const url = new URL(`${this.field(":scheme") ?? "https"}://${this.field(":authority") ?? ""}${this.field(":path") ?? "/"}`);
    const headers = new Headers();
    const cookies: string[] = [];
    for (const [name, value] of this.#transport.headers) {
      if (name.startsWith(":")) continue;
      if (name === "cookie") cookies.push(value);
      else headers.append(name, value);
    }
    if (cookies.length > 0) headers.set("cookie", cookies.join("; ")); // RFC 9113 8.2.3
    if (!headers.has("host") && url.host !== "") headers.set("host", url.host);
    const hasBody = method !== "GET" && method !== "HEAD";
    const transport = this.#transport;
    const body = hasBody
      ? new ReadableStream<Uint8Array>({
        start: (controller) => void (this.#body = controller),
        pull: () => transport.resume(),
        cancel: () => transport.pause(),
      }, { highWaterMark: BODY_QUEUE_BYTES, size: (chunk) => chunk.byteLength })
      : null;
    // `duplex: "half"`: a streamed request body, as the Fetch standard requires for one.
    return new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
  }

  #onData(chunk: Uint8Array): void {
    const body = this.#body;
    if (body === undefined) return; // no body expected: dropped
    this.#received += chunk.length;
    if (this.#received > this.#limits.maxBodySize) {
      this.#settleBody(new RangeError("request body too large"));
      this.refuse(413, `request body exceeds the limit of ${this.#limits.maxBodySize} bytes`, [], true);
      return;
    }
    body.enqueue(chunk);
    if ((body.desiredSize ?? 0) <= 0) this.#transport.pause();
  }

  #settleBody(error?: Error): void {
    const body = this.#body;
    this.#body = undefined;
    if (body === undefined) return;
    try {
      if (error) body.error(error);
      else body.close();
    } catch {
      // Already closed or errored by the reader.
    }
  }

  /**
   * Answers with a short text, once; the stream ends with it. With
   * `stopUpload`, the stream is then reset, so a client still sending a body
   * that will not be read stops (the runtime sends the RST_STREAM after the
   * response's END_STREAM).
   */
  refuse(status: number, text: string, headers: [string, string][] = [], stopUpload = false): void {
    if (this.#answered || this.#closed) return;
    this.#answered = true;
    const { head, body } = http2Refusal(status, text, headers);
    this.#transport.respond(head);
    this.#transport.write([body]);
    this.#transport.end();
    if (stopUpload) this.#transport.destroy();
  }

  /** Writes a response, its body streamed under backpressure. */
  async send(response: Response, headOnly: boolean): Promise<void> {
    if (this.#answered || this.#closed) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    this.#answered = true;
    const head: Http2ResponseHead = { status: response.status, headers: [] };
    response.headers.forEach((value, name) => {
      if (name !== "set-cookie") head.headers.push([name, value]);
    });
    for (const cookie of response.headers.getSetCookie?.() ?? []) head.headers.push(["set-cookie", cookie]);
    head.headers = http2Fields(head.headers);
    const transport = this.#transport;
    transport.respond(head);
    const reader = headOnly ? undefined : response.body?.getReader();
    if (headOnly) await response.body?.cancel().catch(() => {});
    try {
      while (reader !== undefined && !this.#closed) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value.byteLength === 0) continue;
        transport.write([value]);
        if (transport.bufferedAmount > this.#limits.highWaterMark) await new Promise<void>((resolve) => (this.#drained = resolve));
      }
    } catch {
      // The body failed mid-way: the client must not take a truncated body for a whole one.
      transport.destroy();
      return;
    } finally {
      if (this.#closed) await reader?.cancel().catch(() => {});
    }
    transport.end();
    // A body the handler left unread is read and dropped, so the client can finish sending it and the stream can close.
    this.#settleBody(new Error("the response was sent"));
    transport.resume();
  }
}
