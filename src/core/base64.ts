/**
 * Strict base64 (RFC 4648 section 4: standard alphabet, `=` padding).
 *
 * Names follow Deno's `@std/encoding` (`encodeBase64` / `decodeBase64`), but
 * decoding is deliberately stricter than both that module and `atob`: the
 * handshake must reject a `Sec-WebSocket-Key` that is not exactly the
 * canonical encoding of 16 bytes, so whitespace, missing padding, the URL-safe
 * alphabet and non-zero padding bits all make {@link decodeBase64} return
 * `null` instead of throwing or guessing.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD = 0x3d; // "="
const INVALID = 0xff;

// Char code → 6-bit value, INVALID for anything outside the alphabet
// (including "=", which is handled separately, and all non-ASCII).
const DECODE: Uint8Array = /* @__PURE__ */ (() => {
  const table = new Uint8Array(128).fill(INVALID);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/**
 * Encodes bytes as padded standard base64.
 *
 * @param data The bytes to encode.
 * @returns The base64 text; empty for empty input.
 * @example
 * ```ts
 * encodeBase64(new TextEncoder().encode("foob")); // "Zm9vYg=="
 * ```
 */
export function encodeBase64(data: Uint8Array): string {
  const length = data.length;
  const wholeEnd = length - (length % 3);
  let out = "";
  let i = 0;
  for (; i < wholeEnd; i += 3) {
    const n = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! +
      ALPHABET[n & 63]!;
  }
  const rest = length - wholeEnd;
  if (rest === 1) {
    const n = data[i]! << 16;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + "==";
  } else if (rest === 2) {
    const n = (data[i]! << 16) | (data[i + 1]! << 8);
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + "=";
  }
  return out;
}

/**
 * Decodes canonical, padded standard base64.
 *
 * @param text The base64 text.
 * @returns The decoded bytes, or `null` when `text` is not exactly what
 *   {@link encodeBase64} would produce for some input (bad length or
 *   character, whitespace, misplaced or missing `=`, non-zero pad bits).
 * @example
 * ```ts
 * decodeBase64("Zm9vYg=="); // Uint8Array [0x66, 0x6f, 0x6f, 0x62]
 * decodeBase64("Zm9vYg"); // null: padding is required
 * ```
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  const length = text.length;
  if (length % 4 !== 0) return null;
  if (length === 0) return new Uint8Array(0);

  let padding = 0;
  if (text.charCodeAt(length - 1) === PAD) padding = text.charCodeAt(length - 2) === PAD ? 2 : 1;
  const out = new Uint8Array((length / 4) * 3 - padding);

  const wholeEnd = padding === 0 ? length : length - 4;
  let o = 0;
  for (let i = 0; i < wholeEnd; i += 4) {
    const n = sextet(text, i, 18) | sextet(text, i + 1, 12) | sextet(text, i + 2, 6) |
      sextet(text, i + 3, 0);
    if (n < 0) return null;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (padding === 0) return out;

  const i = wholeEnd;
  const n = sextet(text, i, 18) | sextet(text, i + 1, 12) |
    (padding === 1 ? sextet(text, i + 2, 6) : 0);
  if (n < 0) return null;
  // Canonical form: bits that fall into the padding must be zero.
  if ((n & (padding === 1 ? 0xff : 0xffff)) !== 0) return null;
  out[o++] = n >>> 16;
  if (padding === 1) out[o] = (n >>> 8) & 0xff;
  return out;
}

/** The 6-bit value at `index`, shifted left by `shift`, or -1 when invalid. */
function sextet(text: string, index: number, shift: number): number {
  const code = text.charCodeAt(index);
  const value = code < 128 ? DECODE[code]! : INVALID;
  return value === INVALID ? -1 : value << shift;
}
