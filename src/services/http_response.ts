/**
 * Writes an application's WHATWG `Response` through the HTTP/1.1 state
 * machine as it is produced: a body that ends at once (a string, bytes, a
 * small stream) goes out whole with its `Content-Length`, in one write;
 * any other is streamed in chunks, each written when it comes, with the
 * reading paused while the socket is backed up and the stream cancelled
 * when the client goes away.
 *
 * @module
 */

import type { HttpServerProtocol } from "../core/http/connection.ts";

/** Where a response is written: what the exchange provides. */
export interface ResponseSink {
  readonly http: HttpServerProtocol;
  /** Writes what the state machine queued. */
  flush(): void;
  /** Resolves once the socket can take more (true), or the client is gone (false). */
  writable(): Promise<boolean>;
  /** The exchange is over (the client left, a timeout): stop writing. */
  gone: boolean;
  /** Called with the reader once there is one, so that the exchange can cancel it when the client leaves. */
  reading(reader: ReadableStreamDefaultReader<unknown> | undefined): void;
  /** The network's shortcut to a fixed body (see `Network.fixedResponseBody`). */
  fixedBody?: (response: Response) => Uint8Array | string | undefined;
}

/** How writing ended. */
export type WriteOutcome = "done" | "gone" | "failed";

/**
 * Microtask turns a read gets to settle before the head is written. A
 * stream that has already ended settles its next read in one turn on
 * Node, Deno and Bun (measured), so a fixed body is sent with its length;
 * a stream still producing (server-sent events) does not, and its head
 * leaves at once. Too few turns only means a chunked answer, never a
 * wrong one.
 */
const SETTLE_TURNS = 3;
/** Bytes collected before the head is written, at most: past this the body is streamed. */
const COLLECT_LIMIT = 64 * 1024;

const PENDING: unique symbol = Symbol("pending");
const encoder = new TextEncoder();

type Read = ReadableStreamReadResult<unknown>;

/** The read's result if it settles within {@link SETTLE_TURNS} turns, else {@link PENDING}; a rejected read throws. */
async function settledSoon(read: Promise<Read>): Promise<Read | typeof PENDING> {
  let outcome: Read | typeof PENDING | undefined = PENDING;
  read.then((result) => (outcome = result), () => (outcome = undefined));
  for (let i = 0; i < SETTLE_TURNS && outcome === PENDING; i++) await null;
  if (outcome === undefined) return await read; // rethrows the stream's error
  return outcome;
}

/** A body chunk as bytes: streams of strings (or other views) are accepted too. */
function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("a response body chunk is not bytes");
}

/**
 * The response's headers as lines, `Set-Cookie` kept apart (joining them
 * with commas would break them), with a `Date` when the application gave none.
 *
 * @param response The application's response.
 * @param date The current HTTP-date.
 * @returns The header lines.
 */
export function responseHeaders(response: Response, date: string): [string, string][] {
  const headers: [string, string][] = [];
  let hasDate = false;
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    if (name === "date") hasDate = true;
    headers.push([name, value]);
  });
  for (const cookie of response.headers.getSetCookie?.() ?? []) headers.push(["set-cookie", cookie]);
  // RFC 9110 6.6.1: an origin server with a clock sends Date.
  if (!hasDate) headers.push(["date", date]);
  return headers;
}

function withLength(headers: [string, string][], length: number): [string, string][] {
  const out = headers.filter(([name]) => name !== "content-length");
  out.push(["content-length", String(length)]);
  return out;
}

/**
 * Sends `response` as the answer to the current request.
 *
 * @param sink Where to write.
 * @param method The request's method (a HEAD answer has no body).
 * @param response The application's response.
 * @param date The current HTTP-date, for `Date`.
 * @returns How it ended: the whole answer sent, the client gone, or the body failed (the answer was cut short).
 */
export async function writeResponse(sink: ResponseSink, method: string, response: Response, date: string): Promise<WriteOutcome> {
  const http = sink.http;
  const status = response.status;
  const head = { status, reason: response.statusText || undefined, headers: responseHeaders(response, date) };
  const body = response.body;
  const bodiless = status === 204 || status === 304;
  if (body === null || bodiless) {
    if (body !== null) void body.cancel().catch(() => {});
    if (!bodiless && !response.headers.has("content-length")) head.headers = withLength(head.headers, 0);
    http.startResponse(head);
    http.endResponse();
    sink.flush();
    return "done";
  }
  const fixed = sink.fixedBody?.(response);
  if (fixed !== undefined) {
    const bytes = typeof fixed === "string" ? encoder.encode(fixed) : fixed;
    http.startResponse({ ...head, headers: withLength(head.headers, bytes.length) });
    http.sendBody(bytes);
    http.endResponse();
    sink.flush();
    return "done";
  }
  const reader = body.getReader();
  sink.reading(reader);
  try {
    // Collect what the stream has at once: when it ends there, the length is known.
    const collected: Uint8Array[] = [];
    let size = 0;
    let read: Promise<Read> = reader.read();
    let next: Read | typeof PENDING = await read;
    while (next !== PENDING && !next.done && size < COLLECT_LIMIT && !sink.gone) {
      const bytes = asBytes(next.value);
      collected.push(bytes);
      size += bytes.length;
      read = reader.read();
      next = await settledSoon(read);
    }
    if (sink.gone) return "gone";
    if (next !== PENDING && next.done) {
      http.startResponse({ ...head, headers: withLength(head.headers, size) });
      for (const bytes of collected) http.sendBody(bytes);
      http.endResponse();
      sink.flush();
      return "done";
    }
    if (method === "HEAD") {
      void reader.cancel().catch(() => {});
      http.startResponse(head);
      http.endResponse();
      sink.flush();
      return "done";
    }
    http.startResponse(head);
    for (const bytes of collected) http.sendBody(bytes);
    sink.flush();
    for (;;) {
      const result = next === PENDING ? await read : next;
      next = PENDING;
      if (sink.gone) return "gone";
      if (result.done) break;
      http.sendBody(asBytes(result.value));
      sink.flush();
      // Backpressure: the next chunk is not asked for while the socket is full.
      if (!(await sink.writable())) return "gone";
      read = reader.read();
    }
    http.endResponse();
    sink.flush();
    return "done";
  } catch {
    if (sink.gone) return "gone";
    // The body failed midway (or broke its Content-Length): cutting the answer short is the only honest signal left.
    void reader.cancel().catch(() => {});
    if (!http.responseStarted) return "failed";
    http.abort();
    sink.flush();
    return "failed";
  } finally {
    sink.reading(undefined);
  }
}
