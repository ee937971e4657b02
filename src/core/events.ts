/**
 * What a connection reports: a discriminated union on `type`.
 *
 * @module
 */

import type { HandshakeError, ProtocolError } from "./errors.ts";
import type { HandshakeRequest } from "./handshake.ts";
import type { ResponseHead } from "./http/head.ts";
import type { HttpBodyEvent, HttpEndEvent, HttpErrorEvent, HttpRequestEvent } from "./http/events.ts";

export type { HttpBodyEvent, HttpEndEvent, HttpErrorEvent, HttpEvent, HttpRequestEvent } from "./http/events.ts";

/** A complete text message, decoded. */
export interface WsTextEvent {
  type: "text";
  data: string;
}

/** A complete binary message. The bytes belong to the receiver. */
export interface WsBinaryEvent {
  type: "binary";
  data: Uint8Array;
}

/**
 * Part of a message, with the `streamMessages` option: data frames are
 * reported as they arrive instead of being buffered into a whole message.
 * Text arrives as UTF-8 bytes, already checked (a chunk may end inside a
 * character; the whole message is valid UTF-8).
 */
export interface WsChunkEvent {
  type: "chunk";
  /** The type of the message this chunk belongs to. */
  messageType: "text" | "binary";
  data: Uint8Array;
  /** Payload bytes of the current frame still to come (libwebsockets' `remaining_packet_payload`). */
  frameRemaining: number;
  /** True on the message's last chunk. */
  last: boolean;
}

/** A ping; unless `autoPong` is off, the pong is already queued. */
export interface WsPingEvent {
  type: "ping";
  data: Uint8Array;
}

/** A pong (solicited or not). */
export interface WsPongEvent {
  type: "pong";
  data: Uint8Array;
}

/**
 * The connection is closing or closed. `code` is the peer's code, 1005 when
 * its close frame had none, or 1006 when the transport ended without a close
 * frame. When the peer started the close, the echo is already queued.
 */
export interface WsCloseEvent {
  type: "close";
  code: number;
  reason: string;
  /** True when a close frame arrived; false for an abnormal end (1006). */
  wasClean: boolean;
}

/**
 * The peer broke the protocol. The connection is failed: `closeFrame` (the
 * close frame carrying `error.closeCode`) is already queued for sending and
 * further input is ignored.
 */
export interface WsErrorEvent {
  type: "error";
  error: ProtocolError;
  /** The close frame queued in `dataToSend()`, for inspection. */
  closeFrame: Uint8Array;
}

/** Server side: a complete opening handshake request arrived; call `accept()` or `reject()`. */
export interface WsRequestEvent {
  type: "request";
  /** The checked request: path, host, origin, offered subprotocols and extensions, and the raw head. */
  request: HandshakeRequest;
}

/** Client side: the server's 101 was valid; the connection is open. */
export interface WsResponseEvent {
  type: "response";
  response: ResponseHead;
  /** The subprotocol the server chose, or "" for none. */
  protocol: string;
}

/** Either side: the opening handshake failed (bad request or bad response). */
export interface WsHandshakeErrorEvent {
  type: "handshake-error";
  error: HandshakeError;
}

/** Every event a connection can report. */
export type WsEvent =
  | WsTextEvent
  | WsBinaryEvent
  | WsChunkEvent
  | WsPingEvent
  | WsPongEvent
  | WsCloseEvent
  | WsErrorEvent
  | WsRequestEvent
  | HttpRequestEvent
  | HttpBodyEvent
  | HttpEndEvent
  | HttpErrorEvent
  | WsResponseEvent
  | WsHandshakeErrorEvent;
