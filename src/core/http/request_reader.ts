/**
 * Reads requests off a connection's byte stream, one message at a time:
 * its head (with its framing checked), then its body, delimited by
 * `Content-Length` or chunks. It knows nothing of answers or of the
 * connection's persistence: `HttpServerProtocol` drives it.
 *
 * @module
 */

import { ByteQueue } from "../byte_queue.ts";
import { HttpError } from "../errors.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { type HttpRequest, requestFraming } from "./framing.ts";
import type { HeaderMap } from "./header_map.ts";
import { type HeadLimits, RequestHeadParser } from "./head.ts";

const CR = 0x0d;
const LF = 0x0a;

/** How far {@link RequestReader.readBody} got. */
export type BodyProgress = "more" | { trailers: HeaderMap | undefined } | HttpError;

/** The received bytes and the message being read from them. */
export class RequestReader {
  readonly #input = new ByteQueue();
  readonly #headLimits: Partial<HeadLimits> | undefined;
  #scanner: RequestHeadParser | undefined;
  #remaining = 0; // Content-Length body bytes still to come
  #chunked: ChunkedDecoder | undefined;

  constructor(headLimits: Partial<HeadLimits> | undefined) {
    this.#headLimits = headLimits;
  }

  /** Received bytes not read yet. */
  get buffered(): number {
    return this.#input.length;
  }

  /** Whether part of a head has been read (and not the rest). */
  get inHead(): boolean {
    return this.#scanner !== undefined;
  }

  /** Keeps received bytes (not copied: their memory must not be reused). */
  push(chunk: Uint8Array): void {
    this.#input.push(chunk);
  }

  /** Drops everything received and the message in progress. */
  clear(): void {
    this.#input.clear();
    this.#scanner = undefined;
    this.#chunked = undefined;
  }

  /** Takes every byte received and not read (they belong to another protocol now). */
  takeAll(): Uint8Array {
    const rest = this.#input.take(this.#input.length);
    this.clear();
    return rest;
  }

  /**
   * Reads a request head.
   *
   * @returns The request, the error to refuse it with, or undefined while the head is incomplete.
   */
  readHead(): HttpRequest | HttpError | undefined {
    const input = this.#input;
    if (this.#scanner === undefined) {
      // RFC 9112 2.2: a server SHOULD ignore at least one empty line before a request line.
      while (input.length >= 2 && input.peek(0) === CR && input.peek(1) === LF) input.skip(2);
      if (input.length === 0 || (input.length === 1 && input.peek(0) === CR)) return undefined;
      this.#scanner = new RequestHeadParser(this.#headLimits);
    }
    while (input.length > 0) {
      const bytes = input.peekChunk();
      const result = this.#scanner.push(bytes);
      if (result.state === "incomplete") {
        input.skip(bytes.length);
        continue;
      }
      this.#scanner = undefined;
      if (result.state === "error") return result.error;
      input.skip(bytes.length - result.rest.length);
      return requestFraming(result.head);
    }
    return undefined;
  }

  /**
   * Starts reading the body of `request`, up to `limit` bytes.
   *
   * @returns 413 when its `Content-Length` is over the limit (nothing is read).
   */
  startBody(request: HttpRequest, limit: number): HttpError | undefined {
    if (request.bodyLength === "chunked") {
      this.#chunked = new ChunkedDecoder(limit, this.#headLimits);
    } else if (request.bodyLength > limit) {
      return new HttpError(413, "WS_ERR_HTTP_BODY_TOO_LARGE", `request body of ${request.bodyLength} bytes exceeds the limit of ${limit}`);
    } else {
      this.#remaining = request.bodyLength;
    }
    return undefined;
  }

  /**
   * Allows `more` bytes of the body in progress to be read and dropped.
   *
   * @returns False when the rest is known to be longer.
   */
  allowDrain(more: number): boolean {
    if (this.#chunked !== undefined) {
      this.#chunked.limit = this.#chunked.received + more;
      return true;
    }
    return this.#remaining <= more;
  }

  /**
   * Reads body bytes, handing each piece (a view) to `sink`.
   *
   * @returns `"more"` while bytes are missing, the end (with a chunked body's trailers), or the error.
   */
  readBody(sink: (data: Uint8Array) => void): BodyProgress {
    const chunked = this.#chunked;
    if (chunked !== undefined) {
      const result = chunked.read(this.#input, sink);
      if (result === undefined) return "more";
      this.#chunked = undefined;
      if (result instanceof HttpError) return result;
      return { trailers: result.size > 0 ? result : undefined };
    }
    const input = this.#input;
    while (this.#remaining > 0 && input.length > 0) {
      const data = input.takeUpTo(this.#remaining);
      this.#remaining -= data.length;
      sink(data);
    }
    return this.#remaining > 0 ? "more" : { trailers: undefined };
  }
}
