/**
 * A WHATWG-compatible `WebSocket` (the browser API: `EventTarget`,
 * `onmessage`, `binaryType`, `readyState` constants), built on
 * {@link connect}, so code written for browsers runs unchanged on every
 * supported runtime.
 *
 * @module
 */

import { connect, type ConnectOptions, parseWebSocketUrl } from "./client.ts";
import { isToken } from "../core/http/header_values.ts";
import type { WebSocketConnection } from "./connection.ts";

const encoder = new TextEncoder();

/** The `CloseEvent` of the platform, or an equivalent where it has none (Node 20). */
const CloseEventBase: typeof CloseEvent = (globalThis as { CloseEvent?: typeof CloseEvent }).CloseEvent ??
  class CloseEventPolyfill extends Event {
    readonly code: number;
    readonly reason: string;
    readonly wasClean: boolean;
    constructor(type: string, init: CloseEventInit = {}) {
      super(type, init);
      this.code = init.code ?? 0;
      this.reason = init.reason ?? "";
      this.wasClean = init.wasClean ?? false;
    }
  } as unknown as typeof CloseEvent;

/** Non-standard options (the third constructor argument), for what browsers decide themselves. */
export type WebSocketOptions = Omit<ConnectOptions<undefined>, "protocols" | "handlers" | "data">;

type Handler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;

/**
 * The browser's `WebSocket`, on a server runtime.
 *
 * @example
 * ```ts
 * const socket = new WebSocket("ws://127.0.0.1:9001/chat", ["chat"]);
 * socket.onmessage = (event) => console.log(event.data);
 * socket.onopen = () => socket.send("hello");
 * ```
 */
export class WebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** The URL, serialised. */
  readonly url: string;
  #readyState = 0;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  #connection: WebSocketConnection<undefined> | undefined;
  #abort = false;
  #discarded = 0; // bytes "sent" after closing, counted as the spec asks
  #sendChain: Promise<void> | undefined; // keeps order when a Blob must be read first
  #handlers = new Map<string, EventListener>();

  /**
   * @param url `ws:`, `wss:` (or `http:`/`https:`) URL without a fragment.
   * @param protocols Subprotocols to offer.
   * @param options wsport extension: headers, origin, TLS, limits, network.
   */
  constructor(url: string | URL, protocols: string | string[] = [], options: WebSocketOptions = {}) {
    super();
    let parsed: URL;
    try {
      parsed = new URL(url);
      parseWebSocketUrl(parsed);
    } catch (error) {
      throw new DOMException(error instanceof Error ? error.message : "invalid URL", "SyntaxError");
    }
    if (parsed.protocol === "http:") parsed.protocol = "ws:";
    if (parsed.protocol === "https:") parsed.protocol = "wss:";
    this.url = parsed.href;
    const list = typeof protocols === "string" ? [protocols] : [...protocols];
    if (new Set(list).size !== list.length || !list.every(isToken)) {
      throw new DOMException("invalid or repeated subprotocol", "SyntaxError");
    }
    void this.#open(parsed, list, options);
  }

  async #open(url: URL, protocols: string[], options: WebSocketOptions): Promise<void> {
    let connection: WebSocketConnection<undefined>;
    try {
      connection = await connect<undefined>(url, {
        ...options,
        protocols,
        handlers: {
          message: (_ws, message) => this.#onMessage(message),
          close: (_ws, code, reason) => this.#onClose(code, reason, this.#connection?.error === undefined && code !== 1006),
          error: () => this.dispatchEvent(new Event("error")),
        },
      });
    } catch {
      this.#readyState = WebSocket.CLOSED;
      this.dispatchEvent(new Event("error"));
      this.dispatchEvent(new CloseEventBase("close", { code: 1006, reason: "", wasClean: false }));
      return;
    }
    this.#connection = connection;
    if (this.#abort) {
      // close() during CONNECTING fails the connection: error, then close 1006.
      this.dispatchEvent(new Event("error"));
      connection.terminate();
      return;
    }
    this.#protocol = connection.protocol;
    this.#extensions = connection.extensions;
    this.#readyState = WebSocket.OPEN;
    this.dispatchEvent(new Event("open"));
  }

  #onMessage(message: string | Uint8Array): void {
    let data: string | Blob | ArrayBuffer;
    if (typeof message === "string") data = message;
    else if (this.#binaryType === "arraybuffer") {
      data = message.buffer.slice(message.byteOffset, message.byteOffset + message.length) as ArrayBuffer;
    } else data = new Blob([message as Uint8Array<ArrayBuffer>]);
    this.dispatchEvent(new MessageEvent("message", { data, origin: new URL(this.url).origin }));
  }

  #onClose(code: number, reason: string, wasClean: boolean): void {
    this.#readyState = WebSocket.CLOSED;
    this.dispatchEvent(new CloseEventBase("close", { code, reason, wasClean }));
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): number {
    return this.#readyState;
  }

  /** The subprotocol the server chose, or "". */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server accepted, or "". */
  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes queued and not yet sent. */
  get bufferedAmount(): number {
    return (this.#connection?.bufferedAmount ?? 0) + this.#discarded;
  }

  /** How binary messages are delivered: `"blob"` (default) or `"arraybuffer"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /**
   * Sends a message.
   *
   * @param data Text, or binary as an `ArrayBuffer`, a view or a `Blob`.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#readyState === WebSocket.CONNECTING) throw new DOMException("the connection is not open yet", "InvalidStateError");
    const size = typeof data === "string" ? encoder.encode(data).length : data instanceof Blob ? data.size : data.byteLength;
    if (this.#readyState !== WebSocket.OPEN) {
      this.#discarded += size;
      return;
    }
    if (data instanceof Blob || this.#sendChain) {
      // A Blob is read asynchronously; later sends wait behind it so order is kept.
      const run: Promise<void> = (this.#sendChain ?? Promise.resolve()).then(async () => {
        const message = await toMessage(data);
        if (this.#readyState === WebSocket.OPEN) this.#connection!.send(message);
      });
      this.#sendChain = run;
      run.catch(() => {}).finally(() => {
        if (this.#sendChain === run) this.#sendChain = undefined;
      });
      return;
    }
    this.#connection!.send(toMessageSync(data));
  }

  /**
   * Starts the closing handshake.
   *
   * @param code 1000 or 3000–4999.
   * @param reason At most 123 bytes of UTF-8.
   */
  close(code?: number, reason = ""): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`close code ${code} is not allowed`, "InvalidAccessError");
    }
    if (encoder.encode(reason).length > 123) throw new DOMException("close reason is longer than 123 bytes", "SyntaxError");
    if (this.#readyState >= WebSocket.CLOSING) return;
    if (this.#readyState === WebSocket.CONNECTING) {
      this.#abort = true;
      this.#readyState = WebSocket.CLOSING;
      return;
    }
    this.#readyState = WebSocket.CLOSING;
    this.#connection!.close(code ?? 1000, reason);
  }

  #handler(type: string): EventListener | null {
    return this.#handlers.get(type) ?? null;
  }

  #setHandler(type: string, handler: EventListener | null): void {
    const old = this.#handlers.get(type);
    if (old) this.removeEventListener(type, old);
    if (typeof handler === "function") {
      this.#handlers.set(type, handler);
      this.addEventListener(type, handler);
    } else {
      this.#handlers.delete(type);
    }
  }

  get onopen(): Handler<Event> {
    return this.#handler("open") as Handler<Event>;
  }
  set onopen(handler: Handler<Event>) {
    this.#setHandler("open", handler as EventListener | null);
  }
  get onmessage(): Handler<MessageEvent> {
    return this.#handler("message") as Handler<MessageEvent>;
  }
  set onmessage(handler: Handler<MessageEvent>) {
    this.#setHandler("message", handler as EventListener | null);
  }
  get onerror(): Handler<Event> {
    return this.#handler("error") as Handler<Event>;
  }
  set onerror(handler: Handler<Event>) {
    this.#setHandler("error", handler as EventListener | null);
  }
  get onclose(): Handler<CloseEvent> {
    return this.#handler("close") as Handler<CloseEvent>;
  }
  set onclose(handler: Handler<CloseEvent>) {
    this.#setHandler("close", handler as EventListener | null);
  }
}

function toMessageSync(data: string | ArrayBufferLike | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return new Uint8Array(data).slice();
}

async function toMessage(data: string | ArrayBufferLike | ArrayBufferView | Blob): Promise<string | Uint8Array> {
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  return toMessageSync(data);
}
