/**
 * A queue of received chunks that hands out views and copies only when a
 * read spans chunks. Concatenating every incoming chunk is quadratic: it
 * took 1957 ms to build a 16 MiB message from 64 KiB chunks, against 4 ms
 * for a chunk list joined once (shared/ANCHORS.md, "Measured").
 *
 * @module
 */

/** FIFO of byte chunks with exact-size reads. */
export class ByteQueue {
  // Shared until the first chunk: an empty queue (an idle connection's) holds no array of its own.
  #chunks: Uint8Array[] = NO_CHUNKS;
  #head = 0; // index of the first live chunk in #chunks
  #offset = 0; // bytes already consumed from #chunks[#head]
  #length = 0;

  /** Bytes available to read. */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends a chunk. The queue keeps a reference: the caller must not reuse
   * the chunk's memory afterwards.
   *
   * @param chunk Bytes received.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#chunks === NO_CHUNKS) this.#chunks = [];
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first chunk (empty when the queue is): with {@link frontOffset}, for reading small items in place, without a view. */
  get front(): Uint8Array {
    return this.#length === 0 ? EMPTY : this.#chunks[this.#head]!;
  }

  /** Where the unread bytes of {@link front} start. */
  get frontOffset(): number {
    return this.#offset;
  }

  /**
   * Reads the byte at `index` from the front without consuming it.
   *
   * @param index Offset from the front; must be less than `length`.
   * @returns The byte value.
   */
  peek(index: number): number {
    let i = this.#head;
    let at = this.#offset + index;
    let chunk = this.#chunks[i]!;
    while (at >= chunk.length) {
      at -= chunk.length;
      chunk = this.#chunks[++i]!;
    }
    return chunk[at]!;
  }

  /**
   * Consumes exactly `n` bytes (`n <= length`): a view when they lie in one
   * chunk, a copy when they span several.
   *
   * @param n Number of bytes.
   * @returns The bytes.
   */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const first = this.#chunks[this.#head]!;
    const available = first.length - this.#offset;
    if (n <= available) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n, available);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#head]!;
      const rest = chunk.length - this.#offset;
      const count = Math.min(rest, n - filled);
      out.set(chunk.subarray(this.#offset, this.#offset + count), filled);
      filled += count;
      this.#advance(count, rest);
    }
    return out;
  }

  /**
   * Consumes up to `n` bytes, but only from the first chunk: always a view,
   * never a copy. Used to stream a payload out as it arrives.
   *
   * @param n Maximum number of bytes.
   * @returns A view of between 1 and `n` bytes, or an empty array when the queue is empty.
   */
  takeUpTo(n: number): Uint8Array {
    if (this.#length === 0 || n === 0) return EMPTY;
    const first = this.#chunks[this.#head]!;
    const available = first.length - this.#offset;
    const count = Math.min(n, available);
    const view = first.subarray(this.#offset, this.#offset + count);
    this.#advance(count, available);
    return view;
  }

  /**
   * A view of the bytes of the first chunk, without consuming them (empty
   * when the queue is). With {@link skip}, lets a scanner walk the queue
   * chunk by chunk without copying.
   *
   * @returns The unread part of the first chunk.
   */
  peekChunk(): Uint8Array {
    if (this.#length === 0) return EMPTY;
    const chunk = this.#chunks[this.#head]!;
    // A view costs an allocation (and is slow on JavaScriptCore): only when part was read.
    return this.#offset === 0 ? chunk : chunk.subarray(this.#offset);
  }

  /**
   * Consumes `n` bytes (`n <= length`) without returning them.
   *
   * @param n Number of bytes.
   */
  skip(n: number): void {
    while (n > 0) {
      const available = this.#chunks[this.#head]!.length - this.#offset;
      const count = Math.min(n, available);
      this.#advance(count, available);
      n -= count;
    }
  }

  /** Drops everything. */
  clear(): void {
    this.#chunks = NO_CHUNKS;
    this.#head = 0;
    this.#offset = 0;
    this.#length = 0;
  }

  #advance(count: number, available: number): void {
    this.#length -= count;
    if (count < available) {
      this.#offset += count;
      return;
    }
    this.#offset = 0;
    this.#chunks[this.#head++] = EMPTY; // release the chunk for GC
    if (this.#head === this.#chunks.length) {
      this.#chunks = NO_CHUNKS;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
const NO_CHUNKS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
