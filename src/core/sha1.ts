/**
 * Synchronous SHA-1 (FIPS 180-4).
 *
 * SHA-1 is used here only because RFC 6455 mandates it for the
 * `Sec-WebSocket-Accept` header; that handshake check proves the server
 * speaks WebSocket, it is not a security property, and SHA-1 must not be
 * used for anything that needs collision resistance. It is implemented here
 * because WebCrypto's `digest` is asynchronous and the core is synchronous.
 * Where the runtime has a synchronous native digest (`node:crypto`'s
 * `createHash`, on Node, Deno and Bun), adapters install it with
 * {@link useNativeSha1}: twice as fast on Node, fifteen times on Bun.
 *
 * @module
 */

let native: ((data: Uint8Array) => Uint8Array) | undefined;

/**
 * Installs (or, with undefined, removes) a native SHA-1 for {@link sha1}.
 *
 * @param digest Returns the 20-byte digest of its input.
 * @example
 * ```ts
 * import { createHash } from "node:crypto";
 *
 * useNativeSha1((data) => createHash("sha1").update(data).digest());
 * ```
 */
export function useNativeSha1(digest: ((data: Uint8Array) => Uint8Array) | undefined): void {
  native = digest;
}

const BLOCK_BYTES = 64;
// Reused across calls: the core is single-threaded and synchronous, and the
// message schedule is fully rewritten for every block.
const W = new Uint32Array(80);

/**
 * Computes the SHA-1 digest of `data`.
 *
 * @param data The message, of any length.
 * @returns The 20-byte digest.
 * @example
 * ```ts
 * sha1(new TextEncoder().encode("abc")); // a9 99 3e 36 47 06 81 6a ba 3e ...
 * ```
 */
export function sha1(data: Uint8Array): Uint8Array {
  if (native !== undefined) return native(data);
  const h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const length = data.length;
  const fullBlocksEnd = length - (length % BLOCK_BYTES);
  for (let offset = 0; offset < fullBlocksEnd; offset += BLOCK_BYTES) {
    compress(h, data, offset);
  }

  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number;
  // it spills into a second block when fewer than 9 bytes remain.
  const remaining = length - fullBlocksEnd;
  const tail = new Uint8Array(remaining < 56 ? BLOCK_BYTES : 2 * BLOCK_BYTES);
  tail.set(data.subarray(fullBlocksEnd));
  tail[remaining] = 0x80;
  // Bit length may exceed 2^32, so split it without 32-bit overflow.
  const bitsHigh = Math.floor(length / 0x20000000);
  const bitsLow = (length * 8) >>> 0;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, bitsHigh);
  view.setUint32(tail.length - 4, bitsLow);
  for (let offset = 0; offset < tail.length; offset += BLOCK_BYTES) {
    compress(h, tail, offset);
  }

  const digest = new Uint8Array(20);
  const out = new DataView(digest.buffer);
  for (let i = 0; i < 5; i++) out.setUint32(i * 4, h[i]!);
  return digest;
}

/** Mixes one 64-byte block starting at `offset` into the state `h`. */
function compress(h: Uint32Array, block: Uint8Array, offset: number): void {
  for (let t = 0; t < 16; t++) {
    const i = offset + t * 4;
    W[t] = (block[i]! << 24) | (block[i + 1]! << 16) | (block[i + 2]! << 8) | block[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = W[t - 3]! ^ W[t - 8]! ^ W[t - 14]! ^ W[t - 16]!;
    W[t] = (x << 1) | (x >>> 31);
  }

  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  // Uint32Array stores modulo 2^32, which is exactly SHA-1's addition.
  h[0] = h[0]! + a;
  h[1] = h[1]! + b;
  h[2] = h[2]! + c;
  h[3] = h[3]! + d;
  h[4] = h[4]! + e;
}
