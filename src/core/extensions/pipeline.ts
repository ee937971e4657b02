/**
 * Runs the negotiated extensions over one frame: in negotiated order when
 * sending and in reverse order when receiving (RFC 6455 section 9.1). A
 * step that returns a promise makes the rest of the chain wait for it; a
 * chain of synchronous steps stays synchronous.
 *
 * @module
 */

import type { Extension, ExtensionFrame, MaybePromise } from "./extension.ts";

/** Whether a transform result is still to come. */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === "function";
}

/**
 * Applies `then` now for a value, later for a promise.
 *
 * @param value A transform's result.
 * @param then What to do with it.
 * @returns `then`'s result, or a promise of it.
 */
export function after<T, U>(value: MaybePromise<T>, then: (value: T) => U): MaybePromise<U> {
  return value instanceof Promise ? value.then(then) : then(value as T);
}

/** The negotiated extensions of one connection, as one transform per direction. */
export class ExtensionPipeline {
  readonly extensions: readonly Extension[];
  /** Every RSV bit some extension owns. */
  readonly rsvBits: number;

  constructor(extensions: readonly Extension[]) {
    this.extensions = extensions;
    this.rsvBits = extensions.reduce((bits, extension) => bits | extension.rsvBits, 0);
  }

  /** Decodes a received data frame through every extension, last negotiated first. */
  decode(frame: ExtensionFrame, maxSize: number): MaybePromise<ExtensionFrame> {
    let result: MaybePromise<ExtensionFrame> = frame;
    for (let i = this.extensions.length - 1; i >= 0; i--) {
      const extension = this.extensions[i]!;
      result = isPromise(result) ? result.then((f) => extension.decode(f, maxSize)) : extension.decode(result, maxSize);
    }
    return result;
  }

  /** Encodes a data frame to send through every extension, first negotiated first. */
  encode(frame: ExtensionFrame): MaybePromise<ExtensionFrame> {
    let result: MaybePromise<ExtensionFrame> = frame;
    for (const extension of this.extensions) {
      result = isPromise(result) ? result.then((f) => extension.encode(f)) : extension.encode(result);
    }
    return result;
  }

  /** Lets every extension release what it can rebuild. */
  idle(): void {
    for (const extension of this.extensions) extension.idle?.();
  }

  /** Releases every extension. */
  close(): void {
    for (const extension of this.extensions) extension.close?.();
  }
}
