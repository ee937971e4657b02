/**
 * A WebSocket connection as a pair of WHATWG streams, with backpressure
 * both ways: the readable stops reading the socket while its reader is
 * behind (so TCP pushes back on the peer), and `write()` waits for the
 * send buffer to drain. `WebSocketStream` is built on it, and a server
 * gets the same pair per connection from {@link streamHandlers}.
 *
 * @module
 */

import type { WebSocketConnection } from "./connection.ts";
import { WsReadyState } from "../core/protocol_options.ts";
import type { Handlers, Message } from "./handlers.ts";
import {
  type CloseRequest,
  closeRequestOf,
  connectionError,
  toCloseInfo,
  toUsvString,
  validateCloseInfo,
  type WebSocketCloseInfo,
  type WebSocketStreamError,
} from "./websocket_error.ts";

/** What a binary message is read as; text is read as a string. */
export type StreamMessage = string | Uint8Array;

/** One connection's streams, as `WebSocketStream.opened` gives them, with its `closed` and `close()`. */
export interface ConnectionStreams {
  /**
   * The messages received: a string for text, a `Uint8Array` for binary.
   * Holds one message ahead of its reader; beyond that the socket is not
   * read. Closes when the closing handshake starts; errors with a
   * `WebSocketStreamError` (after the messages before it) when the
   * connection fails. `cancel(reason)` closes the connection.
   */
  readonly readable: ReadableStream<StreamMessage>;
  /**
   * Sends messages: a string as text; an `ArrayBuffer` or a view as binary
   * (copied, so the buffer may be reused once `write()` resolves); anything
   * else as its string form. `write()` resolves once the send buffer is
   * below the connection's `highWaterMark`. `close()` closes the connection
   * and resolves when the closing handshake is done; `abort(reason)` closes
   * it with the code and reason of a `WebSocketStreamError` reason.
   */
  readonly writable: WritableStream<unknown>;
  /**
   * The close code and reason the peer sent (1005 when it sent none) once
   * the connection closed cleanly; rejects with a `WebSocketStreamError`
   * otherwise (closeCode 1006 when the connection failed or was cut, the
   * peer's code when it closed while a message was still being sent).
   */
  readonly closed: Promise<WebSocketCloseInfo>;
  /**
   * Starts the closing handshake. Without a code or a reason, the close
   * frame has no body (the peer reports 1005). Does nothing once closing.
   *
   * @param info The code (1000 or 3000–4999) and reason (at most 123 bytes of UTF-8).
   * @throws TypeError, or an `InvalidAccessError` / `SyntaxError` DOMException, as `WebSocketStream.close()`.
   */
  close(info?: WebSocketCloseInfo): void;
}

interface Pending {
  resolve(): void;
  reject(error: unknown): void;
}

interface Settle {
  resolve(info: WebSocketCloseInfo): void;
  reject(error: WebSocketStreamError): void;
}

/** The streams of one connection, fed by {@link streamHandlers}. */
class StreamPair implements ConnectionStreams {
  readonly readable: ReadableStream<StreamMessage>;
  readonly writable: WritableStream<unknown>;
  readonly closed: Promise<WebSocketCloseInfo>;
  readonly #ws: WebSocketConnection<any>;
  readonly #settleClosed: Settle;
  #source!: ReadableStreamDefaultController<StreamMessage>;
  #sink!: WritableStreamDefaultController;

  #readableDone = false; // closed, errored or cancelled: nothing more is enqueued
  #paused = false; // reading the socket is paused because the reader is behind
  #pendingReadableError: unknown; // applied once the reader has taken what came before it
  #hasPendingReadableError = false;
  #pendingWrite: Pending | undefined; // a write waiting for the send buffer to drain
  #writableClosing = false; // writer.close() is in progress: its promise follows `closed`
  #closeStarted = false;
  #ended = false;

  constructor(ws: WebSocketConnection<any>) {
    this.#ws = ws;
    let settle!: Settle;
    this.closed = new Promise((resolve, reject) => (settle = { resolve, reject }));
    this.closed.catch(() => {}); // not every caller watches `closed`: a rejection must not be "unhandled"
    this.#settleClosed = settle;
    // One message queued ahead of the reader (as Chromium): the socket is read only when the reader keeps up.
    this.readable = new ReadableStream<StreamMessage>({
      start: (controller) => void (this.#source = controller),
      pull: () => this.#pull(),
      cancel: (reason) => {
        this.#readableDone = true;
        this.#closeWith(closeRequestOf(reason));
      },
    }, new CountQueuingStrategy({ highWaterMark: 1 }));
    this.writable = new WritableStream<unknown>({
      start: (controller) => void (this.#sink = controller),
      write: (chunk, controller) => this.#write(chunk, controller),
      close: () => this.#closeWritable(),
      abort: (reason) => this.#closeWith(closeRequestOf(reason), true),
    }, new CountQueuingStrategy({ highWaterMark: 1 }));
  }

  close(info?: WebSocketCloseInfo): void {
    const request = validateCloseInfo(toCloseInfo(info));
    this.#closeWith(request);
  }

  // --- from the connection's handlers ---

  /** A message arrived. */
  message(message: Message): void {
    if (this.#readableDone) return;
    this.#source.enqueue(message);
    // The rest of the chunk being parsed still arrives; after it, nothing until the reader pulls.
    if ((this.#source.desiredSize ?? 0) <= 0 && !this.#paused) {
      this.#paused = true;
      this.#ws.pause();
    }
  }

  /** The send buffer fell below the high-water mark. */
  drain(): void {
    const pending = this.#pendingWrite;
    this.#pendingWrite = undefined;
    pending?.resolve();
  }

  /** The connection closed, with the peer's code and reason (1006 when none arrived). */
  ended(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const failure = this.#ws.error;
    const clean = failure === undefined && code !== 1006;
    const unwritten = this.#pendingWrite !== undefined;
    let error: WebSocketStreamError | undefined;
    if (!clean) {
      error = connectionError(
        failure ? `the connection failed: ${failure.message}` : "the connection closed without a closing handshake",
        1006,
        "",
        failure,
      );
    } else if (unwritten) {
      error = connectionError("the connection closed before a message was sent", code, reason);
    }
    // After a closing handshake the writable refuses writes as closed; after a failure, with the failure.
    const writeError = error && !clean ? error : new DOMException("the WebSocket is closed", "InvalidStateError");
    this.#pendingWrite?.reject(writeError);
    this.#pendingWrite = undefined;
    if (!this.#writableClosing) this.#sink.error(writeError);
    this.#endReadable(clean ? undefined : error);
    if (error) this.#settleClosed.reject(error);
    else this.#settleClosed.resolve({ closeCode: code, reason });
  }

  // --- the streams' sides ---

  #pull(): void {
    if (this.#hasPendingReadableError) {
      this.#hasPendingReadableError = false;
      this.#source.error(this.#pendingReadableError);
      return;
    }
    this.#resumeReading();
  }

  #resumeReading(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#ws.resume();
  }

  /** Closes the readable (queued messages stay readable), or errors it once the reader has them. */
  #endReadable(error?: unknown): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    if (error === undefined) this.#source.close();
    // error() would drop the queued messages; with the queue empty (count strategy, high-water mark 1) it loses nothing.
    else if (this.#source.desiredSize === 1) this.#source.error(error);
    else {
      this.#pendingReadableError = error;
      this.#hasPendingReadableError = true;
    }
  }

  #write(chunk: unknown, controller: WritableStreamDefaultController): Promise<void> | void {
    const message = toMessage(chunk);
    if (this.#ws.readyState !== WsReadyState.OPEN) throw new DOMException("the WebSocket is closing", "InvalidStateError");
    const result = this.#ws.send(message);
    if (result === "ok") return;
    if (result === "dropped") {
      // Open a moment ago: the hard send-buffer limit was hit, and the connection is closing with 1008.
      throw new DOMException("the message would exceed maxBufferedAmount: the connection is closing with 1008", "InvalidStateError");
    }
    return new Promise<void>((resolve, reject) => {
      // abort() while this write waits: the streams would wait for it, so it gives up now.
      const signal: AbortSignal | undefined = controller.signal;
      const onAbort = () => {
        this.#pendingWrite = undefined;
        reject(signal!.reason);
        this.#closeWith(closeRequestOf(signal!.reason), true);
      };
      const settled = () => signal?.removeEventListener("abort", onAbort);
      this.#pendingWrite = {
        resolve: () => (settled(), resolve()),
        reject: (error) => (settled(), reject(error)),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** writer.close(): an empty close frame; done when the connection is closed (rejects if not cleanly). */
  async #closeWritable(): Promise<void> {
    this.#writableClosing = true;
    this.#closeWith({ closeCode: undefined, reason: "" }, true);
    await this.closed;
  }

  /**
   * Starts the closing handshake. `byWritable`: the writable is closing or
   * aborting itself, and must not be errored from inside that (the streams
   * would find their state changed under them).
   */
  #closeWith(request: CloseRequest, byWritable = false): void {
    if (this.#closeStarted || this.#ended) return;
    this.#closeStarted = true;
    this.#ws.close(request.closeCode ?? 1005, request.reason);
    // As the WHATWG WebSocket in CLOSING: what arrives after our close frame is not delivered,
    // and the socket is read again so the peer's close frame gets through.
    this.#endReadable();
    this.#resumeReading();
    if (!byWritable) this.#sink.error(new DOMException("the WebSocket is closing", "InvalidStateError"));
  }
}

/**
 * A message as written to the writable: text for a string; binary for an
 * `ArrayBuffer` or a view (a copy of the bytes viewed); anything else is
 * converted to a string, as Chromium's `WebSocketStream` does.
 *
 * @throws TypeError for shared or resizable buffers, and for values without a string form.
 */
function toMessage(chunk: unknown): Message {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(sendable(chunk)).slice();
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(sendable(chunk.buffer), chunk.byteOffset, chunk.byteLength).slice();
  }
  if (isShared(chunk)) throw new TypeError("a SharedArrayBuffer cannot be sent: copy it into an ArrayBuffer");
  return toUsvString(chunk);
}

/** WebIDL's BufferSource refuses shared and resizable buffers. */
function sendable(buffer: ArrayBufferLike): ArrayBufferLike {
  if (isShared(buffer)) throw new TypeError("a view on a SharedArrayBuffer cannot be sent: copy it into an ArrayBuffer");
  if ((buffer as { resizable?: boolean }).resizable === true) throw new TypeError("a resizable ArrayBuffer cannot be sent");
  return buffer;
}

function isShared(value: unknown): boolean {
  return typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer;
}

const pairs = new WeakMap<WebSocketConnection<any>, StreamPair>();

/** Options of {@link streamHandlers}. */
export interface StreamHandlerOptions<Data> {
  /**
   * Errors of the connection (a protocol error from the peer, a timeout),
   * and the rejection of the promise `open` returns (the connection is
   * then closed with 1011 if it is still open).
   */
  error?(ws: WebSocketConnection<Data>, error: unknown): void;
}

/**
 * Handlers that give each connection a {@link ConnectionStreams} pair,
 * the server-side (or `connect()`) counterpart of `WebSocketStream`:
 * spread them into a subprotocol and work with streams on both ends.
 *
 * @param open Called when a connection opens, with its streams; may be async.
 * @param options An `error` handler.
 * @returns `open`, `message`, `drain`, `close` and `error` handlers.
 * @example
 * ```ts
 * import { serve, streamHandlers } from "wsport";
 *
 * const server = await serve({
 *   protocols: [{ name: "echo", ...streamHandlers((ws, { readable, writable }) => readable.pipeTo(writable)) }],
 * });
 * ```
 */
export function streamHandlers<Data = unknown>(
  open: (ws: WebSocketConnection<Data>, streams: ConnectionStreams) => unknown,
  options: StreamHandlerOptions<Data> = {},
): Handlers<Data> {
  return {
    open(ws) {
      const pair = new StreamPair(ws);
      pairs.set(ws, pair);
      const result = open(ws, pair);
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          options.error?.(ws, error);
          if (ws.readyState === WsReadyState.OPEN) ws.close(1011, "internal error");
        });
      }
    },
    message: (ws, message) => pairs.get(ws)?.message(message),
    drain: (ws) => pairs.get(ws)?.drain(),
    close: (ws, code, reason) => pairs.get(ws)?.ended(code, reason),
    error: (ws, error) => options.error?.(ws, error),
  };
}
