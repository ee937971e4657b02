/**
 * In-memory transports: a connected pair that behaves like a socket
 * (asynchronous delivery, pause/resume, backpressure, half-close), and a
 * {@link Network} over such pairs, for tests and for unit-testing your own
 * protocols with the full server and client, without the OS.
 *
 * @module
 */

import { BaseTransport, type ReleaseReason } from "../src/transport/base_transport.ts";
import type { ConnectOptions, Listener, ListenOptions, Network, Transport } from "../src/transport/transport.ts";

// --- transport ---

/** Largest chunk delivered at once, as a socket read buffer. */
const READ_SIZE = 64 * 1024;

/**
 * One end of an in-memory pipe: the runtime glue of {@link BaseTransport}.
 * A write reaches the peer on a later task, when the peer is reading, as
 * through a socket; until then it counts in `bufferedAmount`.
 */
export class MemoryTransport extends BaseTransport {
  readonly raw = null;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  peer!: MemoryTransport;
  // A write waiting for the peer to read it.
  #sending: { chunk: Uint8Array; done: (count: number) => void } | undefined;
  #scheduled = false;

  constructor(local: [string, number], remote: [string, number]) {
    super({ copyWrites: true }); // the caller may reuse its buffer, as with a socket write
    [this.localAddress, this.localPort] = local;
    [this.remoteAddress, this.remotePort] = remote;
  }

  protected writeSome(chunk: Uint8Array): Promise<number> {
    return new Promise((done) => {
      this.#sending = { chunk, done };
      this.#schedule();
    });
  }

  protected shutdownWrite(): Promise<void> {
    // The EOF follows the bytes written before it, on a later task.
    return new Promise((done) => setTimeout(() => {
      this.peer.receivedEnd();
      done();
    }, 0));
  }

  protected stopReading(): void {
    // The peer's writes wait: see #deliver.
  }

  protected startReading(): void {
    this.peer.#schedule(); // deliver what the peer wrote before we read
  }

  protected release(reason: ReleaseReason): void {
    const sending = this.#sending;
    this.#sending = undefined;
    sending?.done(0);
    // Destroying one end closes the other, on a later task, as a reset socket.
    const peer = this.peer;
    if (reason === "destroy") setTimeout(() => peer.closedByRuntime(), 0);
  }

  #schedule(): void {
    if (this.#scheduled || this.#sending === undefined) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#deliver();
    }, 0);
  }

  #deliver(): void {
    const sending = this.#sending;
    const peer = this.peer;
    if (sending === undefined || !peer.reading) return; // the peer asks again when it reads
    this.#sending = undefined;
    // Like a socket read: up to 64 KiB in one chunk.
    const count = Math.min(sending.chunk.length, READ_SIZE);
    peer.received(sending.chunk.subarray(0, count));
    sending.done(count);
  }
}

/**
 * Makes two connected in-memory transports.
 *
 * @returns `[client, server]` ends; what one writes the other reads.
 * @example
 * ```ts
 * const [a, b] = createTransportPair();
 * ```
 */
export function createTransportPair(): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(["memory-client", 1], ["memory-server", 2]);
  const b = new MemoryTransport(["memory-server", 2], ["memory-client", 1]);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

// --- network ---

/**
 * A network in memory: `listen` registers a port, `connect` to it makes a
 * transport pair. Each instance is its own isolated network.
 */
export class MemoryNetwork implements Network {
  readonly name = "memory";
  readonly reusePort = { supported: false, reason: "the memory network has one listener per port" } as const;
  #listeners = new Map<number, (transport: Transport) => void>();
  #nextPort = 40000;

  listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener> {
    if (options.tls) return Promise.reject(new TypeError("the memory network has no TLS"));
    const port = options.port || this.#nextPort++;
    if (this.#listeners.has(port)) return Promise.reject(new Error(`memory port ${port} is in use`));
    this.#listeners.set(port, accept);
    return Promise.resolve({
      hostname: options.hostname,
      port,
      raw: null,
      close: () => {
        this.#listeners.delete(port);
        return Promise.resolve();
      },
    });
  }

  connect(options: ConnectOptions): Promise<Transport> {
    const accept = this.#listeners.get(options.port);
    if (accept === undefined) return Promise.reject(new Error(`connection refused: memory port ${options.port}`));
    const [client, server] = createTransportPair();
    accept(server);
    return Promise.resolve(client);
  }
}
