/**
 * The extension interface (RFC 6455 section 9): negotiation during the
 * opening handshake, ownership of RSV bits, and a transform of every data
 * frame received and sent. permessage-deflate (RFC 7692) is one
 * implementation; any user can write another.
 *
 * The shape follows python-websockets' sans-IO extensions: a factory per
 * side negotiates and returns an {@link Extension} per connection, whose
 * `decode`/`encode` see frames, so fragmented messages stream through.
 *
 * @module
 */

import type { ExtensionOffer } from "../http/header_values.ts";

/** Parameters of one extension in `Sec-WebSocket-Extensions`; a parameter without a value is `true`. */
export type ExtensionParams = ReadonlyArray<readonly [string, string | true]>;

/** RSV1, the bit permessage-deflate uses to mark a compressed message. */
export const RSV1 = 0x40;
/** RSV2. */
export const RSV2 = 0x20;
/** RSV3. */
export const RSV3 = 0x10;

/**
 * A data frame as extensions see it: unmasked, with its RSV bits. Control
 * frames never pass through extensions.
 */
export interface ExtensionFrame {
  /** 0x0 continuation, 0x1 text, 0x2 binary. */
  opcode: number;
  fin: boolean;
  /** RSV bits as on the wire (0x40, 0x20, 0x10). */
  rsv: number;
  data: Uint8Array;
}

/** A transform result: available now, or later for codecs that only work asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A negotiated extension, bound to one connection. Frames go through the
 * negotiated extensions in order when sent and in reverse order when
 * received (RFC 6455 section 9.1).
 */
export interface Extension {
  /** The registered name, e.g. `"permessage-deflate"`. */
  readonly name: string;
  /** The RSV bits this extension gives a meaning to; a frame with any other RSV bit set fails the connection. */
  readonly rsvBits: number;
  /**
   * Transforms a received data frame and clears the RSV bits it owns.
   * Throw (or reject with) a `ProtocolError` to fail the connection with
   * its close code.
   *
   * @param frame The frame as received (unmasked).
   * @param maxSize The most bytes the frame may decode to: what is left of the message size limit.
   */
  decode(frame: ExtensionFrame, maxSize: number): MaybePromise<ExtensionFrame>;
  /**
   * Transforms a data frame about to be sent, setting the RSV bits it owns
   * as needed. Calls arrive in message order; an asynchronous codec must
   * finish them in that order.
   */
  encode(frame: ExtensionFrame): MaybePromise<ExtensionFrame>;
  /** The connection has been idle for a while: release what can be rebuilt later (e.g. a compressor). */
  idle?(): void;
  /** The connection is closed: release everything. Called once. */
  close?(): void;
}

/**
 * The client half of an extension: what to offer, and whether to accept
 * what the server answered. The client chooses which factories to pass to
 * `connect()`: that is the per-extension opt-in.
 */
export interface ClientExtensionFactory {
  /** The extension name, e.g. `"permessage-deflate"`. */
  readonly name: string;
  /** The offers to send, in order of preference (several offers of one extension are allowed). */
  offers(): ExtensionParams[];
  /**
   * Checks the server's response for this extension and builds the
   * extension. Throw an `ExtensionNegotiationError` if the response is not
   * acceptable: the connection then fails with close code 1010.
   *
   * @param params The parameters the server sent.
   * @param accepted The extensions accepted before this one, in order.
   */
  accept(params: ExtensionParams, accepted: readonly Extension[]): Extension;
}

/**
 * The server half of an extension: reads one offer and accepts it (with
 * response parameters) or declines it, in which case the next offer is
 * tried.
 */
export interface ServerExtensionFactory {
  /** The extension name this factory negotiates. */
  readonly name: string;
  /**
   * Looks at one offer of this extension.
   *
   * @param params The offer's parameters.
   * @param accepted The extensions accepted so far for this connection, in order.
   * @returns The response parameters and the extension, or `undefined` to decline this offer.
   */
  negotiate(params: ExtensionParams, accepted: readonly Extension[]): [ExtensionParams, Extension] | undefined;
}

/** One extension in a `Sec-WebSocket-Extensions` list, as {@link ExtensionOffer}. */
export type { ExtensionOffer };
