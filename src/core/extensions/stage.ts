/**
 * The negotiated extensions of one connection, as a stage of its frame
 * loop: received data frames are collected whole and decoded, frames to
 * send are encoded, and a transform that answers with a promise (a native
 * codec) is tracked so the connection can keep order and tell its I/O
 * layer when to come back.
 *
 * @module
 */

import { concat } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import type { ReadHeader } from "../frame_reader.ts";
import type { Extension, ExtensionFrame } from "./extension.ts";
import { ExtensionPipeline, isPromise } from "./pipeline.ts";

const EMPTY: Uint8Array = new Uint8Array(0);

/** A decode that answered with a promise, until it settles. */
interface Decoding {
  frame: ExtensionFrame | undefined;
  error: unknown;
}

/** One connection's extension stage. */
export class ExtensionStage {
  readonly pipeline: ExtensionPipeline;
  /** The payload of the received frame being collected. */
  pieces: Uint8Array[] = [];
  #decoding: Decoding | undefined;
  // Asynchronous transforms in flight, and the promise that tells when one settles.
  #inFlight = 0;
  #progress: Promise<void> | undefined;
  #signalProgress: (() => void) | undefined;

  constructor(extensions: readonly Extension[]) {
    this.pipeline = new ExtensionPipeline(extensions);
  }

  /** RSV bits owned by the extensions. */
  get rsvBits(): number {
    return this.pipeline.rsvBits;
  }

  /** Settles when an asynchronous transform in flight finishes; undefined when none is. */
  get pendingWork(): Promise<void> | undefined {
    if (this.#inFlight === 0) return undefined;
    this.#progress ??= new Promise((resolve) => (this.#signalProgress = resolve));
    return this.#progress;
  }

  /** Whether a received frame is being decoded asynchronously (later input must wait). */
  get decoding(): boolean {
    return this.#decoding !== undefined;
  }

  /**
   * Decodes the collected frame.
   *
   * @param header Its header.
   * @param maxSize Largest decoded size allowed.
   * @returns The decoded frame, the error to fail with, or undefined while an asynchronous decode runs.
   */
  decode(header: ReadHeader, maxSize: number): ExtensionFrame | ProtocolError | undefined {
    const pieces = this.pieces;
    this.pieces = [];
    const data = pieces.length === 1 ? pieces[0]! : pieces.length === 0 ? EMPTY : concat(pieces);
    const frame: ExtensionFrame = { opcode: header.opcode, fin: header.fin, rsv: header.rsv, data };
    let result;
    try {
      result = this.pipeline.decode(frame, maxSize);
    } catch (error) {
      return asProtocolError(error, "decode a frame");
    }
    if (!isPromise(result)) return result;
    const decoding: Decoding = { frame: undefined, error: undefined };
    this.#decoding = decoding;
    this.track(result.then((decoded) => void (decoding.frame = decoded), (error) => void (decoding.error = error ?? new Error("decode failed"))));
    return undefined;
  }

  /**
   * Picks up a finished asynchronous decode.
   *
   * @returns The decoded frame, the error to fail with, or undefined while it still runs.
   */
  resume(): ExtensionFrame | ProtocolError | undefined {
    const decoding = this.#decoding!;
    if (decoding.frame === undefined && decoding.error === undefined) return undefined;
    this.#decoding = undefined;
    return decoding.error !== undefined ? asProtocolError(decoding.error, "decode a frame") : decoding.frame!;
  }

  /**
   * Encodes a frame to send.
   *
   * @param frame The frame.
   * @param settled For an asynchronous encode: called with the frame, or with the failure, when it settles.
   * @returns The encoded frame, or undefined when `settled` will be called.
   */
  encode(frame: ExtensionFrame, settled: (frame: ExtensionFrame | undefined, failure?: unknown) => void): ExtensionFrame | undefined {
    const result = this.pipeline.encode(frame);
    if (!isPromise(result)) return result;
    this.track(result.then((encoded) => settled(encoded), (error) => settled(undefined, error ?? new Error("encode failed"))));
    return undefined;
  }

  /** Counts an asynchronous transform until it settles. */
  track(work: Promise<void>): void {
    this.#inFlight++;
    work.then(() => {
      this.#inFlight--;
      const signal = this.#signalProgress;
      this.#progress = undefined;
      this.#signalProgress = undefined;
      signal?.();
    });
  }

  /** Forgets the frame being received (the connection failed). */
  clear(): void {
    this.pieces = [];
    this.#decoding = undefined;
  }
}

/** Extension failures that are not protocol errors are bugs or codec failures: 1011. */
export function asProtocolError(error: unknown, what: string): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const wrapped = new ProtocolError(1011, "WS_ERR_EXTENSION_FAILED", `an extension failed to ${what}`);
  (wrapped as { cause?: unknown }).cause = error;
  return wrapped;
}
