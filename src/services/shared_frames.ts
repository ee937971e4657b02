/**
 * Broadcast on the wire: a message serialised once as a server frame and
 * written, as the same bytes, to every receiver; and, per connection, the
 * queue that keeps such frames in order with the connection's own output.
 *
 * @module
 */

import { encodeFrame, encodeTextFrame, Opcode } from "../core/frame.ts";
import type { OutgoingData, WebSocketProtocol } from "../core/protocol.ts";
import { SEND_EOF } from "../core/protocol.ts";
import type { Message } from "./handlers.ts";

/**
 * A message encoded once as an unmasked (server) frame. Every receiver
 * gets these very chunks: the header and payload are not copied per
 * connection.
 */
export interface SharedFrame {
  /** The frame, as chunks to write in order (header and payload separate when the payload is large). */
  readonly chunks: readonly Uint8Array[];
  /** Bytes on the wire. */
  readonly size: number;
  /** The message itself, for receivers that must encode it their own way (negotiated extensions). */
  readonly message: Message;
}

/**
 * Encodes a message once for many receivers.
 *
 * @param message Text as a string, binary as bytes (not copied: do not modify them until written).
 * @returns The shared frame.
 * @example
 * ```ts
 * const frame = encodeSharedFrame("hello"); // frame.chunks: [Uint8Array [0x81, 0x05, ...]]
 * ```
 */
export function encodeSharedFrame(message: Message): SharedFrame {
  const chunks = typeof message === "string" ? encodeTextFrame(message, Opcode.Text) : encodeFrame(Opcode.Binary, message);
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  return { chunks, size, message };
}

/**
 * The shared frames queued on one connection. They go out behind what the
 * connection's protocol queued before them (taken out of the protocol to
 * keep that order), and wait while a fragmented message is being sent
 * (RFC 6455 5.4: nothing may come between its fragments). Made on a
 * connection's first broadcast: most never get one.
 */
export class SharedQueue {
  #pending: OutgoingData[] = [];
  #pendingBytes = 0;
  #deferred: SharedFrame[] = [];
  #deferredBytes = 0;

  /** Bytes queued here, counted in the connection's `bufferedAmount`. */
  get bufferedAmount(): number {
    return this.#pendingBytes + this.#deferredBytes;
  }

  /**
   * Queues chunks behind everything `core` queued so far.
   *
   * @param core The connection's protocol, whose queued output goes first.
   * @param chunks The shared frame's chunks.
   */
  queue(core: WebSocketProtocol, chunks: readonly Uint8Array[]): void {
    const pending = this.#pending;
    if (core.bufferedAmount > 0) {
      for (const item of core.dataToSend()) {
        pending.push(item);
        if (item !== SEND_EOF) this.#pendingBytes += item.length;
      }
    }
    for (const chunk of chunks) {
      pending.push(chunk);
      this.#pendingBytes += chunk.length;
    }
  }

  /**
   * Holds a frame until the fragmented message being sent ends.
   *
   * @param frame The shared frame.
   */
  defer(frame: SharedFrame): void {
    this.#deferred.push(frame);
    this.#deferredBytes += frame.size;
  }

  /**
   * Takes the frames that waited for a fragmented message.
   *
   * @returns Them, in order.
   */
  takeDeferred(): SharedFrame[] {
    const deferred = this.#deferred;
    this.#deferred = [];
    this.#deferredBytes = 0;
    return deferred;
  }

  /**
   * Everything to write now: the queued shared frames (and what preceded
   * them), then `items`, the protocol's output since.
   *
   * @param items What the protocol queued after the last shared frame.
   * @returns The output in order.
   */
  drain(items: OutgoingData[]): OutgoingData[] {
    if (this.#pending.length === 0) return items;
    const all = this.#pending;
    for (const item of items) all.push(item);
    this.#pending = [];
    this.#pendingBytes = 0;
    return all;
  }

  /** Drops everything (the connection closed). */
  clear(): void {
    this.#pending = [];
    this.#deferred = [];
    this.#pendingBytes = 0;
    this.#deferredBytes = 0;
  }
}
