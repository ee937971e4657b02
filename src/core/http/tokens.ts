/**
 * Character classes of RFC 7230 and Latin-1 conversion shared by the HTTP
 * head parser and the header-value parsers. Lookups are table based so that
 * every parser built on them stays linear and regex free.
 *
 * @module
 */

// One table for the whole byte range keeps each check a single array load.
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/**
 * Tells whether a character code is an RFC 7230 `tchar` (a token character).
 *
 * @param code - A UTF-16 code unit or byte value.
 * @returns `true` for ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``.
 * @example
 * ```ts
 * isTchar(0x41); // true ("A")
 * isTchar(0x20); // false (SP)
 * ```
 */
export function isTchar(code: number): boolean {
  return code < 256 && TCHAR[code] === 1;
}

/**
 * Tells whether a string is a non-empty RFC 7230 token.
 *
 * @param value - The string to check.
 * @returns `true` if `value` is one or more `tchar`s.
 * @example
 * ```ts
 * isToken("permessage-deflate"); // true
 * isToken("a b"); // false
 * ```
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isTchar(value.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Tells whether a character code may appear inside an RFC 7230 field value:
 * HTAB, SP, VCHAR or obs-text (0x80-0xFF).
 *
 * @param code - A UTF-16 code unit or byte value.
 * @returns `true` if the code is allowed in a field value.
 * @example
 * ```ts
 * isFieldValueChar(0x09); // true (HTAB)
 * isFieldValueChar(0x00); // false (NUL)
 * ```
 */
export function isFieldValueChar(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code <= 0xff && code !== 0x7f);
}

/**
 * Tells whether a character code is optional whitespace (SP or HTAB).
 *
 * @param code - A UTF-16 code unit or byte value.
 * @returns `true` for 0x20 and 0x09.
 * @example
 * ```ts
 * isOws(0x20); // true
 * ```
 */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

// Keeps String.fromCharCode's argument count far below engine limits, whatever
// head limit the caller configured.
const DECODE_SLICE = 4096;

/**
 * Decodes bytes as ISO-8859-1, one byte to one UTF-16 code unit.
 * `TextDecoder("latin1")` cannot be used: WHATWG maps that label to
 * windows-1252, which rewrites 0x80-0x9F.
 *
 * @param bytes - The bytes to decode.
 * @returns A string whose code units equal the input bytes.
 * @example
 * ```ts
 * decodeLatin1(new Uint8Array([0x48, 0x80])); // "H\u0080"
 * ```
 */
export function decodeLatin1(bytes: Uint8Array): string {
  if (bytes.length <= DECODE_SLICE) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += DECODE_SLICE) {
    const slice = bytes.subarray(i, i + DECODE_SLICE);
    parts.push(String.fromCharCode.apply(null, slice as unknown as number[]));
  }
  return parts.join("");
}

const asciiDecoder = new TextDecoder();
const asciiEncoder = new TextEncoder();
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Decodes bytes known to be ASCII (every byte below 0x80), natively: for
 * them UTF-8 and Latin-1 agree, and the native decoder beats building the
 * string in JavaScript.
 *
 * @param bytes - ASCII bytes.
 * @returns The text.
 * @example
 * ```ts
 * decodeAscii(new Uint8Array([0x48, 0x69])); // "Hi"
 * ```
 */
export function decodeAscii(bytes: Uint8Array): string {
  return asciiDecoder.decode(bytes);
}

/**
 * Encodes a string as ISO-8859-1.
 *
 * @param text - The string to encode; every code unit must be <= 0xFF.
 * @returns One byte per code unit.
 * @throws TypeError if a code unit cannot be represented in Latin-1.
 * @example
 * ```ts
 * encodeLatin1("GET"); // Uint8Array [0x47, 0x45, 0x54]
 * ```
 */
export function encodeLatin1(text: string): Uint8Array {
  // ASCII (nearly every head) is the same in UTF-8: the native encoder does it faster.
  if (!NON_ASCII.test(text)) return asciiEncoder.encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(`character U+${hex4(code)} cannot be encoded as Latin-1`);
    }
    out[i] = code;
  }
  return out;
}

/**
 * Formats a byte for error messages, e.g. `0x0b`.
 *
 * @param code - A byte value.
 * @returns The value as `0x` followed by two lowercase hex digits.
 * @example
 * ```ts
 * hexByte(11); // "0x0b"
 * ```
 */
export function hexByte(code: number): string {
  return "0x" + code.toString(16).padStart(2, "0");
}

function hex4(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, "0");
}
