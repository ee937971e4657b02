/**
 * Incremental UTF-8 validation that fails on the first impossible byte.
 *
 * RFC 6455 section 8.1 requires failing a connection (close code 1007) as
 * soon as a text message turns out not to be UTF-8, and a text message may
 * arrive in any number of fragments and reads. {@link Utf8Validator} keeps
 * the position inside a multi-byte sequence between calls and rejects a byte
 * the moment no continuation could make it valid: `F4 90` is rejected at
 * `90` (it would encode a code point above U+10FFFF) without waiting for
 * the rest of the sequence.
 *
 * The automaton follows table 3-7 ("Well-Formed UTF-8 Byte Sequences") of
 * the Unicode Standard, so overlong forms, surrogates (U+D800..U+DFFF),
 * code points above U+10FFFF, stray continuation bytes and the bytes C0, C1
 * and F5..FF are all rejected, matching `TextDecoder` with `fatal: true`.
 *
 * @module
 */

// Why not TextDecoder({ fatal: true }) with { stream: true } for big inputs?
// It does fail on the same byte (test/utf8_test.ts checks this on every
// runtime), but bench/utf8_bench.ts on a 2-core box (MB/s, this code vs
// TextDecoder stream) showed no size threshold that wins everywhere:
//   Node 20:  64 KiB mixed  924 vs  754; 1 MiB mixed  912 vs  154; 1 MiB ASCII 2393 vs  1067
//   Deno 2:   64 KiB mixed 1107 vs 1027; 1 MiB mixed 1092 vs  182; 1 MiB ASCII 2933 vs  2052
//   Bun 1.x:  64 KiB mixed 1329 vs 2867; 1 MiB mixed 1413 vs 2833; 1 MiB ASCII 4829 vs 11489
//   20 B ASCII: ~1300-2300 vs 13-150 everywhere.
// Only Bun's decoder is faster (above ~64 KiB), and picking it would need
// runtime detection, which the core does not do; Node would lose up to 6x.

// Byte classes: bytes that behave identically in every state share a class,
// which keeps the transition table at 9 states × 12 classes.
const C_ASCII = 0; // 00..7F
const C_CONT_LOW = 1; // 80..8F
const C_CONT_MID = 2; // 90..9F
const C_CONT_HIGH = 3; // A0..BF
const C_LEAD2 = 4; // C2..DF
const C_E0 = 5; // E0: second byte must be A0..BF (else overlong)
const C_LEAD3 = 6; // E1..EC, EE..EF
const C_ED = 7; // ED: second byte must be 80..9F (else surrogate)
const C_F0 = 8; // F0: second byte must be 90..BF (else overlong)
const C_LEAD4 = 9; // F1..F3
const C_F4 = 10; // F4: second byte must be 80..8F (else > U+10FFFF)
const C_INVALID = 11; // C0, C1, F5..FF
const CLASS_COUNT = 12;

// States are stored pre-multiplied by CLASS_COUNT so the hot loop does one
// addition per byte instead of a multiply and an add.
const S_ACCEPT = 0;
const S_NEED1 = 1 * CLASS_COUNT; // any 80..BF, then done
const S_NEED2 = 2 * CLASS_COUNT; // any 80..BF, then S_NEED1
const S_NEED3 = 3 * CLASS_COUNT; // any 80..BF, then S_NEED2
const S_E0 = 4 * CLASS_COUNT; // A0..BF, then S_NEED1
const S_ED = 5 * CLASS_COUNT; // 80..9F, then S_NEED1
const S_F0 = 6 * CLASS_COUNT; // 90..BF, then S_NEED2
const S_F4 = 7 * CLASS_COUNT; // 80..8F, then S_NEED2
const S_REJECT = 8 * CLASS_COUNT;
const STATE_COUNT = 9;

const BYTE_CLASS: Uint8Array = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    let c: number;
    if (b < 0x80) c = C_ASCII;
    else if (b < 0x90) c = C_CONT_LOW;
    else if (b < 0xa0) c = C_CONT_MID;
    else if (b < 0xc0) c = C_CONT_HIGH;
    else if (b < 0xc2) c = C_INVALID;
    else if (b < 0xe0) c = C_LEAD2;
    else if (b === 0xe0) c = C_E0;
    else if (b === 0xed) c = C_ED;
    else if (b < 0xf0) c = C_LEAD3;
    else if (b === 0xf0) c = C_F0;
    else if (b < 0xf4) c = C_LEAD4;
    else if (b === 0xf4) c = C_F4;
    else c = C_INVALID;
    table[b] = c;
  }
  return table;
})();

const TRANSITION: Uint8Array = /* @__PURE__ */ (() => {
  const table = new Uint8Array(STATE_COUNT * CLASS_COUNT).fill(S_REJECT);
  const set = (state: number, classes: readonly number[], next: number): void => {
    for (const c of classes) table[state + c] = next;
  };
  const anyCont = [C_CONT_LOW, C_CONT_MID, C_CONT_HIGH];
  set(S_ACCEPT, [C_ASCII], S_ACCEPT);
  set(S_ACCEPT, [C_LEAD2], S_NEED1);
  set(S_ACCEPT, [C_E0], S_E0);
  set(S_ACCEPT, [C_LEAD3], S_NEED2);
  set(S_ACCEPT, [C_ED], S_ED);
  set(S_ACCEPT, [C_F0], S_F0);
  set(S_ACCEPT, [C_LEAD4], S_NEED3);
  set(S_ACCEPT, [C_F4], S_F4);
  set(S_NEED1, anyCont, S_ACCEPT);
  set(S_NEED2, anyCont, S_NEED1);
  set(S_NEED3, anyCont, S_NEED2);
  set(S_E0, [C_CONT_HIGH], S_NEED1);
  set(S_ED, [C_CONT_LOW, C_CONT_MID], S_NEED1);
  set(S_F0, [C_CONT_MID, C_CONT_HIGH], S_NEED2);
  set(S_F4, [C_CONT_LOW], S_NEED2);
  return table;
})();

/**
 * Runs the automaton over `bytes` from state `state`.
 *
 * Returns the final state (never S_REJECT), or `-1 - index` of the first
 * rejected byte, so one number carries both outcomes without allocating.
 */
function run(bytes: Uint8Array, state: number): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    if (state === S_ACCEPT) {
      // Most text is ASCII: skip it four bytes per test, then byte by byte.
      const n4 = n - 4;
      while (i <= n4 && ((bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]!) & 0x80) === 0) {
        i += 4;
      }
      while (i < n && bytes[i]! < 0x80) i++;
      if (i === n) break;
      // A whole, well-formed multi-byte sequence inside this chunk is skipped
      // without the tables. Anything else (split across chunks, or invalid)
      // falls through to the automaton, which alone decides errors and so
      // pins failures to the exact byte.
      const lead = bytes[i]!;
      if (lead < 0xe0) {
        if (lead >= 0xc2 && i + 1 < n && (bytes[i + 1]! & 0xc0) === 0x80) {
          i += 2;
          continue;
        }
      } else if (lead < 0xf0) {
        if (i + 2 < n) {
          const b1 = bytes[i + 1]!;
          if (
            (b1 & 0xc0) === 0x80 &&
            (bytes[i + 2]! & 0xc0) === 0x80 &&
            (lead === 0xe0 ? b1 >= 0xa0 : lead !== 0xed || b1 < 0xa0)
          ) {
            i += 3;
            continue;
          }
        }
      } else if (lead < 0xf5 && i + 3 < n) {
        const b1 = bytes[i + 1]!;
        if (
          (b1 & 0xc0) === 0x80 &&
          (bytes[i + 2]! & 0xc0) === 0x80 &&
          (bytes[i + 3]! & 0xc0) === 0x80 &&
          (lead === 0xf0 ? b1 >= 0x90 : lead !== 0xf4 || b1 < 0x90)
        ) {
          i += 4;
          continue;
        }
      }
    }
    state = TRANSITION[state + BYTE_CLASS[bytes[i]!]!]!;
    if (state === S_REJECT) return -1 - i;
    i++;
  }
  return state;
}

/** Chunks shorter than this skip the fast validator: calling out costs more than it saves. */
const FAST_MIN = 64;

/**
 * Index where a trailing, not yet complete multi-byte sequence starts, or
 * `bytes.length` when the chunk ends on a code point boundary (or with
 * bytes that are invalid anyway, which the full check will report).
 */
function lastBoundary(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let i = end - 1; i >= 0 && i >= end - 3; i--) {
    const b = bytes[i]!;
    if (b < 0x80) return end; // ASCII: complete
    if (b >= 0xc0) {
      const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return i + needed > end ? i : end;
    }
  }
  return end;
}

/**
 * Validates a UTF-8 byte stream fed in arbitrary chunks.
 *
 * One instance serves one connection: call {@link Utf8Validator.push} for
 * each piece of a text message, {@link Utf8Validator.end} when the message
 * is complete, then {@link Utf8Validator.reset} before the next message.
 *
 * @example
 * ```ts
 * const v = new Utf8Validator();
 * v.push(new Uint8Array([0xe2, 0x82])); // true: "€" is not finished yet
 * v.push(new Uint8Array([0xac])); // true
 * v.end(); // true
 * v.reset();
 * v.push(new Uint8Array([0x41, 0xf4, 0x90])); // false
 * v.failedAt; // 2
 * ```
 */
export class Utf8Validator {
  #state = S_ACCEPT;
  #failedAt = -1;
  readonly #fast: ((bytes: Uint8Array) => boolean) | undefined;

  /**
   * @param fast Optional whole-buffer validator (e.g. `isUtf8` of
   *   `node:buffer`, native and 10–100× faster). It checks the bulk of each
   *   chunk up to its last complete code point; the state machine still
   *   handles sequences split across chunks and finds the exact failing byte,
   *   so a chunk fails as soon as it is pushed either way.
   */
  constructor(fast?: (bytes: Uint8Array) => boolean) {
    this.#fast = fast;
  }

  /**
   * Index, within the chunk most recently given to
   * {@link Utf8Validator.push}, of the first invalid byte; -1 while the
   * input is valid. Stays set until {@link Utf8Validator.reset}.
   */
  get failedAt(): number {
    return this.#failedAt;
  }

  /**
   * Feeds the next bytes of the message.
   *
   * @param bytes The next chunk; may be empty and may end inside a
   *   multi-byte sequence.
   * @returns `false` as soon as the input so far cannot be valid UTF-8
   *   (and on every later call until {@link Utf8Validator.reset}), else
   *   `true`.
   * @example
   * ```ts
   * new Utf8Validator().push(new Uint8Array([0xed, 0xa0])); // false: surrogate
   * ```
   */
  push(bytes: Uint8Array): boolean {
    if (this.#state === S_REJECT) return false;
    if (this.#fast !== undefined && this.#state === S_ACCEPT && bytes.length >= FAST_MIN) {
      const boundary = lastBoundary(bytes);
      if (this.#fast(boundary === bytes.length ? bytes : bytes.subarray(0, boundary))) {
        const tail = run(bytes.subarray(boundary), S_ACCEPT);
        if (tail >= 0) {
          this.#state = tail;
          return true;
        }
        this.#state = S_REJECT;
        this.#failedAt = boundary + (-1 - tail);
        return false;
      }
      // Invalid somewhere: the state machine below finds the exact byte.
    }
    const result = run(bytes, this.#state);
    if (result < 0) {
      this.#state = S_REJECT;
      this.#failedAt = -1 - result;
      return false;
    }
    this.#state = result;
    return true;
  }

  /**
   * Tells whether the message fed so far is complete, valid UTF-8.
   *
   * @returns `true` when every byte pushed was valid and the input ends on
   *   a code point boundary; `false` after an invalid byte or when the last
   *   sequence is unfinished.
   * @example
   * ```ts
   * const v = new Utf8Validator();
   * v.push(new Uint8Array([0xc3])); // true
   * v.end(); // false: "é" is missing its second byte
   * ```
   */
  end(): boolean {
    return this.#state === S_ACCEPT;
  }

  /**
   * Forgets all state so the instance can validate a new message.
   *
   * @returns Nothing.
   * @example
   * ```ts
   * const v = new Utf8Validator();
   * v.push(new Uint8Array([0xff])); // false
   * v.reset();
   * v.push(new Uint8Array([0x41])); // true
   * ```
   */
  reset(): void {
    this.#state = S_ACCEPT;
    this.#failedAt = -1;
  }
}

/**
 * Tells whether a complete buffer is well-formed UTF-8.
 *
 * @param bytes The whole byte sequence.
 * @returns `true` when `bytes` is valid UTF-8 ending on a code point boundary.
 * @example
 * ```ts
 * isValidUtf8(new TextEncoder().encode("héllo 🌍")); // true
 * isValidUtf8(new Uint8Array([0xc0, 0x80])); // false: overlong NUL
 * ```
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return run(bytes, S_ACCEPT) === S_ACCEPT;
}

/**
 * The number of bytes `text` takes in UTF-8, without encoding it. A lone
 * surrogate counts 3 bytes, as the U+FFFD that `TextEncoder` writes for it.
 *
 * @param text Any string.
 * @returns Its UTF-8 length in bytes.
 * @example
 * ```ts
 * utf8Length("héllo 🌍"); // 11
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = text.length; // one per UTF-16 unit, then what each needs beyond that
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 4 bytes for 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}
