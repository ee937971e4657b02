/**
 * The server side of an HTTP/1.1 connection as a sans-IO state machine, in
 * the manner of Python's h11: bytes in, events out (a request's head, its
 * body as it arrives, its end), the answer's head and body in, bytes out.
 * It keeps the connection alive when both sides allow it (RFC 9112 section
 * 9.3), answers pipelined requests in order (a request is not read until
 * the one before it is answered), sends `100 Continue` when asked to, and
 * stops at a request that asks to switch protocols until the caller
 * decides.
 *
 * @module
 */

import { HttpError, InvalidStateError } from "../errors.ts";
import { type OutgoingData, OutputQueue } from "../output_queue.ts";
import type { HttpEvent } from "./events.ts";
import type { HttpRequest } from "./framing.ts";
import type { HeaderMap } from "./header_map.ts";
import type { HeadLimits } from "./head.ts";
import { RequestReader } from "./request_reader.ts";
import { BodyFramer, planResponse, rejectResponse, type ResponseHeadInit } from "./response.ts";
import { encodeLatin1 } from "./tokens.ts";

/** Options of an {@link HttpServerProtocol}; every limit has a safe default. */
export interface HttpServerProtocolOptions {
  /** Limits on each request head and on trailers. Default 8 KiB, 64 lines. */
  headLimits?: Partial<HeadLimits>;
  /** Largest request body when {@link HttpServerProtocol.acceptBody} names none, bytes. Default 1 MiB. */
  maxBodySize?: number;
  /** Requests served on one connection; the answer to the last says `Connection: close`. Default 1000. */
  maxRequests?: number;
  /** Whether connections may persist at all. Default true. */
  keepAlive?: boolean;
  /**
   * Body bytes read and dropped after an answer that did not read its
   * request's whole body, to keep the connection; past this the connection
   * closes instead. Default 64 KiB.
   */
  maxDrainSize?: number;
}

/** Default of {@link HttpServerProtocolOptions.maxBodySize}. */
export const DEFAULT_MAX_HTTP_BODY_SIZE = 1024 * 1024;
/** Default of {@link HttpServerProtocolOptions.maxRequests} (nginx's `keepalive_requests`). */
export const DEFAULT_MAX_REQUESTS = 1000;
/** Default of {@link HttpServerProtocolOptions.maxDrainSize}. */
export const DEFAULT_MAX_DRAIN_SIZE = 64 * 1024;

const enum Phase {
  Head, // reading a request head (or waiting for one)
  AwaitBody, // a request with a body was reported: waiting for acceptBody()
  Body, // reading the body
  Complete, // the request is read; waiting for its answer to end
  Upgrade, // the request asks to switch protocols: waiting for switchProtocols() or the answer
  Drain, // answered before the body was read: reading it to drop it
  Closed,
  Switched,
}

const CONTINUE = encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n");
// The end of a request without a body, the same (immutable) event every time.
const END: HttpEvent = Object.freeze({ type: "http-end", trailers: undefined });

/**
 * One server-side HTTP/1.1 connection, without I/O.
 *
 * @example
 * ```ts
 * import { HttpServerProtocol, SEND_EOF } from "wsport/core";
 * declare const socket: { write(bytes: Uint8Array): void };
 * declare const bytes: Uint8Array;
 *
 * const http = new HttpServerProtocol();
 * for (const event of http.receiveData(bytes)) {
 *   if (event.type === "http-end") http.respond({ status: 200, body: new TextEncoder().encode("hi") });
 * }
 * for (const data of http.dataToSend()) if (data !== SEND_EOF) socket.write(data);
 * http.receiveData(new Uint8Array(0)); // the next pipelined request, if it already arrived
 * ```
 */
export class HttpServerProtocol {
  readonly #reader: RequestReader;
  // Made on the first answer: a connection that only upgrades never needs it.
  #queue: OutputQueue | undefined;
  readonly #maxBodySize: number;
  readonly #maxRequests: number;
  readonly #maxDrain: number;
  #keepAliveAllowed: boolean;
  #phase = Phase.Head;
  #request: HttpRequest | undefined;
  #requests = 0;
  #bodyStarted = false; // a body byte of this request arrived
  #continueSent = false;
  #response: "none" | "started" | "done" = "none";
  #body: BodyFramer | undefined; // the answer's, once its head is queued
  #keepAlive = false; // decided by the answer's head
  #peerEnded = false;

  constructor(options: HttpServerProtocolOptions = {}) {
    this.#reader = new RequestReader(options.headLimits);
    this.#maxBodySize = options.maxBodySize ?? DEFAULT_MAX_HTTP_BODY_SIZE;
    this.#maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
    this.#maxDrain = options.maxDrainSize ?? DEFAULT_MAX_DRAIN_SIZE;
    this.#keepAliveAllowed = options.keepAlive ?? true;
  }

  // --- state ---

  /** The request being answered, from its head until its answer ends. */
  get request(): HttpRequest | undefined {
    return this.#request;
  }

  /** Requests reported on this connection so far. */
  get requestCount(): number {
    return this.#requests;
  }

  /** Between requests, with no byte of the next one received: the connection is idle (keep-alive). */
  get idle(): boolean {
    return this.#phase === Phase.Head && this.#request === undefined && !this.#reader.inHead && this.#reader.buffered === 0;
  }

  /** The connection is done: the last answer (or a refusal) is queued, followed by the half-close. */
  get closed(): boolean {
    return this.#phase === Phase.Closed;
  }

  /** Whether the current request's answer has begun (its head is queued). */
  get responseStarted(): boolean {
    return this.#response !== "none";
  }

  /** Whether the current request's body is being read or waits to be accepted. */
  get bodyPending(): boolean {
    return this.#phase === Phase.AwaitBody || this.#phase === Phase.Body;
  }

  /** Bytes queued and not yet taken by {@link dataToSend}. */
  get bufferedAmount(): number {
    return this.#queue?.bufferedAmount ?? 0;
  }

  /**
   * Received bytes not processed yet: pipelined requests waiting for the
   * answer in progress. The I/O layer should stop reading when this grows.
   */
  get bufferedInput(): number {
    return this.#reader.buffered;
  }

  // --- receiving ---

  /**
   * Processes received bytes. Never throws. A request that is read waits
   * in the buffer until the one before it is answered: after
   * {@link endResponse}, call again with an empty chunk to read it.
   *
   * @param chunk - Bytes read from the transport (kept: do not reuse its memory).
   * @returns The events these bytes completed, in order.
   */
  receiveData(chunk: Uint8Array): HttpEvent[] {
    const events: HttpEvent[] = [];
    if (this.#phase === Phase.Closed || this.#phase === Phase.Switched) return events;
    this.#reader.push(chunk);
    this.#process(events);
    return events;
  }

  /**
   * Reports the client's half-close. Requests already received are still
   * answered, then the connection closes; a request whose body was cut
   * short yields an `"http-error"` (400) and the connection closes.
   *
   * @returns The events, if any.
   */
  receiveEof(): HttpEvent[] {
    const events: HttpEvent[] = [];
    this.#peerEnded = true;
    switch (this.#phase) {
      case Phase.Head:
        // Between requests, or a head cut short: nobody is waiting for an answer.
        if (this.#request === undefined) this.#close();
        break;
      case Phase.AwaitBody:
      case Phase.Body:
        this.#fail(new HttpError(400, "WS_ERR_HTTP_INCOMPLETE_BODY", "the client closed before its request body ended"), events, false);
        break;
      case Phase.Drain:
        this.#close();
        break;
      default:
        break; // Complete, Upgrade: the answer still goes out
    }
    return events;
  }

  /**
   * Starts reading the current request's body, up to `limit` bytes: a
   * `Content-Length` over it is refused at once with 413 (the body is never
   * read) and so is a chunked body once it would pass it.
   *
   * @param limit - Largest body accepted. Default: the `maxBodySize` option.
   * @returns The events of the body bytes already received.
   */
  acceptBody(limit: number = this.#maxBodySize): HttpEvent[] {
    const events: HttpEvent[] = [];
    const request = this.#request;
    if (this.#phase !== Phase.AwaitBody || request === undefined) return events;
    const refused = this.#reader.startBody(request, limit);
    if (refused !== undefined) {
      this.#fail(refused, events, true);
      return events;
    }
    this.#phase = Phase.Body;
    this.#process(events);
    return events;
  }

  // --- answering ---

  /**
   * Queues `100 Continue` if the client waits for it before sending its
   * body (`Expect: 100-continue`) and nothing was answered yet: call it
   * when the application starts reading the body.
   */
  sendContinue(): void {
    const request = this.#request;
    if (request?.expectContinue !== true || this.#continueSent || this.#response !== "none" || this.#bodyStarted) return;
    if (!this.bodyPending) return;
    this.#continueSent = true;
    this.#output().push(CONTINUE);
  }

  /**
   * Queues the answer's head. The body is framed by the `Content-Length`
   * given, else chunked (to the close for an HTTP/1.0 client); HEAD, 204
   * and 304 answers have none. The connection persists after the answer
   * when the client asked for it, the headers do not say `Connection:
   * close`, and no limit ends it.
   *
   * @param init - Status (200-999), reason and headers.
   * @throws InvalidStateError when no request awaits an answer; TypeError on invalid headers.
   */
  startResponse(init: ResponseHeadInit): void {
    const request = this.#request;
    if (this.#phase === Phase.Closed) return; // the client is gone or the request failed
    if (request === undefined || this.#response !== "none") throw new InvalidStateError("no request awaits a response");
    const plan = planResponse(request, init, this.#mayKeepAlive());
    this.#output().push(plan.head);
    this.#response = "started";
    this.#body = new BodyFramer(plan);
    this.#keepAlive = plan.keepAlive;
  }

  /**
   * Queues body bytes of the answer (not copied: do not modify them until
   * written). Ignored for answers without a body, and once the connection
   * closed.
   *
   * @param data - The bytes.
   * @throws InvalidStateError when no answer was started; TypeError past the `Content-Length` the head announced.
   */
  sendBody(data: Uint8Array): void {
    if (this.#phase === Phase.Closed || data.length === 0) return;
    if (this.#response !== "started") throw new InvalidStateError("no response is being sent");
    for (const part of this.#body!.frame(data)) this.#output().push(part);
  }

  /**
   * Ends the answer. The connection then reads the next request, or closes
   * (after the queued bytes) when it does not persist. A body shorter than
   * its `Content-Length` cannot be ended: the connection closes, which
   * tells the client the answer is incomplete.
   */
  endResponse(): void {
    if (this.#phase === Phase.Closed) return;
    if (this.#response !== "started") throw new InvalidStateError("no response is being sent");
    this.#response = "done";
    const { parts, whole } = this.#body!.end();
    for (const part of parts) this.#output().push(part);
    if (!this.#keepAlive || !whole) return this.#close();
    if (this.#phase === Phase.Complete || this.#phase === Phase.Upgrade) return this.#nextCycle();
    // Answered before the body was read. A client still waiting for 100 Continue may never send it.
    if (this.#request!.expectContinue && !this.#continueSent && !this.#bodyStarted) return this.#close();
    const fits = this.#phase === Phase.AwaitBody
      ? this.#reader.startBody(this.#request!, this.#maxDrain) === undefined
      : this.#reader.allowDrain(this.#maxDrain);
    if (!fits) return this.#close();
    this.#phase = Phase.Drain;
  }

  /**
   * Answers the current request whole: head, body with its `Content-Length`,
   * end. See {@link startResponse}.
   *
   * @param response - Status, reason, headers and body.
   */
  respond(response: ResponseHeadInit & { body?: Uint8Array }): void {
    const body = response.body ?? new Uint8Array(0);
    const headers: [string, string][] = [];
    for (const [name, value] of response.headers ?? []) if (name.toLowerCase() !== "content-length") headers.push([name, value]);
    headers.push(["Content-Length", String(body.length)]);
    this.startResponse({ status: response.status, reason: response.reason, headers });
    this.sendBody(body);
    this.endResponse();
  }

  /**
   * Refuses the current request (or the connection) with a plain-text
   * answer and `Connection: close`, then closes. When an answer was
   * already started, it is cut short instead.
   *
   * @param status - The HTTP status (e.g. 403).
   * @param body - The body text.
   * @param headers - More headers.
   */
  reject(status: number, body = "", headers: Iterable<readonly [string, string]> = []): void {
    if (this.#phase === Phase.Closed) return;
    if (this.#response === "none") this.#output().push(rejectResponse(status, body, headers));
    this.#close();
  }

  /**
   * Closes the connection now (after what is queued): an answer in progress
   * is cut short, which tells the client it is incomplete.
   */
  abort(): void {
    if (this.#phase !== Phase.Closed) this.#close();
  }

  /** Keep the connection no longer than the current exchange (shutdown): closes now when idle. */
  closeAfterResponse(): void {
    this.#keepAliveAllowed = false;
    if (this.#phase === Phase.Head && this.#request === undefined) this.#close();
  }

  /**
   * Switches protocols after a request with `Upgrade` (the caller writes the
   * 101 itself): the HTTP connection is over.
   *
   * @returns The bytes received after the request, which belong to the new protocol.
   * @throws InvalidStateError unless the current request asked to switch and is not answered.
   */
  switchProtocols(): Uint8Array {
    if (this.#phase !== Phase.Upgrade || this.#response !== "none") throw new InvalidStateError("no upgrade request awaits a decision");
    this.#phase = Phase.Switched;
    return this.#reader.takeAll();
  }

  /**
   * Takes everything queued for writing, in order.
   *
   * @returns The chunks to write; `SEND_EOF` means half-close after them.
   */
  dataToSend(): OutgoingData[] {
    return this.#queue === undefined ? [] : this.#queue.take();
  }

  // --- the machine ---

  #output(): OutputQueue {
    return (this.#queue ??= new OutputQueue());
  }

  #mayKeepAlive(): boolean {
    if (!this.#keepAliveAllowed || this.#requests >= this.#maxRequests) return false;
    // The client half-closed and sent nothing more: this is the last answer.
    if (this.#peerEnded && this.#reader.buffered === 0 && !this.bodyPending) return false;
    // A client waiting for 100 Continue that we answer first may never send the body we would have to read.
    const request = this.#request!;
    return !(request.expectContinue && this.bodyPending && !this.#continueSent && !this.#bodyStarted);
  }

  #process(events: HttpEvent[]): void {
    for (;;) {
      switch (this.#phase) {
        case Phase.Head:
          if (!this.#readHead(events)) return;
          break;
        case Phase.Body:
        case Phase.Drain:
          if (!this.#readBody(events)) return;
          break;
        default:
          return; // waiting for the caller
      }
    }
  }

  /** @returns Whether to go on processing. */
  #readHead(events: HttpEvent[]): boolean {
    const reader = this.#reader;
    if (reader.buffered === 0) {
      if (this.#peerEnded && !reader.inHead) this.#close();
      return false;
    }
    const request = reader.readHead();
    if (request === undefined) return false;
    if (request instanceof HttpError) {
      this.#fail(request, events, true);
      return false;
    }
    this.#requests++;
    this.#request = request;
    this.#response = "none";
    this.#bodyStarted = false;
    this.#continueSent = false;
    events.push({ type: "http-request", request });
    if (request.bodyLength === 0) {
      events.push(END);
      this.#phase = request.upgrade !== undefined ? Phase.Upgrade : Phase.Complete;
    } else {
      this.#phase = Phase.AwaitBody;
    }
    return false;
  }

  /** @returns Whether to go on processing. */
  #readBody(events: HttpEvent[]): boolean {
    const draining = this.#phase === Phase.Drain;
    if (this.#reader.buffered > 0) this.#bodyStarted = true;
    const progress = this.#reader.readBody(draining ? ignore : (data) => events.push({ type: "http-body", data }));
    if (progress === "more") return false;
    if (progress instanceof HttpError) {
      if (draining) this.#close();
      else this.#fail(progress, events, true);
      return false;
    }
    return this.#bodyDone(events, progress.trailers);
  }

  #bodyDone(events: HttpEvent[], trailers: HeaderMap | undefined): boolean {
    if (this.#phase === Phase.Drain) {
      this.#nextCycle();
      return !this.closed;
    }
    events.push({ type: "http-end", trailers });
    this.#phase = this.#request!.upgrade !== undefined ? Phase.Upgrade : Phase.Complete;
    return false;
  }

  #nextCycle(): void {
    this.#request = undefined;
    this.#body = undefined;
    this.#response = "none";
    this.#phase = Phase.Head;
    if (this.#peerEnded && this.#reader.buffered === 0) this.#close();
  }

  /** The request or connection failed: answer when `answer` and nothing was sent yet, then close. */
  #fail(error: HttpError, events: HttpEvent[], answer: boolean): void {
    events.push({ type: "http-error", error });
    if (answer && this.#response === "none") this.#output().push(rejectResponse(error.status, error.message, error.headers));
    this.#close();
  }

  #close(): void {
    this.#phase = Phase.Closed;
    this.#reader.clear();
    this.#output().pushEof();
  }
}

function ignore(): void {}
