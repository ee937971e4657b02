/**
 * The window of a DEFLATE stream kept as a ring: the last bytes written,
 * read back oldest first. Internal to the codecs (not exported by the core).
 *
 * @module
 */

/**
 * The last `length` bytes written to a ring whose next write goes to `end`,
 * oldest first (zlib's inflate window has this shape too: `wnext`, `whave`).
 *
 * @param ring The ring.
 * @param end Where the next byte would be written.
 * @param length How many of the bytes before it are valid (at most the ring's size).
 * @returns A copy, in order.
 */
export function ringBytes(ring: Uint8Array, end: number, length: number): Uint8Array {
  const size = ring.length, start = (end - length + size) % size;
  const out = new Uint8Array(length);
  const first = Math.min(length, size - start);
  out.set(ring.subarray(start, start + first), 0);
  out.set(ring.subarray(0, length - first), first);
  return out;
}

/** The last `size` bytes appended, in a ring: one copy per message, none to read until asked. */
export class History {
  readonly #ring: Uint8Array;
  #end = 0; // next write position
  #length = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  append(data: Uint8Array): void {
    const ring = this.#ring, size = ring.length;
    const tail = data.length > size ? data.subarray(data.length - size) : data;
    const first = Math.min(tail.length, size - this.#end);
    ring.set(tail.subarray(0, first), this.#end);
    ring.set(tail.subarray(first), 0);
    this.#end = (this.#end + tail.length) % size;
    this.#length = Math.min(size, this.#length + tail.length);
  }

  bytes(): Uint8Array {
    return ringBytes(this.#ring, this.#end, this.#length);
  }

  clear(): void {
    this.#end = 0;
    this.#length = 0;
  }
}
