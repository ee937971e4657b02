/**
 * Messages kept for a connection's async iterator when it has no `message`
 * handler, with the threshold at which the connection stops reading so a
 * slow consumer cannot make it buffer without bound.
 *
 * @module
 */

import type { Message } from "./handlers.ts";

/** Waiting messages at which reading pauses. */
export const INBOX_PAUSE_AT = 64;

const DONE: IteratorResult<Message> = { value: undefined, done: true };

/** The messages one connection received and nobody has taken yet. */
export class MessageInbox {
  #messages: Message[] = [];
  #waiting: ((result: IteratorResult<Message>) => void) | undefined;

  /** Messages waiting. */
  get size(): number {
    return this.#messages.length;
  }

  /** Whether enough messages wait that reading should pause. */
  get full(): boolean {
    return this.#messages.length >= INBOX_PAUSE_AT;
  }

  /**
   * Hands a message to a waiting reader, or keeps it.
   *
   * @param message The message.
   * @returns True when the inbox is now full (stop reading).
   */
  push(message: Message): boolean {
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting({ value: message, done: false });
      return false;
    }
    this.#messages.push(message);
    return this.full;
  }

  /**
   * The next message, or a promise of it.
   *
   * @param ended Whether the connection is closed (no more messages will come).
   * @returns The next result.
   */
  next(ended: boolean): Promise<IteratorResult<Message>> {
    const message = this.#messages.shift();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (ended) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** The connection closed: a waiting reader is told there is nothing more. */
  end(): void {
    this.#waiting?.(DONE);
    this.#waiting = undefined;
  }
}
