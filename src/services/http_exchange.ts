/**
 * One plain-HTTP exchange on the WebSocket port: the request parsed by the
 * sans-IO state machine becomes a WHATWG `Request` whose body streams in
 * as it arrives and whose `signal` aborts when the client goes away; the
 * application's `fetch` answers it; its `Response` streams out. `fetch`
 * failing gives 500 and a `fetch` that never answers 503, without
 * touching the connection's other work; a body larger than the route
 * allows gets 413 before a byte of it is read.
 *
 * @module
 */

import type { HttpError } from "../core/errors.ts";
import type { HttpServerProtocol } from "../core/http/connection.ts";
import type { HttpEvent } from "../core/http/events.ts";
import type { HttpRequest } from "../core/http/framing.ts";
import type { PeerInfo } from "../transport/transport.ts";
import type { Clock, Timer } from "./clock.ts";
import { httpDate } from "./http_date.ts";
import { type ResponseSink, writeResponse } from "./http_response.ts";
import { RequestBody } from "./request_body.ts";

/** The application's plain-HTTP handler, as `ServeOptions.fetch`. */
export type FetchHandler = (request: Request, peer: PeerInfo) => Response | undefined | Promise<Response | undefined>;

/** How a server answers plain HTTP: made once per server. */
export interface HttpService {
  fetch: FetchHandler;
  clock: Clock;
  /** Whether requests arrive over TLS (the URL's scheme). */
  secure: boolean;
  /** `host:port` of the listener, for requests without a `Host`. */
  fallbackHost(): string;
  /** The largest body this request may have (413 above it, before reading). */
  maxBodySize(request: Request, peer: PeerInfo): number;
  /** Time allowed for `fetch` to return its `Response`, ms (503 after); 0 for none. */
  fetchTimeout: number;
  /** Longest silence allowed while a request body is being received, ms; 0 for none. */
  bodyTimeout: number;
  /** The network's shortcut to a fixed response body, if it has one. */
  fixedResponseBody?: (response: Response) => Uint8Array | string | undefined;
}

/** What an exchange needs from its connection. */
export interface ExchangeHost {
  readonly http: HttpServerProtocol;
  readonly peer: PeerInfo;
  readonly service: HttpService;
  /** Writes what the state machine queued. */
  flush(): void;
  /** Resolves when the socket can take more (true), or is gone (false). */
  writable(): Promise<boolean>;
  /** Handles events the state machine produced outside a read (accepting the body). */
  handle(events: HttpEvent[]): void;
  /** Stops or restarts reading the socket on the request body's account. */
  pauseForBody(paused: boolean): void;
  /** The exchange is over (answered, refused or failed); the connection goes on or closes. */
  exchangeDone(exchange: HttpExchange): void;
}

// Methods a WHATWG Request cannot carry (the Fetch standard forbids them): not implemented here.
const UNSUPPORTED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
// RFC 3986 reg-name, IP-literal and port characters: anything else in Host could bend the URL.
const HOST = /^[A-Za-z0-9\-._~!$&'()*+,;=:%[\]]*$/;

/** One request and its answer. */
export class HttpExchange {
  readonly request: HttpRequest;
  readonly #host: ExchangeHost;
  // The request's signal, and the Request itself, held until the exchange ends: Node's Request
  // follows our signal through a weak reference, so one nobody holds could be collected and
  // its signal never abort.
  #live: { abort: AbortController; request: Request | undefined } | undefined;
  #body: RequestBody | undefined;
  #bodyOpen = false;
  #state: "handling" | "writing" | "done" = "handling";
  #reader: ReadableStreamDefaultReader<unknown> | undefined;
  #fetchTimer: Timer | undefined;
  #bodyTimer: Timer | undefined;
  readonly #sink: ResponseSink;

  constructor(host: ExchangeHost, request: HttpRequest) {
    this.#host = host;
    this.request = request;
    this.#sink = {
      http: host.http,
      flush: () => host.flush(),
      writable: () => host.writable(),
      reading: (reader) => void (this.#reader = reader),
      gone: false,
      fixedBody: host.service.fixedResponseBody,
    };
  }

  /** Whether the exchange is over. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Builds the `Request`, accepts the body under the route's limit and calls `fetch`. */
  start(): void {
    const host = this.#host;
    const service = host.service;
    const head = this.request;
    const method = head.method;
    if (UNSUPPORTED_METHODS.has(method.toUpperCase())) return this.#answer(501, "Not Implemented");
    // GET and HEAD cannot carry a body in a WHATWG Request: one sent anyway is read and dropped.
    if (head.bodyLength !== 0 && method !== "GET" && method !== "HEAD") {
      this.#body = new RequestBody({
        firstRead: () => {
          host.http.sendContinue();
          host.flush();
        },
        pause: () => {
          this.#bodyTimer?.cancel();
          host.pauseForBody(true);
        },
        resume: () => {
          host.pauseForBody(false);
          if (this.#bodyOpen) this.#armBodyTimer();
        },
      });
    }
    const live = (this.#live = { abort: new AbortController(), request: undefined as Request | undefined });
    let request: Request;
    try {
      request = live.request = toRequest(head, this.#body?.stream, live.abort.signal, service.secure, service.fallbackHost());
    } catch {
      return this.#answer(400, "Bad Request");
    }
    if (head.bodyLength !== 0) {
      let limit: number;
      try {
        limit = service.maxBodySize(request, host.peer);
      } catch {
        return this.#answer(500, "Internal Server Error");
      }
      this.#bodyOpen = true;
      this.#armBodyTimer();
      host.handle(host.http.acceptBody(limit)); // a 413 ends the exchange here
      if (this.#state === "done") return;
    }
    if (service.fetchTimeout > 0) this.#fetchTimer = service.clock.setTimer(service.fetchTimeout, () => this.#fetchTimedOut());
    let result: Response | undefined | Promise<Response | undefined>;
    try {
      result = service.fetch(request, host.peer);
    } catch {
      return this.#failed();
    }
    Promise.resolve(result)
      .then((response) => this.#respond(response), () => this.#failed())
      .catch(() => this.#broken());
  }

  // --- the request body, as the state machine reports it ---

  /** @param data Body bytes. */
  body(data: Uint8Array): void {
    this.#body?.push(data);
    if (this.#bodyTimer !== undefined && !(this.#body?.paused ?? false)) this.#armBodyTimer();
  }

  /** The body is complete. */
  bodyEnd(): void {
    this.#bodyOpen = false;
    this.#bodyTimer?.cancel();
    this.#bodyTimer = undefined;
    this.#body?.end();
  }

  /**
   * The request broke the protocol or a limit while its body was read (the
   * state machine queued the answer when it still could, and closes).
   *
   * @param error What went wrong.
   */
  protocolError(error: HttpError): void {
    this.#end(error);
    this.#host.exchangeDone(this);
  }

  /** The client is gone: the request's signal aborts, its body fails, the response stream is cancelled. */
  abort(): void {
    if (this.#state === "done") return;
    this.#end(new DOMException("the client closed the connection", "AbortError"));
  }

  // --- answering ---

  async #respond(response: Response | undefined): Promise<void> {
    this.#fetchTimer?.cancel();
    if (this.#state !== "handling") {
      // Timed out or abandoned meanwhile: nobody will read this answer.
      if (response instanceof Response) void response.body?.cancel().catch(() => {});
      return;
    }
    if (response === undefined) return this.#answer(404, "Not Found");
    if (!(response instanceof Response)) return this.#failed();
    this.#state = "writing";
    const outcome = await writeResponse(this.#sink, this.request.method, response, httpDate());
    if (outcome === "gone" || this.done) return;
    if (outcome === "failed" && !this.#host.http.responseStarted) return this.#answer(500, "Internal Server Error");
    this.#complete();
  }

  /**
   * Answering threw (a `Response` whose getters throw, or a bug of ours):
   * 500 if nothing was sent yet, else the answer is cut; nothing else is
   * touched, and no rejection goes unhandled.
   */
  #broken(): void {
    if (this.done) return;
    const http = this.#host.http;
    if (!http.responseStarted) return this.#answer(500, "Internal Server Error");
    http.abort();
    this.#host.flush();
    this.#end(new Error("internal error while answering"));
    this.#host.exchangeDone(this);
  }

  #failed(): void {
    this.#fetchTimer?.cancel();
    if (this.#state !== "handling") return;
    this.#answer(500, "Internal Server Error");
  }

  #fetchTimedOut(): void {
    if (this.#state !== "handling") return;
    const http = this.#host.http;
    http.respond({
      status: 503,
      headers: [["content-type", "text/plain; charset=utf-8"], ["date", httpDate()]],
      body: new TextEncoder().encode("Service Unavailable: the handler did not answer in time"),
    });
    // The handler may still be running: its signal tells it that nobody waits for it.
    this.#end(new DOMException("the handler timed out", "TimeoutError"));
    this.#host.exchangeDone(this);
  }

  #bodyTimedOut(): void {
    if (this.#state === "done" || !this.#bodyOpen) return;
    const http = this.#host.http;
    // The client stalled mid-body: 408 when nothing was answered, else the answer is cut.
    if (!http.responseStarted) http.reject(408, "Request Timeout: the request body stalled");
    else http.abort();
    this.#end(new DOMException("the request body timed out", "TimeoutError"));
    this.#host.exchangeDone(this);
  }

  /** A plain-text answer of our own. */
  #answer(status: number, text: string): void {
    const http = this.#host.http;
    if (!http.closed && !http.responseStarted) {
      http.respond({
        status,
        headers: [["content-type", "text/plain; charset=utf-8"], ["date", httpDate()]],
        body: new TextEncoder().encode(text),
      });
    }
    this.#complete();
  }

  #complete(): void {
    // A body still arriving after the answer is read and dropped by the state machine.
    this.#end(this.#bodyOpen ? new Error("the response was sent before the request body ended") : undefined, false);
    this.#host.exchangeDone(this);
  }

  /**
   * Ends the exchange: timers stop, a body still arriving fails with
   * `error`, and when the exchange ends abnormally (`abandoned`) the
   * request's signal aborts and the response stream is cancelled.
   */
  #end(error: Error | undefined, abandoned = true): void {
    if (this.#state === "done") return;
    this.#state = "done";
    this.#sink.gone = true; // whatever still writes stops
    this.#fetchTimer?.cancel();
    this.#bodyTimer?.cancel();
    this.#bodyOpen = false;
    if (error !== undefined) this.#body?.fail(error);
    this.#body = undefined;
    const live = this.#live;
    this.#live = undefined;
    if (!abandoned) return;
    live?.abort.abort(error);
    const reader = this.#reader;
    this.#reader = undefined;
    void reader?.cancel(error).catch(() => {});
  }

  #armBodyTimer(): void {
    const ms = this.#host.service.bodyTimeout;
    if (ms <= 0) return;
    this.#bodyTimer?.cancel();
    this.#bodyTimer = this.#host.service.clock.setTimer(ms, () => this.#bodyTimedOut());
  }
}

/**
 * Builds the WHATWG `Request` of a parsed head: origin-form targets under
 * the `Host`, absolute-form ones as they are (RFC 9112 3.2.2).
 *
 * @throws TypeError for a target or Host that does not make a URL.
 */
function toRequest(
  head: HttpRequest,
  body: ReadableStream<Uint8Array> | undefined,
  signal: AbortSignal,
  secure: boolean,
  fallbackHost: string,
): Request {
  const target = head.target;
  let url: string;
  if (target.charCodeAt(0) === 0x2f /* / */) {
    const host = head.headers.get("host") || fallbackHost;
    if (!HOST.test(host)) throw new TypeError("invalid Host");
    url = `${secure ? "https" : "http"}://${host}${target}`;
  } else if (/^https?:\/\//i.test(target)) {
    url = target;
  } else {
    throw new TypeError("invalid request target");
  }
  const init: RequestInit & { duplex?: "half" } = { method: head.method, headers: head.headers.lines(), signal };
  if (body !== undefined) {
    init.body = body;
    init.duplex = "half"; // a streaming body (required by Node's fetch)
  }
  return new Request(url, init);
}
