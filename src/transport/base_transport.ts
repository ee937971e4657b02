/**
 * The one transport state machine: what every adapter whose runtime does
 * not already do it needs, written once. Received bytes are held while
 * reading is paused (or before `start`) and delivered in order on
 * `resume`; writes the runtime cannot take at once wait in a queue counted
 * in `bufferedAmount`, with `drain` when it empties; `end()` half-closes
 * after the queue; the transport closes once both directions have ended,
 * or on `destroy()` or an error, and reports `close` exactly once.
 *
 * An adapter extends {@link BaseTransport}, implements the runtime glue
 * (write some bytes, shut down writing, stop and start reading, release
 * the socket) and reports what its runtime tells it through the protected
 * `received`, `receivedEnd`, `writable`, `failed` and `closedByRuntime`.
 *
 * @module
 */

import type { Transport, TransportEvents } from "./transport.ts";
import { WriteQueue } from "./write_queue.ts";

/** How an adapter's runtime behaves, for {@link BaseTransport}. */
export interface BaseTransportOptions {
  /** Whether the bytes travel over TLS. */
  secure?: boolean;
  /**
   * Copy chunks on `write()`: for runtimes that keep a reference to what
   * they are given after the call returns (streams, in-memory pipes), since
   * the caller may reuse its buffers. Default false.
   */
  copyWrites?: boolean;
  /**
   * Written chunks smaller than this are joined into one write, up to this
   * size (default 16 KiB, see `COALESCE_LIMIT`). A runtime with no writev,
   * where a header and its payload would be two system calls and two
   * packets, joins more.
   */
  coalesceLimit?: number;
}

/** Why the socket is being released: destroyed (drop everything) or done (both directions ended). */
export type ReleaseReason = "destroy" | "done";

/** The state machine; adapters add the runtime glue. */
export abstract class BaseTransport implements Transport {
  readonly secure: boolean;
  abstract readonly raw: unknown;
  abstract readonly remoteAddress: string;
  abstract readonly remotePort: number;
  abstract readonly localAddress: string;
  abstract readonly localPort: number;

  readonly #copyWrites: boolean;
  #events: TransportEvents | undefined;
  // Received while paused or before start(); null is the peer's EOF. Made when needed: most
  // connections never hold anything, and an idle connection's every field counts.
  #held: (Uint8Array | null)[] | undefined;
  #paused = false;
  #readEnded = false;
  readonly #queue: WriteQueue;
  #writing = false; // an asynchronous write is in flight
  #backlog = false; // the queue held bytes after a write() returned: drain when it empties
  #ending = false; // end() was called
  #writeEnded = false;
  #closed = false;
  #closeError: Error | undefined;

  constructor(options: BaseTransportOptions = {}) {
    this.secure = options.secure ?? false;
    this.#copyWrites = options.copyWrites ?? false;
    this.#queue = new WriteQueue(options.coalesceLimit);
  }

  // --- the runtime glue ---

  /**
   * Writes the front of the queue. Returns how many bytes the runtime took
   * now (fewer than `chunk.length`: call {@link writable} when it can take
   * more), or a promise of that count for runtimes whose writes complete later.
   */
  protected abstract writeSome(chunk: Uint8Array): number | Promise<number>;
  /** Half-closes the socket (shutdown of writing), after every queued byte went out. */
  protected abstract shutdownWrite(): void | Promise<void>;
  /** Stops reading the socket, so TCP flow control reaches the peer. */
  protected abstract stopReading(): void;
  /** Reads again (and, the first time, starts reading). */
  protected abstract startReading(): void;
  /** Releases the socket: destroyed, or done after both directions ended. */
  protected abstract release(reason: ReleaseReason): void;

  /** Whether the glue should be reading now: started, not paused, not closed, before EOF. */
  protected get reading(): boolean {
    return this.#events !== undefined && !this.#paused && !this.#closed && !this.#readEnded;
  }

  /** Whether the transport is closed. */
  protected get isClosed(): boolean {
    return this.#closed;
  }

  /** Whether the service paused reading. */
  protected get isPaused(): boolean {
    return this.#paused;
  }

  /** The glue read bytes; the transport keeps `chunk` (give it memory of its own). */
  protected received(chunk: Uint8Array): void {
    if (this.#closed || chunk.length === 0) return;
    if (this.#events !== undefined && !this.#paused && this.#held === undefined) this.#events.data(chunk);
    else (this.#held ??= []).push(chunk);
  }

  /** The glue read the peer's EOF. */
  protected receivedEnd(): void {
    if (this.#closed || this.#readEnded || this.#held?.includes(null)) return;
    if (this.#events !== undefined && !this.#paused && this.#held === undefined) this.#deliverEnd();
    else (this.#held ??= []).push(null);
  }

  /** A runtime that took part of a write can take more. */
  protected writable(): void {
    if (!this.#writing) this.#pump();
  }

  /** The socket failed: the transport closes with the error. */
  protected failed(error: unknown): void {
    this.#close(error instanceof Error ? error : new Error(String(error)), "destroy");
  }

  /** The runtime closed the socket itself (nothing left to release). */
  protected closedByRuntime(error?: Error): void {
    this.#close(error, undefined);
  }

  // --- Transport ---

  start(events: TransportEvents): void {
    this.#events = events;
    if (this.#closed) {
      // Closed before anyone listened (refused at once): still report it, later, as a socket would.
      const error = this.#closeError;
      queueMicrotask(() => events.close(error));
      return;
    }
    if (this.#paused) return;
    this.#deliverHeld();
    if (this.reading) this.startReading();
  }

  write(chunks: readonly Uint8Array[]): void {
    if (this.#closed || this.#ending) return;
    this.#queue.push(this.#copyWrites ? chunks.map((chunk) => chunk.slice()) : chunks);
    if (!this.#writing) this.#pump();
  }

  get bufferedAmount(): number {
    return this.#queue.length;
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#queue.empty && !this.#writing) void this.#shutdown();
  }

  destroy(): void {
    this.#close(undefined, "destroy");
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    if (!this.#closed) this.stopReading();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Later, not inside the caller's stack: held bytes first, then the socket.
    if (this.#events !== undefined) {
      queueMicrotask(() => {
        this.#deliverHeld();
        if (this.reading && this.#held === undefined) this.startReading();
      });
    }
  }

  // --- the machine ---

  #deliverHeld(): void {
    const events = this.#events!;
    const held = this.#held;
    if (held === undefined) return;
    while (held.length > 0 && !this.#paused && !this.#closed) {
      const chunk = held.shift()!;
      if (chunk === null) this.#deliverEnd();
      else events.data(chunk);
    }
    if (held.length === 0 && this.#held === held) this.#held = undefined;
  }

  #deliverEnd(): void {
    this.#readEnded = true;
    this.#events!.end();
    this.#closeIfDone();
  }

  /** Writes from the queue until it is empty, the runtime is full, or an asynchronous write is in flight. */
  #pump(): void {
    const queue = this.#queue;
    while (!queue.empty && !this.#closed) {
      const chunk = queue.peek()!;
      let taken: number | Promise<number>;
      try {
        taken = this.writeSome(chunk);
      } catch (error) {
        return this.failed(error);
      }
      if (typeof taken !== "number") {
        this.#writing = true;
        this.#backlog = true;
        taken.then((count) => {
          this.#writing = false;
          if (this.#closed) return;
          queue.consume(count);
          this.#pump();
        }, (error) => {
          this.#writing = false;
          this.failed(error);
        });
        return;
      }
      queue.consume(taken);
      if (taken < chunk.length) {
        this.#backlog = true;
        return; // the runtime calls writable() when it can take more
      }
    }
    if (this.#closed) return;
    if (this.#ending) return void this.#shutdown();
    if (this.#backlog) {
      this.#backlog = false;
      this.#events?.drain();
    }
  }

  async #shutdown(): Promise<void> {
    if (this.#writeEnded) return;
    this.#writeEnded = true;
    try {
      await this.shutdownWrite();
    } catch (error) {
      return this.failed(error);
    }
    this.#closeIfDone();
  }

  #closeIfDone(): void {
    if (this.#readEnded && this.#writeEnded && !this.#writing && this.#queue.empty) this.#close(undefined, "done");
  }

  #close(error: Error | undefined, release: ReleaseReason | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#queue.clear();
    this.#held = undefined;
    if (release !== undefined) {
      try {
        this.release(release);
      } catch {
        // The runtime closed it already.
      }
    }
    this.#events?.close(error);
  }
}
