/**
 * What an application gives and gets: the handlers of a connection, the
 * messages they see, and how a send and a connection end.
 *
 * @module
 */

import type { WebSocketConnection } from "./connection.ts";

/** A message: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/**
 * What `send` did: `"ok"` queued and below the high-water mark;
 * `"backpressure"` queued, but the buffer is above the high-water mark
 * (wait for `drain`); `"dropped"` not sent (the connection is not open, or
 * the hard limit was hit and the connection is being closed with 1008).
 */
export type SendResult = "ok" | "backpressure" | "dropped";

/** What a streamed piece of a message is: see {@link Handlers.chunk}. */
export interface ChunkInfo {
  messageType: "text" | "binary";
  /** Payload bytes of the current frame still to come. */
  frameRemaining: number;
  /** True on the message's last piece. */
  last: boolean;
}

/** Event handlers of a connection; all optional. `this` is not used. */
export interface Handlers<Data = unknown> {
  /** The connection is open. */
  open?(ws: WebSocketConnection<Data>): void;
  /** A complete message: a string for text, bytes for binary. */
  message?(ws: WebSocketConnection<Data>, message: Message): void;
  /**
   * Streaming receive (libwebsockets' `remaining_packet_payload`): with
   * this handler, messages are not buffered; each piece is handed over as
   * it arrives, with the bytes left in its frame and whether it ends the
   * message. `message` is then not called.
   */
  chunk?(ws: WebSocketConnection<Data>, data: Uint8Array, info: ChunkInfo): void;
  /** A ping arrived (the pong is already sent). */
  ping?(ws: WebSocketConnection<Data>, data: Uint8Array): void;
  /** A pong arrived. */
  pong?(ws: WebSocketConnection<Data>, data: Uint8Array): void;
  /** The send buffer fell back below the high-water mark, or a writable callback was requested. */
  drain?(ws: WebSocketConnection<Data>): void;
  /** The connection is closed: the peer's close code (1005 if none, 1006 if no close frame arrived). */
  close?(ws: WebSocketConnection<Data>, code: number, reason: string): void;
  /** A protocol error from the peer, or an exception thrown by a handler. */
  error?(ws: WebSocketConnection<Data>, error: Error): void;
}

/** How a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** True when the closing handshake completed. */
  wasClean: boolean;
}
