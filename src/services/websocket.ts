/**
 * The WHATWG `WebSocket` (the browser API: `EventTarget`, `onmessage`,
 * `binaryType`, `readyState` constants), built on {@link connect}, so code
 * written for browsers runs unchanged on every supported runtime. It
 * follows the WebSockets Standard step by step; where the Standard leaves
 * a choice, or browsers differ, the choice is the one the web-platform-tests
 * make, and is said where it is made.
 *
 * @module
 */

import { isToken } from "../core/http/header_values.ts";
import { utf8Length } from "../core/utf8.ts";
import { connect, type ConnectOptions, parseWebSocketUrl } from "./client.ts";
import { type Clock, systemClock, type Timer } from "./clock.ts";
import type { WebSocketConnection } from "./connection.ts";
import { CloseEventClass, type Sendable, toClampedUnsignedShort, toProtocolList, toSendable, toUSVString } from "./webidl.ts";

/** Non-standard options (the third constructor argument), for what browsers decide themselves. */
export type WebSocketOptions = Omit<ConnectOptions<undefined>, "protocols" | "handlers" | "data" | "signal">;

/**
 * An event handler attribute's type, as the platform's own `WebSocket`
 * declares it (`this` is a WebSocket of the platform's type, which this
 * class is), so that code typed for the platform's `WebSocket` accepts
 * this class.
 */
// deno-lint-ignore no-explicit-any
type Handler<E extends Event> = ((this: globalThis.WebSocket, event: E) => any) | null;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** How often `bufferedAmount` looks again while bytes wait to be sent, in ms. */
const BUFFERED_POLL = 16;

/**
 * The browser's `WebSocket`, on a server runtime.
 *
 * Where this class departs from a browser, and why: events are not
 * `isTrusted` (an `EventTarget` outside the browser cannot make them so);
 * relative URLs throw `SyntaxError`, as on every server runtime (there is
 * no document base URL); a third constructor argument takes wsport's client
 * options (headers, TLS, limits, network), which a browser decides itself.
 *
 * @example
 * ```ts
 * import { WebSocket } from "wsport";
 * const socket = new WebSocket("ws://127.0.0.1:9001/chat", ["chat"]);
 * socket.onmessage = (event) => console.log(event.data);
 * socket.onopen = () => socket.send("hello");
 * ```
 */
export class WebSocket extends EventTarget {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #protocols: readonly string[];
  readonly #clock: Clock;
  #readyState = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  #connection: WebSocketConnection<undefined> | undefined;
  readonly #abort = new AbortController();
  // The connection was failed (a protocol error, close() while connecting, a full buffer): error fires before close.
  #failed = false;
  // bufferedAmount: bytes handed to the connection and not known to be sent; bytes waiting behind a Blob read;
  // bytes "sent" once closing (counted, never sent, never going down: the Standard asks so).
  #queued = 0;
  #waiting = 0;
  #discarded = 0;
  #poll: Timer | undefined;
  #sendChain: Promise<void> | undefined; // keeps order while a Blob is read
  readonly #handlers = new Map<string, { value: object; listener: EventListener }>();

  /**
   * @param url A `ws:` or `wss:` URL (`http:`/`https:` become `ws:`/`wss:`), absolute, without a fragment.
   * @param protocols Subprotocols to offer: one string or a sequence of distinct tokens.
   * @param options wsport extension: headers, origin, TLS, limits, network.
   * @throws TypeError without a URL; a `"SyntaxError"` DOMException for a bad URL or subprotocol.
   */
  constructor(url: string | URL, protocols: string | Iterable<string> = [], options: WebSocketOptions = {}) {
    super();
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    // WebIDL converts every argument before the steps run.
    const href = toUSVString(url);
    const list = toProtocolList(protocols);
    let parsed: URL;
    try {
      parsed = new URL(href);
      if (parsed.protocol === "http:") parsed.protocol = "ws:";
      else if (parsed.protocol === "https:") parsed.protocol = "wss:";
      parseWebSocketUrl(parsed); // the scheme and the fragment (an empty one too)
    } catch (error) {
      throw new DOMException(error instanceof Error ? error.message : "invalid URL", "SyntaxError");
    }
    // Duplicates are compared ignoring ASCII case, as the web-platform-tests require (the Standard says "occur more than once").
    const lower = list.map((name) => name.toLowerCase());
    if (new Set(lower).size !== list.length) throw new DOMException("a subprotocol is repeated", "SyntaxError");
    const bad = list.find((name) => !isToken(name));
    if (bad !== undefined) throw new DOMException(`invalid subprotocol ${JSON.stringify(bad)}`, "SyntaxError");
    this.#url = parsed.href;
    this.#protocols = list;
    this.#clock = options.clock ?? systemClock;
    void this.#open(parsed, list, options ?? {});
  }

  async #open(url: URL, protocols: string[], options: WebSocketOptions): Promise<void> {
    try {
      await connect<undefined>(url, {
        ...options,
        protocols,
        signal: this.#abort.signal,
        handlers: {
          open: (connection) => this.#onOpen(connection),
          message: (_connection, message) => this.#onMessage(message),
          drain: () => this.#refreshBuffered(),
          // The Standard fires error when the connection closes, with readyState CLOSED: remember it till then.
          error: () => void (this.#failed = true),
          close: (_connection, code, reason) => this.#onClose(code, reason),
        },
      });
    } catch {
      // Refused, unreachable, a bad handshake, or close() while connecting: error, then close 1006.
      if (this.#readyState === CLOSED) return;
      this.#failed = true;
      this.#onClose(1006, "");
    }
  }

  /** The handshake succeeded: runs inside the read that completed it, before any frame that came with it. */
  #onOpen(connection: WebSocketConnection<undefined>): void {
    this.#connection = connection;
    // close() won the race with the handshake, or the server chose none of the subprotocols asked for
    // (the Standard fails the connection then; RFC 6455 alone would not): fail it.
    if (this.#readyState !== CONNECTING || (this.#protocols.length > 0 && connection.protocol === "")) {
      this.#failed = true;
      connection.terminate();
      return;
    }
    this.#readyState = OPEN;
    this.#extensions = connection.extensions;
    this.#protocol = connection.protocol;
    this.dispatchEvent(new Event("open"));
  }

  #onMessage(message: string | Uint8Array): void {
    this.#refreshBuffered();
    // A message that arrives once the closing handshake has started is not delivered.
    if (this.readyState !== OPEN) return;
    let data: string | Blob | ArrayBuffer;
    if (typeof message === "string") data = message;
    // binaryType is read now, when the message is dispatched.
    else if (this.#binaryType === "arraybuffer") data = message.slice().buffer as ArrayBuffer;
    else data = new Blob([message as Uint8Array<ArrayBuffer>]);
    this.dispatchEvent(new MessageEvent("message", { data, origin: new URL(this.#url).origin }));
  }

  #onClose(code: number, reason: string): void {
    this.#readyState = CLOSED;
    this.#poll?.cancel();
    this.#poll = undefined;
    // Bytes never sent stay counted: once closed, bufferedAmount never goes down.
    this.#discarded += this.#queued + this.#waiting;
    this.#queued = 0;
    this.#waiting = 0;
    const failed = this.#failed;
    if (failed) this.dispatchEvent(new Event("error"));
    const clean = !failed && code !== 1006;
    this.dispatchEvent(new CloseEventClass("close", { code: failed ? 1006 : code, reason: failed ? "" : reason, wasClean: clean }));
  }

  /** The URL, serialised (`http:`/`https:` already turned into `ws:`/`wss:`). */
  get url(): string {
    return this.#url;
  }

  /**
   * 0 CONNECTING, 1 OPEN, 2 CLOSING (from `close()`, or once the server's
   * close frame arrived or the connection is being failed), 3 CLOSED.
   */
  get readyState(): number {
    if (this.#readyState === OPEN && this.#connection !== undefined && this.#connection.readyState >= CLOSING) return CLOSING;
    return this.#readyState;
  }

  /** The subprotocol the server chose, or "" (also before open). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server accepted, or "" (also before open). */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * Bytes of application data (UTF-8 text, binary) passed to `send()` and
   * not yet sent, without framing: it grows at once with each `send()` and
   * goes down only between tasks (never while a script and its microtasks
   * run), to 0 once everything is written. Sends once the connection is
   * closing count too and never go down, as the Standard asks. With
   * compression negotiated it stays up until everything queued is sent.
   */
  get bufferedAmount(): number {
    return this.#queued + this.#waiting + this.#discarded;
  }

  /** How binary messages are delivered: `"blob"` (default) or `"arraybuffer"`; other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    const type = `${value as string}`; // WebIDL enum: converted (a Symbol throws), then an unknown value is ignored
    if (type === "blob" || type === "arraybuffer") this.#binaryType = type;
  }

  /**
   * Sends a message: a string as text; an `ArrayBuffer`, a view (only its
   * bytes) or a `Blob` as binary; anything else as its string (`null` sends
   * `"null"`).
   *
   * @param data The message.
   * @throws TypeError without an argument, or for shared memory; an `"InvalidStateError"` DOMException while CONNECTING.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
    const message = toSendable(data); // WebIDL conversion first, then the state
    if (this.#readyState === CONNECTING) throw new DOMException("the connection is not open yet", "InvalidStateError");
    const size = message.kind === "text" ? utf8Length(message.text) : message.kind === "bytes" ? message.bytes.length : message.blob.size;
    if (this.readyState !== OPEN) {
      this.#discarded += size;
      return;
    }
    if (message.kind !== "blob" && this.#sendChain === undefined) return this.#sendNow(message.kind === "text" ? message.text : message.bytes, size);
    // A Blob is read asynchronously; later sends wait behind it, so the order is kept.
    this.#waiting += size;
    const previous = this.#sendChain ?? Promise.resolve();
    const run: Promise<void> = previous.catch(() => {}).then(async () => {
      let payload: string | Uint8Array | undefined;
      try {
        payload = await payloadOf(message);
      } finally {
        this.#waiting -= size;
      }
      // Queued before any close(): it goes out before the close frame (close() waits for it).
      this.#sendNow(payload, size);
    });
    this.#sendChain = run;
    run.catch(() => {}).finally(() => {
      if (this.#sendChain === run) this.#sendChain = undefined;
    });
  }

  #sendNow(payload: string | Uint8Array, size: number): void {
    const connection = this.#connection!;
    if (this.#readyState === CLOSED || connection.readyState !== OPEN) {
      this.#discarded += size; // the connection went away while a Blob was read
      return;
    }
    this.#queued += size;
    if (connection.send(payload) === "dropped") {
      // Over maxBufferedAmount: the Standard flags the socket as full and closes the connection (error, then close).
      this.#failed = true;
      connection.terminate();
      return;
    }
    this.#schedulePoll(0);
  }

  /** Looks at what is still queued on a later task: bufferedAmount never goes down inside one. */
  #schedulePoll(ms: number): void {
    if (this.#poll !== undefined) return;
    this.#poll = this.#clock.setTimer(ms, () => {
      this.#poll = undefined;
      this.#refreshBuffered();
      if (this.#queued > 0 && this.#readyState !== CLOSED) this.#schedulePoll(BUFFERED_POLL);
    });
  }

  /** Between tasks: what the connection has written is no longer buffered. */
  #refreshBuffered(): void {
    const connection = this.#connection;
    if (connection === undefined || this.#readyState === CLOSED || this.#queued === 0) return;
    const left = connection.bufferedAmount;
    if (left === 0) this.#queued = 0;
    // Without extensions a message takes at least its own size on the wire, so what is left bounds it.
    else if (this.#extensions === "") this.#queued = Math.min(this.#queued, left);
  }

  /**
   * Starts the closing handshake: a close frame with `code` and `reason`,
   * or with no body at all when neither is given (the peer then reports
   * 1005). A reason without a code is sent with 1000 (what Chromium and
   * Firefox do; the Standard's wire rules cover only the two cases above).
   * While CONNECTING, the connection is failed instead: error, then close
   * with 1006.
   *
   * @param code 1000 or 3000–4999 (converted as WebIDL's `[Clamp] unsigned short`).
   * @param reason At most 123 bytes of UTF-8.
   * @throws An `"InvalidAccessError"` DOMException for another code; a `"SyntaxError"` one for a longer reason.
   */
  close(code?: number, reason?: string): void {
    const hasCode = code !== undefined;
    const clamped = hasCode ? toClampedUnsignedShort(code) : 0;
    if (hasCode && clamped !== 1000 && !(clamped >= 3000 && clamped <= 4999)) {
      throw new DOMException(`close code ${clamped} is not 1000 or in 3000-4999`, "InvalidAccessError");
    }
    const text = reason === undefined ? undefined : toUSVString(reason);
    if (text !== undefined && utf8Length(text) > 123) throw new DOMException("close reason is longer than 123 bytes", "SyntaxError");
    if (this.readyState >= CLOSING) return;
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#abort.abort(new DOMException("closed while connecting", "AbortError"));
      return;
    }
    this.#readyState = CLOSING;
    const connection = this.#connection!;
    const start = () => {
      if (!hasCode && text === undefined) connection.close(1005); // a close frame without a body
      else connection.close(hasCode ? clamped : 1000, text ?? "");
    };
    // Messages queued by send() go out before the close frame, those waiting for a Blob read too.
    if (this.#sendChain === undefined) start();
    else this.#sendChain.then(start, start);
  }

  #getHandler(type: string): object | null {
    return this.#handlers.get(type)?.value ?? null;
  }

  /**
   * An event handler attribute, as HTML defines it: its listener is added
   * where the handler is first set, keeps its place when the handler is
   * replaced, and is removed by `null`. A non-object is `null`; an object
   * that is not callable is kept (WebIDL `[LegacyTreatNonObjectAsNull]`)
   * and does nothing when the event fires.
   */
  #setHandler(type: string, value: unknown): void {
    const entry = this.#handlers.get(type);
    if ((typeof value !== "object" || value === null) && typeof value !== "function") {
      if (entry !== undefined) {
        this.removeEventListener(type, entry.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (entry !== undefined) {
      entry.value = value;
      return;
    }
    const listener: EventListener = (event) => {
      const handler = this.#handlers.get(type)?.value;
      if (typeof handler === "function") handler.call(this, event);
    };
    this.#handlers.set(type, { value, listener });
    this.addEventListener(type, listener);
  }

  get onopen(): Handler<Event> {
    return this.#getHandler("open") as Handler<Event>;
  }
  set onopen(handler: Handler<Event>) {
    this.#setHandler("open", handler);
  }
  get onmessage(): Handler<MessageEvent> {
    return this.#getHandler("message") as Handler<MessageEvent>;
  }
  set onmessage(handler: Handler<MessageEvent>) {
    this.#setHandler("message", handler);
  }
  get onerror(): Handler<Event> {
    return this.#getHandler("error") as Handler<Event>;
  }
  set onerror(handler: Handler<Event>) {
    this.#setHandler("error", handler);
  }
  get onclose(): Handler<CloseEvent> {
    return this.#getHandler("close") as Handler<CloseEvent>;
  }
  set onclose(handler: Handler<CloseEvent>) {
    this.#setHandler("close", handler);
  }
}

// WebIDL shapes: the constants on the interface and its prototype (read-only, enumerable, not on instances),
// the attributes and operations enumerable on the prototype, and the class string "WebSocket".
for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSING", CLOSING], ["CLOSED", CLOSED]] as const) {
  const constant = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(WebSocket, name, constant);
  Object.defineProperty(WebSocket.prototype, name, constant);
}
for (const name of ["url", "readyState", "bufferedAmount", "onopen", "onerror", "onclose", "extensions", "protocol", "close", "onmessage", "binaryType", "send"]) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: "WebSocket", configurable: true });

async function payloadOf(message: Sendable): Promise<string | Uint8Array> {
  if (message.kind === "text") return message.text;
  if (message.kind === "bytes") return message.bytes;
  return new Uint8Array(await message.blob.arrayBuffer());
}
