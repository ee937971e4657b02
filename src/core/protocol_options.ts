/**
 * The options, states and records of a {@link WebSocketProtocol}.
 *
 * @module
 */

import type { Extension } from "./extensions/extension.ts";

/**
 * Connection states, numbered as the WHATWG `WebSocket.readyState`. (Named
 * `Ws...`, as the core's events: the DOM has a `ReadyState` type of its own.)
 */
export const WsReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
/** One of {@link WsReadyState}. */
export type WsReadyState = (typeof WsReadyState)[keyof typeof WsReadyState];

/** Limits and behaviour of a connection. Every limit has a safe default. */
export interface ProtocolOptions {
  /** Largest message accepted, in bytes, fragments' accounting included. Default 16 MiB. */
  maxMessageSize?: number;
  /** Largest single frame payload accepted. Default: `maxMessageSize`. */
  maxFrameSize?: number;
  /**
   * Bytes charged for each fragment after the first, so a flood of tiny or
   * empty fragments reaches the message limit. Default 64.
   */
  fragmentOverhead?: number;
  /** Answer pings with pongs automatically. Default true. */
  autoPong?: boolean;
  /**
   * A faster whole-buffer UTF-8 check the runtime offers (`isUtf8` of
   * `node:buffer`); adapters provide it. Text still fails at the first
   * chunk holding an invalid byte.
   */
  isUtf8?: (bytes: Uint8Array) => boolean;
  /**
   * The caller hands every received chunk over: it neither reads nor
   * reuses one after passing it in. Masked payloads of 16 KiB and more that
   * lie whole in one chunk are then unmasked where they lie, and the message
   * is a view of the chunk, with no copy (as ws does). The services set it
   * for their transports, whose chunks are theirs (see `TransportEvents.data`).
   * Default false: the caller's chunks are never modified.
   */
  unmaskInPlace?: boolean;
  /**
   * Negotiated extensions, in negotiated order. Server and client
   * connections set them from the handshake; give them here only to build
   * an already-open connection.
   */
  extensions?: readonly Extension[];
  /**
   * Report data frames as `"chunk"` events as their bytes arrive, instead
   * of buffering whole `"text"`/`"binary"` messages. Default false.
   */
  streamMessages?: boolean;
  /**
   * Client only. `false` sends frames unmasked, which RFC 6455 forbids:
   * only for testing how a server reacts (libwebsockets'
   * `DEFEAT_CLIENT_MASK`). Default true.
   */
  maskFrames?: boolean;
}

/** The close frame one side sent or received. */
export interface CloseRecord {
  code: number;
  reason: string;
}

/** Default of {@link ProtocolOptions.maxMessageSize}: 16 MiB, as Bun's server. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
