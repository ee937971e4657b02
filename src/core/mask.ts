/**
 * Masking (RFC 6455 section 5.3): XOR of the payload with a 4-byte key,
 * repeated. Every byte a client sends and a server receives goes through
 * here, so it works a 32-bit word at a time.
 *
 * Measured on Node 20 (see `bench/mask_bench.ts`): a byte loop runs at
 * 400–700 MB/s above 1 KiB, the word loop at 1.5–2.3 GB/s; below about 32
 * bytes the word setup costs more than it saves, so short payloads take the
 * byte loop (ws keeps the same split for its native helper, ws#1348).
 * Where the runtime offers a native routine (bufferutil, the way ws uses
 * it), adapters install it with {@link useNativeMask} and payloads from
 * its threshold up go through it: on Node 20 it masks 64 KiB about ten
 * times faster than the word loop.
 *
 * @module
 */

/**
 * A native masking routine with bufferutil's `mask` contract:
 * `output[offset + i] = source[i] ^ key[i & 3]` for `i < length`. It may be
 * called with `output` and `source` viewing the same bytes (in place).
 */
export type NativeMask = (source: Uint8Array, key: Uint8Array, output: Uint8Array, offset: number, length: number) => void;

let nativeMask: NativeMask | undefined;
let nativeFrom = Infinity;

/**
 * Installs (or, with undefined, removes) a native masking routine for
 * payloads of `minLength` bytes and more. Adapters call it; every
 * connection in the process then uses it.
 *
 * @param mask The routine, e.g. bufferutil's `mask`.
 * @param minLength Below this length the JavaScript loops are faster (the native call has a fixed cost).
 * @example
 * ```ts
 * declare const bufferutil: { mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void };
 *
 * useNativeMask(bufferutil.mask, 256);
 * ```
 */
export function useNativeMask(mask: NativeMask | undefined, minLength = 256): void {
  nativeMask = mask;
  nativeFrom = mask === undefined ? Infinity : minLength;
}

/** Whether a native masking routine is installed. */
export function hasNativeMask(): boolean {
  return nativeMask !== undefined;
}

/** Payloads shorter than this are masked byte by byte. Based on `bench/mask_bench.ts`. */
export const WORD_MASK_THRESHOLD = 32;

// One scratch word: the key rotated to the buffer's alignment, read back as a
// Uint32 in the platform's byte order so the word XOR matches the byte XOR.
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/**
 * XORs `data[start..end)` in place with `key`, where `data[start]` is at
 * position `keyOffset` of the key stream (`keyOffset` is the count of payload
 * bytes already unmasked, so a frame split across reads continues correctly).
 * Masking and unmasking are the same operation.
 *
 * @param data The bytes to transform in place.
 * @param key The 4-byte masking key.
 * @param start First index to transform (default 0).
 * @param end One past the last index (default `data.length`).
 * @param keyOffset Position in the key stream of `data[start]` (default 0).
 * @example
 * ```ts
 * const data = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * new TextDecoder().decode(data); // "Hello"
 * ```
 */
export function applyMask(
  data: Uint8Array,
  key: Uint8Array,
  start = 0,
  end = data.length,
  keyOffset = 0,
): void {
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
  if ((k0 | k1 | k2 | k3) === 0) return; // an all-zero key is the identity
  if (end - start >= nativeFrom) {
    nativeMask!(data.subarray(start, end), rotatedKey(key, keyOffset), data, start, end - start);
    return;
  }
  let i = start;
  let j = keyOffset & 3;
  if (end - start >= WORD_MASK_THRESHOLD) {
    // Byte steps until the absolute address is word-aligned, so the middle can use a Uint32Array view.
    while (((data.byteOffset + i) & 3) !== 0) {
      data[i++]! ^= key[j]!;
      j = (j + 1) & 3;
    }
    keyBytes[0] = key[j]!;
    keyBytes[1] = key[(j + 1) & 3]!;
    keyBytes[2] = key[(j + 2) & 3]!;
    keyBytes[3] = key[(j + 3) & 3]!;
    const word = keyWord[0]!;
    const words = (end - i) >>> 2;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w]! ^= word;
    i += words << 2; // the key phase is unchanged after whole words
  }
  // Rotate the key to the current phase so the tail loop needs no index arithmetic on the key.
  const r0 = key[j]!, r1 = key[(j + 1) & 3]!, r2 = key[(j + 2) & 3]!, r3 = key[(j + 3) & 3]!;
  const whole = i + ((end - i) & ~3);
  for (; i < whole; i += 4) {
    data[i] = data[i]! ^ r0;
    data[i + 1] = data[i + 1]! ^ r1;
    data[i + 2] = data[i + 2]! ^ r2;
    data[i + 3] = data[i + 3]! ^ r3;
  }
  if (i < end) data[i] = data[i++]! ^ r0;
  if (i < end) data[i] = data[i++]! ^ r1;
  if (i < end) data[i] = data[i]! ^ r2;
}

/**
 * Copies `source` into `output` at `offset`, masked with `key` from
 * position `keyOffset` of the key stream: one pass where a native routine
 * is installed, else a copy and {@link applyMask} in place.
 *
 * @param source The bytes to mask (not modified).
 * @param key The 4-byte masking key.
 * @param keyOffset Position in the key stream of `source[0]`.
 * @param output Where the masked bytes go.
 * @param offset Index in `output` of the first masked byte.
 * @example
 * ```ts
 * const out = new Uint8Array(5);
 * maskInto(new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]), new Uint8Array([0x37, 0xfa, 0x21, 0x3d]), 0, out, 0); // "Hello"
 * ```
 */
export function maskInto(source: Uint8Array, key: Uint8Array, keyOffset: number, output: Uint8Array, offset: number): void {
  if (source.length >= nativeFrom) {
    nativeMask!(source, rotatedKey(key, keyOffset), output, offset, source.length);
    return;
  }
  output.set(source, offset);
  applyMask(output, key, offset, offset + source.length, keyOffset);
}

/** The key as seen from position `keyOffset` of its stream (the native routines start at phase 0). */
function rotatedKey(key: Uint8Array, keyOffset: number): Uint8Array {
  const j = keyOffset & 3;
  if (j === 0) return key;
  return new Uint8Array([key[j]!, key[(j + 1) & 3]!, key[(j + 2) & 3]!, key[(j + 3) & 3]!]);
}

// Keys are drawn from a pool so that a client sending many small frames does
// not pay a getRandomValues call each (ws ddfe4a80 measured the same).
const KEY_POOL_SIZE = 8192;
const keyPool = new Uint8Array(KEY_POOL_SIZE);
let keyPoolOffset = KEY_POOL_SIZE;

/**
 * Returns a fresh, unpredictable 4-byte masking key (RFC 6455 section 5.3
 * requires the key to be drawn from a strong source of entropy), taken from
 * a pool refilled with `crypto.getRandomValues`.
 *
 * @returns A new 4-byte array the caller owns.
 * @example
 * ```ts
 * const key = randomMaskKey(); // Uint8Array(4)
 * ```
 */
export function randomMaskKey(): Uint8Array {
  if (keyPoolOffset === KEY_POOL_SIZE) {
    crypto.getRandomValues(keyPool);
    keyPoolOffset = 0;
  }
  const key = keyPool.slice(keyPoolOffset, keyPoolOffset + 4);
  keyPoolOffset += 4;
  return key;
}
