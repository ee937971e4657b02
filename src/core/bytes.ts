/**
 * Small byte-array helpers.
 *
 * This module mirrors a subset of Deno's `@std/bytes` (`concat`, `equals`,
 * `indexOfNeedle`) with the same names, signatures and edge-case behaviour,
 * so that it can be replaced by the JSR package without touching callers.
 * It is written here because the core must not depend on a registry that
 * every runtime can reach.
 *
 * @module
 */

/**
 * Concatenates byte arrays into one new array, allocating exactly once.
 *
 * The result never aliases an input, even when only one array is given, so
 * callers may keep mutating their buffers afterwards.
 *
 * @param buffers The arrays to join, in order.
 * @returns A fresh array holding every input byte in order.
 * @example
 * ```ts
 * concat([new Uint8Array([1, 2]), new Uint8Array([3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat(buffers: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const buffer of buffers) length += buffer.length;
  const output = new Uint8Array(length);
  let offset = 0;
  for (const buffer of buffers) {
    output.set(buffer, offset);
    offset += buffer.length;
  }
  return output;
}

/**
 * Tells whether two byte arrays hold the same bytes.
 *
 * Not constant-time: do not use it to compare secrets.
 *
 * @param a First array.
 * @param b Second array.
 * @returns `true` when both have the same length and contents.
 * @example
 * ```ts
 * equals(new Uint8Array([1, 2]), new Uint8Array([1, 2])); // true
 * ```
 */
export function equals(a: Uint8Array, b: Uint8Array): boolean {
  const length = a.length;
  if (length !== b.length) return false;
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

/**
 * Finds the first occurrence of `needle` in `source` at or after `start`.
 *
 * As in `@std/bytes`: a negative `start` counts back from the end of
 * `source`, and an empty `needle` is never found (returns -1). The search is
 * O(source.length × needle.length), fine for the short delimiters it is
 * meant for (such as `\r\n\r\n`).
 *
 * @param source The array to search in.
 * @param needle The byte sequence to look for.
 * @param start Index in `source` where the search begins; defaults to 0.
 * @returns The index of the first match, or -1 when there is none.
 * @example
 * ```ts
 * indexOfNeedle(new Uint8Array([0, 1, 2, 1, 2]), new Uint8Array([1, 2]), 2); // 3
 * ```
 */
export function indexOfNeedle(source: Uint8Array, needle: Uint8Array, start = 0): number {
  const sourceLength = source.length;
  const needleLength = needle.length;
  if (start < 0) start = Math.max(0, sourceLength + start);
  if (needleLength === 0) return -1;
  const first = needle[0];
  const last = sourceLength - needleLength;
  outer: for (let i = start; i <= last; i++) {
    if (source[i] !== first) continue;
    for (let j = 1; j < needleLength; j++) {
      if (source[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}
