/**
 * A transport over any WHATWG `ReadableStream` / `WritableStream` pair of
 * bytes: bring your own byte stream (a `Deno.Conn`'s `readable`/`writable`,
 * a `TransformStream` pair, a stream from a proxy or a tunnel) and run a
 * wsport server or client on it.
 *
 * @module
 */

import { BaseTransport } from "../src/transport/base_transport.ts";

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
 * A {@link Transport} over a readable and a writable byte stream: the
 * runtime glue of {@link BaseTransport}. Reading is paused by not pulling
 * (the stream's own backpressure then applies); writes go out in order
 * through one writer, and `bufferedAmount` counts bytes the writer has not
 * accepted yet.
 *
 * @example
 * ```ts
 * import { createServer } from "wsport";
 * import { StreamTransport } from "wsport/streams";
 *
 * const server = createServer({ protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }] });
 * // Any byte stream pair: a tunnel, a child process's pipes, a WebTransport stream...
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * server.adopt(new StreamTransport(readable, writable, { remoteAddress: "tunnel" }));
 * ```
 */
export class StreamTransport extends BaseTransport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly raw: unknown;

  readonly #readable: ReadableStream<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #loop: Promise<void> | undefined;
  #resume: (() => void) | undefined;

  constructor(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>, endpoints: StreamEndpoints = {}) {
    // Copies on write: the stream may keep a chunk after write() returns.
    super({ secure: endpoints.secure ?? false, copyWrites: true });
    this.#readable = readable;
    this.#writer = writable.getWriter();
    this.remoteAddress = endpoints.remoteAddress ?? "";
    this.remotePort = endpoints.remotePort ?? 0;
    this.localAddress = endpoints.localAddress ?? "";
    this.localPort = endpoints.localPort ?? 0;
    this.raw = endpoints.raw ?? null;
  }

  protected async writeSome(chunk: Uint8Array): Promise<number> {
    await this.#writer.write(chunk);
    return chunk.length;
  }

  protected shutdownWrite(): Promise<void> {
    return this.#writer.close();
  }

  protected stopReading(): void {
    // The read loop waits before its next read (a read already pending is held).
  }

  protected startReading(): void {
    this.#loop ??= this.#readLoop();
    this.#wake();
  }

  protected release(): void {
    this.#wake();
    void this.#writer.abort().catch(() => {});
    void this.#readable.cancel().catch(() => {});
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  async #readLoop(): Promise<void> {
    const reader = this.#readable.getReader();
    try {
      for (;;) {
        while (!this.reading && !this.isClosed) await new Promise<void>((resolve) => (this.#resume = resolve));
        if (this.isClosed) return;
        const { value, done } = await reader.read();
        if (this.isClosed) return;
        if (done) {
          reader.releaseLock();
          return this.receivedEnd();
        }
        // Copy unless the stream hands out fresh chunks: the service keeps what it is given.
        this.received(value.slice());
      }
    } catch (error) {
      this.failed(error);
    }
  }
}
