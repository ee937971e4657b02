/**
 * What a connection has to write, in order. Frames an asynchronous
 * extension is still encoding hold their place: everything queued after
 * one (control frames, the close, the half-close) waits until it is done,
 * so the peer sees frames in the order they were sent.
 *
 * @module
 */

/** Put in the outgoing data to say: half-close the transport now (after writing what precedes it). */
export const SEND_EOF: unique symbol = Symbol("SEND_EOF");

/** One item of outgoing data: bytes to write, or {@link SEND_EOF}. */
export type OutgoingData = Uint8Array | typeof SEND_EOF;

/** A frame being encoded; {@link OutputQueue.settle} reports how it ended. */
export interface PendingFrame {
  chunks: Uint8Array[] | undefined;
  error: unknown;
  /** Counted in `bufferedAmount` until encoded (the input size: the output's is unknown yet). */
  readonly size: number;
}

function isPending(item: OutgoingData | PendingFrame): item is PendingFrame {
  return typeof item === "object" && "size" in item;
}

const NOTHING: OutgoingData[] = Object.freeze([]) as unknown as OutgoingData[];

/** The ordered output of one connection. */
export class OutputQueue {
  // Shared while empty (the usual state between writes); a queue gets its own array when it has something.
  #ready: OutgoingData[] = NOTHING;
  #readyBytes = 0;
  // The last ready bytes as a range of a frame pool, kept open while frames written next to it
  // extend it; made into one view when something else is queued or the output is taken.
  #runPool: Uint8Array | undefined;
  #runStart = 0;
  #runEnd = 0;
  // From the first frame still being encoded on, in order; undefined when nothing waits.
  #held: (OutgoingData | PendingFrame)[] | undefined;
  #heldBytes = 0;
  #eofQueued = false;

  /** Bytes queued and not yet taken. */
  get bufferedAmount(): number {
    return this.#readyBytes + this.#heldBytes;
  }

  /** Queues bytes behind everything queued before. */
  push(chunk: Uint8Array): void {
    if (this.#held !== undefined) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
    } else {
      this.#pushReady(chunk);
    }
  }

  /**
   * Queues bytes `pool[start..end)` behind everything queued before, with
   * no view made until the output is taken: frames written one after
   * another into a pool leave as one chunk.
   *
   * @param pool The frame pool the bytes are in (never written again there).
   * @param start First byte.
   * @param end One past the last byte.
   */
  pushRange(pool: Uint8Array, start: number, end: number): void {
    if (this.#held !== undefined) return this.push(pool.subarray(start, end));
    this.#readyBytes += end - start;
    if (pool === this.#runPool && start === this.#runEnd) {
      this.#runEnd = end;
      return;
    }
    this.#closeRun();
    this.#runPool = pool;
    this.#runStart = start;
    this.#runEnd = end;
  }

  /** Queues the half-close, once. */
  pushEof(): void {
    if (this.#eofQueued) return;
    this.#eofQueued = true;
    if (this.#held !== undefined) this.#held.push(SEND_EOF);
    else {
      this.#closeRun();
      this.#readyList().push(SEND_EOF);
    }
  }

  /** Reserves the place of a frame still being encoded. */
  hold(size: number): PendingFrame {
    const pending: PendingFrame = { chunks: undefined, error: undefined, size };
    (this.#held ??= []).push(pending);
    this.#heldBytes += size;
    return pending;
  }

  /**
   * Moves what is no longer waiting to the ready output, after a pending
   * frame was encoded or failed.
   *
   * @returns The error of the first failed frame (what follows it stays held and is dropped).
   */
  settle(): unknown {
    const held = this.#held;
    if (held === undefined) return undefined;
    while (held.length > 0) {
      const item = held[0]!;
      if (isPending(item)) {
        if (item.chunks === undefined && item.error === undefined) return undefined;
        held.shift();
        this.#heldBytes -= item.size;
        if (item.error !== undefined) {
          // A gap in a compressed stream would corrupt everything after it: nothing more goes out.
          this.#held = undefined;
          this.#heldBytes = 0;
          return item.error;
        }
        for (const chunk of item.chunks!) this.#pushReady(chunk);
      } else {
        held.shift();
        if (item !== SEND_EOF) this.#heldBytes -= item.length;
        this.#pushReady(item);
      }
    }
    this.#held = undefined;
    return undefined;
  }

  /** Takes everything ready to write. */
  take(): OutgoingData[] {
    this.#closeRun();
    const ready = this.#ready;
    if (ready === NOTHING) return [];
    this.#ready = NOTHING;
    this.#readyBytes = 0;
    return ready;
  }

  #readyList(): OutgoingData[] {
    if (this.#ready === NOTHING) this.#ready = [];
    return this.#ready;
  }

  /** Makes the open pool range a chunk of the ready output. */
  #closeRun(): void {
    const pool = this.#runPool;
    if (pool === undefined) return;
    this.#runPool = undefined;
    this.#readyList().push(pool.subarray(this.#runStart, this.#runEnd));
  }

  #pushReady(chunk: OutgoingData): void {
    this.#closeRun();
    if (chunk === SEND_EOF) {
      this.#readyList().push(SEND_EOF);
      return;
    }
    // Frames allocated one after another from the frame pool are adjacent: join them without copying.
    const ready = this.#readyList();
    const last = ready[ready.length - 1];
    if (last !== undefined && last !== SEND_EOF && last.buffer === chunk.buffer &&
      last.byteOffset + last.length === chunk.byteOffset) {
      ready[ready.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + chunk.length);
    } else {
      ready.push(chunk);
    }
    this.#readyBytes += chunk.length;
  }
}
