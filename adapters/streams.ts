/**
 * A transport over any WHATWG `ReadableStream` / `WritableStream` pair of
 * bytes: bring your own byte stream (a `Deno.Conn`'s `readable`/`writable`,
 * a `TransformStream` pair, a stream from a proxy or a tunnel) and run a
 * wsport server or client on it.
 *
 * @module
 */

import type { Transport, TransportEvents } from "../src/transport/transport.ts";
import { WriteQueue } from "../src/transport/write_queue.ts";

/** Where the stream pair comes from, for `remoteAddress` and friends. */
export interface StreamEndpoints {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  secure?: boolean;
  /** Whatever object should be reachable as `transport.raw`. */
  raw?: unknown;
}

/**
 * A {@link Transport} over a readable and a writable byte stream. Reading
 * is paused by not pulling (the stream's own backpressure then applies);
 * writes go out in order through one writer, and `bufferedAmount` counts
 * bytes the writer has not accepted yet.
 *
 * @example
 * ```ts
 * const { readable, writable } = someDuplex;
 * server.adopt(new StreamTransport(readable, writable, { remoteAddress: "tunnel" }));
 * ```
 */
export class StreamTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly raw: unknown;

  readonly #readable: ReadableStream<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #queue = new WriteQueue();
  #events: TransportEvents | undefined;
  #paused = false;
  #resume: (() => void) | undefined;
  #writing = false;
  #ending = false;
  #readDone = false;
  #writeDone = false;
  #closed = false;

  constructor(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>, endpoints: StreamEndpoints = {}) {
    this.#readable = readable;
    this.#writer = writable.getWriter();
    this.remoteAddress = endpoints.remoteAddress ?? "";
    this.remotePort = endpoints.remotePort ?? 0;
    this.localAddress = endpoints.localAddress ?? "";
    this.localPort = endpoints.localPort ?? 0;
    this.secure = endpoints.secure ?? false;
    this.raw = endpoints.raw ?? null;
  }

  start(events: TransportEvents): void {
    this.#events = events;
    void this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const reader = this.#readable.getReader();
    try {
      for (;;) {
        if (this.#paused) await new Promise<void>((resolve) => (this.#resume = resolve));
        if (this.#closed) break;
        const { value, done } = await reader.read();
        if (done || this.#closed) break;
        // A read already pending when pause() came is held back until resume().
        if (this.#paused) await new Promise<void>((resolve) => (this.#resume = resolve));
        if (this.#closed) break;
        // Copy unless the stream hands out fresh chunks: the service keeps what it is given.
        if (value.length > 0) this.#events!.data(value.slice());
      }
      reader.releaseLock();
      this.#readDone = true;
      if (!this.#closed) this.#events!.end();
      this.#maybeClose();
    } catch (error) {
      this.#close(error instanceof Error ? error : new Error(String(error)));
    }
  }

  write(chunks: readonly Uint8Array[]): void {
    if (this.#closed || this.#ending) return;
    this.#queue.push(chunks.map((chunk) => chunk.slice()));
    void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    const hadBacklog = !this.#queue.empty;
    try {
      while (!this.#queue.empty && !this.#closed) {
        const chunk = this.#queue.peek()!;
        await this.#writer.write(chunk);
        this.#queue.consume(chunk.length);
      }
      if (this.#ending && !this.#closed && !this.#writeDone) {
        this.#writeDone = true;
        await this.#writer.close();
        this.#maybeClose();
      }
    } catch (error) {
      this.#close(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#writing = false;
    }
    if (hadBacklog && !this.#closed) this.#events?.drain();
  }

  get bufferedAmount(): number {
    return this.#queue.length;
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    void this.#writeLoop();
  }

  destroy(): void {
    this.#close();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#resume?.();
    this.#resume = undefined;
  }

  #maybeClose(): void {
    if (this.#readDone && this.#writeDone) this.#close();
  }

  #close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#resume?.();
    void this.#writer.abort(error).catch(() => {});
    void this.#readable.cancel(error).catch(() => {});
    this.#events?.close(error);
  }
}
