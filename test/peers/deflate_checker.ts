// An independent DEFLATE decoder (RFC 1951), written from the RFC for the
// interop tests, that inflates the compressed messages captured on the wire
// (test/peers/wire_tap.ts) and measures what zlib-based inflaters do not
// report: the longest back-reference each sender used. RFC 7692 lets a
// receiver keep only 2^max_window_bits bytes of history, and real inflaters
// usually keep more (zlib refuses an 8-bit raw window and uses 9), so a
// sender that breaks its announced window goes unnoticed by them. This
// decoder keeps exactly the history the negotiated parameters allow:
// nothing before the message with no context takeover, and the whole
// previous output (up to 32 KiB) otherwise, then reports the largest
// distance so the test can compare it with the window.
//
// It is slow (one bit at a time) and only meant for the few MiB a test sends.

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const MAX_HISTORY = 32768;

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Int32Array;
  symbols: Int32Array;
}

function huffman(lengths: ArrayLike<number>): Huffman {
  const counts = new Int32Array(16);
  for (let i = 0; i < lengths.length; i++) counts[lengths[i]!]!++;
  counts[0] = 0;
  const offsets = new Int32Array(16);
  for (let len = 1; len < 16; len++) offsets[len] = offsets[len - 1]! + counts[len - 1]!;
  const symbols = new Int32Array(lengths.length);
  for (let sym = 0; sym < lengths.length; sym++) {
    const len = lengths[sym]!;
    if (len !== 0) symbols[offsets[len]!++] = sym;
  }
  return { counts, symbols };
}

const FIXED_LITERALS = huffman(Array.from({ length: 288 }, (_, i) => (i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8)));
const FIXED_DISTANCES = huffman(new Array(30).fill(5));

/** Why a compressed message could not be inflated within the rules. */
export class DeflateCheckError extends Error {}

class BitReader {
  #pos = 0;
  #bit = 0; // bits already used of data[#pos]
  constructor(readonly data: Uint8Array) {}

  get done(): boolean {
    return this.#pos >= this.data.length;
  }

  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value |= this.bit() << i;
    return value;
  }

  bit(): number {
    if (this.#pos >= this.data.length) throw new DeflateCheckError("compressed data ends in the middle of a block");
    const b = (this.data[this.#pos]! >> this.#bit) & 1;
    if (++this.#bit === 8) {
      this.#bit = 0;
      this.#pos++;
    }
    return b;
  }

  align(): void {
    if (this.#bit !== 0) {
      this.#bit = 0;
      this.#pos++;
    }
  }

  byte(): number {
    if (this.#pos >= this.data.length) throw new DeflateCheckError("stored block runs past the end of the data");
    return this.data[this.#pos++]!;
  }

  decode(h: Huffman): number {
    let code = 0; // the code read so far, MSB first
    let first = 0; // the first code of the current length
    let index = 0; // index of that first code's symbol
    for (let len = 1; len < 16; len++) {
      code |= this.bit();
      const count = h.counts[len]!;
      if (code - first < count) return h.symbols[index + code - first]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new DeflateCheckError("invalid Huffman code");
  }
}

/** A growable byte buffer. */
class Output {
  bytes = new Uint8Array(1024);
  length = 0;
  push(b: number): void {
    if (this.length === this.bytes.length) {
      const bigger = new Uint8Array(this.bytes.length * 2);
      bigger.set(this.bytes);
      this.bytes = bigger;
    }
    this.bytes[this.length++] = b;
  }
}

/** What one inflated message showed. */
export interface CheckedMessage {
  data: Uint8Array;
  /** The longest back-reference in the message (0 when it has none). */
  maxDistance: number;
  /** Its longest back-reference reaching into earlier messages (0 when none). */
  maxDistanceIntoHistory: number;
  /** Block types used: 0 stored, 1 fixed, 2 dynamic. */
  blockTypes: Set<number>;
  /** A block with BFINAL set was seen (which ends the DEFLATE stream). */
  final: boolean;
}

/**
 * Inflates one direction's compressed messages in order, as a receiver that
 * keeps exactly what the negotiation allows.
 */
export class DeflateChecker {
  #history = new Uint8Array(0);
  /** Largest distance over every message so far. */
  maxDistance = 0;

  /**
   * @param contextTakeover Whether the sender may refer to earlier messages.
   */
  constructor(readonly contextTakeover: boolean) {}

  /**
   * Inflates one message's payload (as on the wire: without the 00 00 ff ff tail).
   *
   * @throws DeflateCheckError on data that is invalid, or that refers further back than allowed.
   */
  inflate(payload: Uint8Array): CheckedMessage {
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set([0x00, 0x00, 0xff, 0xff], payload.length);
    const reader = new BitReader(input);
    const history = this.contextTakeover ? this.#history : new Uint8Array(0);
    const out = new Output();
    const result: CheckedMessage = { data: new Uint8Array(0), maxDistance: 0, maxDistanceIntoHistory: 0, blockTypes: new Set(), final: false };
    while (!reader.done) {
      const final = reader.bit();
      const type = reader.bits(2);
      result.blockTypes.add(type);
      if (type === 0) {
        reader.align();
        const len = reader.byte() | (reader.byte() << 8);
        const nlen = reader.byte() | (reader.byte() << 8);
        if ((len ^ 0xffff) !== nlen) throw new DeflateCheckError(`stored block length ${len} does not match its complement ${nlen}`);
        for (let i = 0; i < len; i++) out.push(reader.byte());
      } else if (type === 1) {
        this.#codes(reader, FIXED_LITERALS, FIXED_DISTANCES, out, history, result);
      } else if (type === 2) {
        const [literals, distances] = dynamicCodes(reader);
        this.#codes(reader, literals, distances, out, history, result);
      } else {
        throw new DeflateCheckError("block type 3 is reserved");
      }
      if (final) {
        // The DEFLATE stream ends here; whatever follows (our appended tail) is not part of it.
        result.final = true;
        break;
      }
    }
    result.data = out.bytes.slice(0, out.length);
    this.maxDistance = Math.max(this.maxDistance, result.maxDistance);
    if (this.contextTakeover && !result.final) {
      const joined = new Uint8Array(Math.min(MAX_HISTORY, history.length + out.length));
      const fromOut = Math.min(out.length, joined.length);
      const fromHistory = joined.length - fromOut;
      joined.set(history.subarray(history.length - fromHistory), 0);
      joined.set(out.bytes.subarray(out.length - fromOut, out.length), fromHistory);
      this.#history = joined;
    } else {
      this.#history = new Uint8Array(0);
    }
    return result;
  }

  #codes(reader: BitReader, literals: Huffman, distances: Huffman, out: Output, history: Uint8Array, result: CheckedMessage): void {
    for (;;) {
      const symbol = reader.decode(literals);
      if (symbol < 256) {
        out.push(symbol);
        continue;
      }
      if (symbol === 256) return;
      const li = symbol - 257;
      if (li >= 29) throw new DeflateCheckError(`invalid length symbol ${symbol}`);
      const length = LENGTH_BASE[li]! + reader.bits(LENGTH_EXTRA[li]!);
      const di = reader.decode(distances);
      if (di >= 30) throw new DeflateCheckError(`invalid distance symbol ${di}`);
      const distance = DIST_BASE[di]! + reader.bits(DIST_EXTRA[di]!);
      if (distance > out.length + history.length) {
        throw new DeflateCheckError(
          `back-reference of ${distance} bytes with only ${out.length} bytes of this message` +
            (this.contextTakeover ? ` and ${history.length} of history` : " (no context takeover: no history)"),
        );
      }
      if (distance > result.maxDistance) result.maxDistance = distance;
      if (distance > out.length && distance > result.maxDistanceIntoHistory) result.maxDistanceIntoHistory = distance;
      for (let i = 0; i < length; i++) {
        const from = out.length - distance;
        out.push(from >= 0 ? out.bytes[from]! : history[history.length + from]!);
      }
    }
  }
}

function dynamicCodes(reader: BitReader): [Huffman, Huffman] {
  const nlen = reader.bits(5) + 257;
  const ndist = reader.bits(5) + 1;
  const ncode = reader.bits(4) + 4;
  if (nlen > 286 || ndist > 30) throw new DeflateCheckError("too many length or distance codes");
  const codeLengths = new Array(19).fill(0);
  for (let i = 0; i < ncode; i++) codeLengths[CODE_LENGTH_ORDER[i]!] = reader.bits(3);
  const lengthCode = huffman(codeLengths);
  const lengths: number[] = [];
  while (lengths.length < nlen + ndist) {
    const symbol = reader.decode(lengthCode);
    if (symbol < 16) {
      lengths.push(symbol);
    } else if (symbol === 16) {
      if (lengths.length === 0) throw new DeflateCheckError("repeat with no previous length");
      const previous = lengths[lengths.length - 1]!;
      for (let n = 3 + reader.bits(2); n > 0; n--) lengths.push(previous);
    } else if (symbol === 17) {
      for (let n = 3 + reader.bits(3); n > 0; n--) lengths.push(0);
    } else {
      for (let n = 11 + reader.bits(7); n > 0; n--) lengths.push(0);
    }
  }
  if (lengths.length > nlen + ndist) throw new DeflateCheckError("code lengths overflow");
  if (lengths[256] === 0) throw new DeflateCheckError("no end-of-block code");
  return [huffman(lengths.slice(0, nlen)), huffman(lengths.slice(nlen))];
}
