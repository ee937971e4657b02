/**
 * In-memory transports: a connected pair that behaves like a socket
 * (asynchronous delivery, pause/resume, backpressure, half-close), and a
 * {@link Network} over such pairs, for tests and for unit-testing your own
 * protocols with the full server and client, without the OS.
 *
 * @module
 */

import { concat } from "../src/core/bytes.ts";
import type {
  ConnectOptions,
  Listener,
  ListenOptions,
  Network,
  Transport,
  TransportEvents,
} from "../src/transport/transport.ts";

// --- transport ---

/** Largest chunk delivered at once, as a socket read buffer. */
const READ_SIZE = 64 * 1024;

/** One end of an in-memory pipe. */
export class MemoryTransport implements Transport {
  readonly secure = false;
  readonly raw = null;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  peer!: MemoryTransport;

  #events: TransportEvents | undefined;
  #outbox: Uint8Array[] = []; // written, not yet delivered to the peer
  #outboxBytes = 0;
  #paused = false;
  #endQueued = false; // end() called; EOF follows the outbox
  #endReceived = false;
  #closed = false;
  #scheduled = false;

  constructor(local: [string, number], remote: [string, number]) {
    [this.localAddress, this.localPort] = local;
    [this.remoteAddress, this.remotePort] = remote;
  }

  start(events: TransportEvents): void {
    this.#events = events;
    if (this.#closed) {
      // Closed before anyone listened (refused at once): still report it, later, as a socket would.
      setTimeout(() => events.close(), 0);
      return;
    }
    this.peer.#schedule(); // deliver what the peer wrote before we started
  }

  write(chunks: readonly Uint8Array[]): void {
    if (this.#closed || this.#endQueued) return;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      // Copy: the caller may reuse its buffer, as with a socket write.
      this.#outbox.push(chunk.slice());
      this.#outboxBytes += chunk.length;
    }
    this.#schedule();
  }

  get bufferedAmount(): number {
    return this.#outboxBytes;
  }

  end(): void {
    if (this.#closed || this.#endQueued) return;
    this.#endQueued = true;
    this.#schedule();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#outbox = [];
    this.#outboxBytes = 0;
    this.#close();
    this.peer.#close();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.peer.#schedule();
  }

  /** Delivers the outbox to the peer on a later task, as a socket would. */
  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#deliver();
    }, 0);
  }

  #deliver(): void {
    const peer = this.peer;
    if (this.#closed || peer.#events === undefined || peer.#paused) return;
    const hadBacklog = this.#outboxBytes > 0;
    while (this.#outbox.length > 0 && !peer.#paused && !peer.#closed) {
      // Like a socket read: everything available, up to 64 KiB, in one chunk.
      const chunk = this.#takeRead(READ_SIZE);
      this.#outboxBytes -= chunk.length;
      peer.#events.data(chunk);
    }
    if (this.#outbox.length > 0) return; // the peer paused: the rest waits, and counts as buffered
    if (hadBacklog && !this.#closed) this.#events?.drain();
    if (this.#endQueued && !peer.#endReceived && !peer.#closed) {
      peer.#endReceived = true;
      peer.#events.end();
      // Both directions ended: the pipe is closed, as TCP after FIN both ways.
      if (peer.#endQueued) this.#closeBoth();
    } else if (this.#endReceived && this.#endQueued) {
      this.#closeBoth();
    }
  }

  #takeRead(max: number): Uint8Array {
    const first = this.#outbox[0]!;
    if (first.length >= max) {
      this.#outbox[0] = first.subarray(max);
      if (this.#outbox[0].length === 0) this.#outbox.shift();
      return first.subarray(0, max);
    }
    let size = 0;
    let count = 0;
    while (count < this.#outbox.length && size + this.#outbox[count]!.length <= max) size += this.#outbox[count++]!.length;
    const parts = this.#outbox.splice(0, count);
    return parts.length === 1 ? parts[0]! : concat(parts);
  }

  #closeBoth(): void {
    setTimeout(() => {
      this.#close();
      this.peer.#close();
    }, 0);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Reported on a later task, as a socket's "close" event is.
    const events = this.#events;
    if (events) setTimeout(() => events.close(), 0);
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
