/**
 * Outgoing bytes a socket could not take yet, for adapters whose write
 * call may accept only part of its input (Bun's `socket.write` returns the
 * count written; Deno's `conn.write` is asynchronous and may be partial).
 *
 * @module
 */

/**
 * Small chunks are joined before a write: one system call for a whole
 * batch is what makes small messages fast (a write costs about 10 µs on our
 * machines). Chunks of this size or more go out on their own, uncopied
 * (uWebSockets uses the same 16 KiB threshold for its cork buffer).
 */
export const COALESCE_LIMIT = 16 * 1024;

/**
 * The coalescing limit for runtimes whose every write is a system call or
 * an operation of its own (no writev): joining a frame header with a
 * payload of up to 256 KiB costs less than a second write and a second
 * packet.
 */
export const NO_WRITEV_COALESCE_LIMIT = 256 * 1024;

/**
 * Joins runs of small chunks into single buffers and leaves large chunks
 * as they are, so a batch of frames becomes as few writes as possible
 * without copying large payloads.
 *
 * @param chunks The chunks to write, in order.
 * @returns Chunks with the same bytes in the same order.
 * @example
 * ```ts
 * const header = new Uint8Array(2);
 * const small = new Uint8Array(100);
 * const big = new Uint8Array(COALESCE_LIMIT);
 * coalesce([header, small, header, big]); // [header+small+header (204 bytes), big]
 * ```
 */
export function coalesce(chunks: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flushRun = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) {
      const joined = new Uint8Array(runBytes);
      let at = 0;
      for (const chunk of run) {
        joined.set(chunk, at);
        at += chunk.length;
      }
      out.push(joined);
    }
    run = [];
    runBytes = 0;
  };
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    if (chunk.length >= COALESCE_LIMIT) {
      flushRun();
      out.push(chunk);
    } else {
      run.push(chunk);
      runBytes += chunk.length;
      if (runBytes >= COALESCE_LIMIT) flushRun();
    }
  }
  flushRun();
  return out;
}

/** A FIFO of pending output with a byte count. */
export class WriteQueue {
  // Shared until the first push: an empty queue (the usual state) holds no array of its own.
  #chunks: Uint8Array[] = NONE;
  #bytes = 0;
  readonly #limit: number;

  /**
   * @param limit Small chunks are joined up to this size; a chunk of this size or more goes out alone.
   *   Default {@link COALESCE_LIMIT}; a runtime whose every write is a system call (no writev) may join more.
   */
  constructor(limit = COALESCE_LIMIT) {
    this.#limit = limit;
  }

  /** Bytes waiting. */
  get length(): number {
    return this.#bytes;
  }

  /** Whether nothing is waiting. */
  get empty(): boolean {
    return this.#bytes === 0;
  }

  /**
   * Appends chunks (already coalesced by the caller, or not).
   *
   * @param chunks Bytes to send after what is already queued.
   */
  push(chunks: readonly Uint8Array[]): void {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      if (this.#chunks === NONE) this.#chunks = [];
      this.#chunks.push(chunk);
      this.#bytes += chunk.length;
    }
  }

  /**
   * Takes the bytes to attempt next: small chunks joined up to
   * {@link COALESCE_LIMIT}, a large chunk alone.
   *
   * @returns The next buffer to write, or undefined when empty.
   */
  peek(): Uint8Array | undefined {
    const first = this.#chunks[0];
    if (first === undefined || this.#chunks.length === 1 || first.length >= this.#limit) return first;
    let count = 0;
    let bytes = 0;
    // Join small chunks only: a large one is never copied, it goes out on its own next time.
    while (count < this.#chunks.length && bytes < this.#limit && this.#chunks[count]!.length < this.#limit) {
      bytes += this.#chunks[count]!.length;
      count++;
    }
    if (count === 1) return first;
    const joined = new Uint8Array(bytes);
    let at = 0;
    for (let i = 0; i < count; i++) {
      joined.set(this.#chunks[i]!, at);
      at += this.#chunks[i]!.length;
    }
    this.#chunks.splice(0, count, joined);
    return joined;
  }

  /**
   * Marks `count` bytes from the front as written.
   *
   * @param count Bytes the socket accepted.
   */
  consume(count: number): void {
    this.#bytes -= count;
    while (count > 0) {
      const first = this.#chunks[0]!;
      if (count >= first.length) {
        count -= first.length;
        this.#chunks.shift();
        if (this.#chunks.length === 0) this.#chunks = NONE;
      } else {
        this.#chunks[0] = first.subarray(count);
        count = 0;
      }
    }
  }

  /** Drops everything. */
  clear(): void {
    this.#chunks = NONE;
    this.#bytes = 0;
  }
}

const NONE: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
