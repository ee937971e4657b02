/**
 * The WHATWG `WebSocketStream` (whatwg/websockets PR #48, shipped by
 * Chromium and by Deno behind `--unstable-net`): a WebSocket as a promise
 * of a readable and a writable stream, with backpressure both ways. Built
 * on {@link connect} and {@link streamHandlers}, so it behaves the same on
 * Node, Deno and Bun.
 *
 * @module
 */

import { connect, type ConnectOptions } from "./client.ts";
import type { WebSocketConnection } from "./connection.ts";
import { type ConnectionStreams, type StreamMessage, streamHandlers } from "./connection_streams.ts";
import { connectionError, toCloseInfo, toUsvString, validateCloseInfo, type WebSocketCloseInfo } from "./websocket_error.ts";
import { checkSubprotocols, webSocketUrl } from "./whatwg_url.ts";

/** The second constructor argument, as the platform's. */
export interface WebSocketStreamOptions {
  /** Subprotocols to offer, in order of preference (a sequence: a lone string is refused). */
  protocols?: Iterable<string>;
  /** Aborts the opening handshake; no effect once open. */
  signal?: AbortSignal;
}

/**
 * Non-standard options (the third constructor argument), for what a
 * browser decides itself: headers, origin, TLS, extensions, limits,
 * network. As `WebSocket`'s.
 */
export type WebSocketStreamConnectOptions = Omit<ConnectOptions<undefined>, "protocols" | "handlers" | "data" | "signal">;

/** What `opened` resolves to. */
export interface WebSocketOpenInfo {
  /** Messages received: strings for text, `Uint8Array`s for binary. */
  readable: ReadableStream<StreamMessage>;
  /** Messages to send: strings as text, `ArrayBuffer`s and views as binary. */
  writable: WritableStream<unknown>;
  /** The `Sec-WebSocket-Extensions` the server accepted, or "". */
  extensions: string;
  /** The subprotocol the server chose, or "". */
  protocol: string;
}

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * The browser's `WebSocketStream`, on a server runtime.
 *
 * Connection failures reject `opened` and `closed` with a
 * `WebSocketStreamError` (name `"WebSocketError"`, `closeCode` 1006, wsport's
 * own error as `cause`); an abort by `signal` rejects them with
 * `signal.reason`.
 *
 * @example
 * ```ts
 * const wss = new WebSocketStream("ws://127.0.0.1:9001/", { protocols: ["chat"] });
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) console.log(message);
 * console.log(await wss.closed); // { closeCode: 1000, reason: "" }
 * ```
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #opened: Promise<WebSocketOpenInfo>;
  readonly #closed: Promise<WebSocketCloseInfo>;
  #streams: ConnectionStreams | undefined;
  // Aborts connect() (close() or the caller's signal during the handshake); undefined once settled.
  #handshake: AbortController | undefined;

  /**
   * Starts connecting at once.
   *
   * @param url A `ws:` or `wss:` URL (`http:` and `https:` are mapped to them), without a fragment.
   * @param options `protocols` and `signal`.
   * @param connectOptions wsport extension: headers, origin, TLS, extensions, limits, network.
   * @throws TypeError for a missing URL or options that are not a dictionary of a sequence and
   *   an `AbortSignal`; `SyntaxError` DOMException for an invalid URL or subprotocol.
   */
  constructor(url: string | URL, options?: WebSocketStreamOptions, connectOptions: WebSocketStreamConnectOptions = {}) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocketStream': 1 argument required, but only 0 present");
    // WebIDL converts every argument before the constructor's own checks run.
    const text = toUsvString(url);
    const { protocols, signal } = toStreamOptions(options);
    const parsed = webSocketUrl(text);
    checkSubprotocols(protocols);
    this.#url = parsed.href;

    let opened!: Settle<WebSocketOpenInfo>;
    let closed!: Settle<WebSocketCloseInfo>;
    this.#opened = new Promise((resolve, reject) => (opened = { resolve, reject }));
    this.#closed = new Promise((resolve, reject) => (closed = { resolve, reject }));
    // Rejections are for whoever watches; one nobody awaits must not count as unhandled.
    this.#opened.catch(() => {});
    this.#closed.catch(() => {});
    const fail = (error: unknown) => {
      opened.reject(error);
      closed.reject(error);
    };
    if (signal?.aborted) {
      fail(signal.reason); // no connection is attempted
      return;
    }

    const handshake = (this.#handshake = new AbortController());
    const onAbort = () => handshake.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let streams: ConnectionStreams | undefined;
    connect(parsed, {
      ...connectOptions,
      protocols,
      signal: handshake.signal,
      handlers: streamHandlers((_ws, pair) => void (streams = pair)),
    }).then((ws: WebSocketConnection<unknown>) => {
      this.#settled(signal, onAbort);
      if (handshake.signal.aborted) {
        // Aborted between the handshake's completion and this callback.
        ws.terminate();
        return fail(handshake.signal.reason);
      }
      if (protocols.length > 0 && ws.protocol === "") {
        // WebSockets Standard, "establish a WebSocket connection": subprotocols were asked for and none was chosen.
        ws.terminate();
        return fail(connectionError("the server chose none of the subprotocols offered", 1006));
      }
      this.#streams = streams!;
      opened.resolve({ readable: streams!.readable, writable: streams!.writable, extensions: ws.extensions, protocol: ws.protocol });
      streams!.closed.then(closed.resolve, closed.reject);
    }, (error: unknown) => {
      this.#settled(signal, onAbort);
      if (handshake.signal.aborted) return fail(handshake.signal.reason);
      const message = error instanceof Error ? error.message : String(error);
      fail(connectionError(`the WebSocket connection failed: ${message}`, 1006, "", error));
    });
  }

  /** The URL, serialised (with `http:`/`https:` mapped to `ws:`/`wss:`). */
  get url(): string {
    return this.#url;
  }

  /** Resolves with the streams, the extensions and the subprotocol once the connection is open. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened;
  }

  /**
   * Resolves with the peer's close code and reason once the connection
   * closed cleanly; rejects with a `WebSocketStreamError` otherwise.
   */
  get closed(): Promise<WebSocketCloseInfo> {
    return this.#closed;
  }

  /**
   * Closes the connection: during the handshake, abandons it (`opened` and
   * `closed` reject); once open, starts the closing handshake. Without a
   * code or reason the close frame has no body (the peer reports 1005); a
   * reason alone is sent with 1000. Does nothing once closing or closed,
   * but always checks its argument.
   *
   * @param closeInfo `{ closeCode, reason }`.
   * @throws TypeError for a value that is not a dictionary or a code outside 0–65535;
   *   `InvalidAccessError` DOMException for a code other than 1000 and 3000–4999;
   *   `SyntaxError` DOMException for a reason longer than 123 bytes of UTF-8.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const request = validateCloseInfo(toCloseInfo(closeInfo));
    if (this.#handshake) {
      this.#handshake.abort(connectionError("the WebSocket was closed before the connection was established", 1006));
      return;
    }
    this.#streams?.close(request);
  }

  get [Symbol.toStringTag](): string {
    return "WebSocketStream";
  }

  #settled(signal: AbortSignal | undefined, onAbort: () => void): void {
    signal?.removeEventListener("abort", onAbort);
    this.#handshake = undefined;
  }
}

/** WebIDL conversion of the `WebSocketStreamOptions` dictionary. */
function toStreamOptions(options: unknown): { protocols: string[]; signal: AbortSignal | undefined } {
  if (options === undefined || options === null) return { protocols: [], signal: undefined };
  if (typeof options !== "object" && typeof options !== "function") {
    throw new TypeError("Failed to construct 'WebSocketStream': the options must be a dictionary ({ protocols, signal })");
  }
  const { protocols, signal } = options as Record<string, unknown>; // WebIDL's order: protocols, then signal
  let list: string[] = [];
  if (protocols !== undefined) {
    const iterator = (protocols as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator];
    // A sequence: an object with an iterator. A string is not one (WebSocket's constructor takes it; this does not).
    if (typeof protocols !== "object" || protocols === null || typeof iterator !== "function") {
      throw new TypeError("Failed to construct 'WebSocketStream': protocols must be a sequence of strings");
    }
    list = Array.from(protocols as Iterable<unknown>, toUsvString);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("Failed to construct 'WebSocketStream': signal must be an AbortSignal");
  }
  return { protocols: list, signal };
}
