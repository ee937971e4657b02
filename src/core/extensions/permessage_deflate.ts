/**
 * permessage-deflate (RFC 7692): negotiation for both sides and the
 * extension that compresses messages with DEFLATE.
 *
 * Messages are compressed whole or not at all: RSV1 on a message's first
 * frame marks it compressed. Each compressed message ends with a sync
 * flush whose `00 00 ff ff` tail is cut before sending and put back before
 * inflating (section 7.2.1). Compression contexts are created when first
 * needed; the compressor is dropped when the connection is idle (a new one
 * is always valid: only the receiver's window must persist).
 *
 * @module
 */

import { concat } from "../bytes.ts";
import { ExtensionNegotiationError, InvalidFrameError } from "../errors.ts";
import { Opcode } from "../frame.ts";
import type { Compressor, CompressorSettings, DeflateCodec, Decompressor } from "./deflate_codec.ts";
import { SYNC_FLUSH_TAIL } from "./deflate_codec.ts";
import {
  checkWindowBits,
  type DeflateParams,
  formatDeflateParams,
  MAX_WINDOW_BITS,
  parseDeflateParams,
} from "./deflate_params.ts";
import type {
  ClientExtensionFactory,
  Extension,
  ExtensionFrame,
  ExtensionParams,
  MaybePromise,
  ServerExtensionFactory,
} from "./extension.ts";
import { RSV1 } from "./extension.ts";
import { defaultDeflateCodec } from "./default_codec.ts";
import { after } from "./pipeline.ts";

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** The four negotiated parameters, as options (see RFC 7692 section 7.1). */
export interface DeflateNegotiationOptions {
  /**
   * Server: never use context takeover when sending (always announced).
   * Client: ask the server not to (offer `server_no_context_takeover`).
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: require the client not to use context takeover, so the server
   * keeps no inflate window between messages. Client: do not use it.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: the largest window the server compresses with (announced when
   * below 15 or asked for). Client: ask the server for at most this window.
   */
  serverMaxWindowBits?: number;
  /**
   * Server: the largest window to ask of clients that offered
   * `client_max_window_bits`. Client: the window it will compress with at
   * most; `true` offers the parameter without a value (what browsers send),
   * which lets the server choose. Default `true` on the client.
   */
  clientMaxWindowBits?: number | true;
}

/** Options of {@link perMessageDeflate}, with the defaults `ws` users know. */
export interface PerMessageDeflateOptions extends DeflateNegotiationOptions {
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024 (as `ws`). */
  threshold?: number;
  /** Compression level, 0–9. Default {@link DEFAULT_DEFLATE_LEVEL}. */
  level?: number;
  /** zlib memLevel, 1–9: memory for the match finder. Default {@link DEFAULT_DEFLATE_MEM_LEVEL}. */
  memLevel?: number;
  /**
   * The DEFLATE implementation. Default: the runtime's best by measurement
   * (node:zlib on Deno and Bun, pako on Node; see `defaultDeflateCodec`).
   */
  codec?: DeflateCodec;
  /**
   * Client: several offers in order of preference, each with its own
   * parameters, the server picking the first it accepts (e.g. a small
   * window first, then no constraint). Default: one offer from the options.
   */
  offers?: DeflateNegotiationOptions[];
}

/** Default threshold, as `ws`. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;
/** Default level: zlib's default trade-off. */
export const DEFAULT_DEFLATE_LEVEL = 6;
/**
 * Default memLevel: 5, as python-websockets. With window 12 it halves the
 * memory of a context against zlib's 15/8 (bench/codec.md: 132 against
 * 254 KiB RSS per compressor+decompressor pair with node:zlib on Node,
 * 171 against 362 KiB with pako) for a few percent of ratio.
 */
export const DEFAULT_DEFLATE_MEM_LEVEL = 5;
/**
 * Server default for both windows: 12 bits (4 KiB). The server announces
 * `server_max_window_bits=12` and asks clients that offered
 * `client_max_window_bits` for 12 too, so both ends keep 4 KiB windows
 * instead of 32 KiB. Set `serverMaxWindowBits`/`clientMaxWindowBits` to 15
 * for zlib's defaults.
 */
export const DEFAULT_SERVER_WINDOW_BITS = 12;

/** What one connection settled, from this side's point of view. */
interface Agreement {
  /** The window the peer compresses with at most: our inflate window. */
  inflateWindowBits: number;
  /** The window we may compress with. */
  deflateWindowBits: number;
  /** We reset our compressor after each message. */
  localNoContextTakeover: boolean;
  /** The peer resets its compressor after each message, so our window need not persist. */
  remoteNoContextTakeover: boolean;
}

/**
 * permessage-deflate, for one side of either role: pass it in `extensions`
 * to `serve()` or `connect()`.
 *
 * @param options Negotiation preferences, threshold, level, memory and codec.
 * @returns A factory for both roles.
 * @example
 * ```ts
 * import { connect, perMessageDeflate, serve } from "wsport";
 *
 * const server = await serve({ port: 8080, extensions: [perMessageDeflate({ threshold: 256 })], protocols: [{ name: "chat" }] });
 * const ws = await connect("ws://127.0.0.1:8080", { extensions: [perMessageDeflate()] });
 * ```
 */
export function perMessageDeflate(options: PerMessageDeflateOptions = {}): PerMessageDeflateFactory {
  return new PerMessageDeflateFactory(options);
}

/** The factory {@link perMessageDeflate} returns: a {@link ServerExtensionFactory} and a {@link ClientExtensionFactory}. */
export class PerMessageDeflateFactory implements ServerExtensionFactory, ClientExtensionFactory {
  readonly name = PERMESSAGE_DEFLATE;
  readonly #options: PerMessageDeflateOptions;
  readonly #codec: DeflateCodec | undefined;
  readonly #level: number;
  readonly #memLevel: number;
  readonly #threshold: number;

  constructor(options: PerMessageDeflateOptions = {}) {
    for (const negotiation of [options, ...(options.offers ?? [])]) {
      checkWindowBits(negotiation.serverMaxWindowBits, "serverMaxWindowBits");
      if (negotiation.clientMaxWindowBits !== true) checkWindowBits(negotiation.clientMaxWindowBits, "clientMaxWindowBits");
    }
    this.#options = options;
    this.#codec = options.codec;
    this.#level = options.level ?? DEFAULT_DEFLATE_LEVEL;
    this.#memLevel = options.memLevel ?? DEFAULT_DEFLATE_MEM_LEVEL;
    this.#threshold = options.threshold ?? DEFAULT_DEFLATE_THRESHOLD;
    if (!(Number.isInteger(this.#level) && this.#level >= 0 && this.#level <= 9)) throw new RangeError("level must be 0-9");
    if (!(Number.isInteger(this.#memLevel) && this.#memLevel >= 1 && this.#memLevel <= 9)) throw new RangeError("memLevel must be 1-9");
  }

  // --- server ---

  /**
   * Server side: accepts a valid offer, answering the parameters the
   * offer asks for (section 7.1). An invalid offer is declined, so the
   * client's next offer, if any, is tried.
   */
  negotiate(params: ExtensionParams): [ExtensionParams, Extension] | undefined {
    const offer = parseDeflateParams(params, "offer");
    if (typeof offer === "string") return undefined;
    const own = this.#options;
    const response: DeflateParams = {
      // 7.1.1.1: an offer with server_no_context_takeover must be answered with it.
      serverNoContextTakeover: offer.serverNoContextTakeover || own.serverNoContextTakeover === true,
      clientNoContextTakeover: offer.clientNoContextTakeover || own.clientNoContextTakeover === true,
      serverMaxWindowBits: undefined,
      clientMaxWindowBits: undefined,
    };
    // 7.1.2.1: answer server_max_window_bits with the same or a smaller value.
    const serverBits = Math.min(offer.serverMaxWindowBits ?? MAX_WINDOW_BITS, own.serverMaxWindowBits ?? DEFAULT_SERVER_WINDOW_BITS);
    if (offer.serverMaxWindowBits !== undefined || serverBits < MAX_WINDOW_BITS) response.serverMaxWindowBits = serverBits;
    // 7.1.2.2: client_max_window_bits may only be answered when offered, with a value no larger than the offer's.
    let clientBits = MAX_WINDOW_BITS;
    if (offer.clientMaxWindowBits !== undefined) {
      const offered = offer.clientMaxWindowBits === true ? MAX_WINDOW_BITS : offer.clientMaxWindowBits;
      const wanted = typeof own.clientMaxWindowBits === "number"
        ? own.clientMaxWindowBits
        : own.clientMaxWindowBits === true ? MAX_WINDOW_BITS : DEFAULT_SERVER_WINDOW_BITS;
      clientBits = Math.min(offered, wanted);
      if (clientBits < MAX_WINDOW_BITS) response.clientMaxWindowBits = clientBits;
    }
    const extension = this.#extension({
      inflateWindowBits: clientBits,
      deflateWindowBits: serverBits,
      localNoContextTakeover: response.serverNoContextTakeover,
      remoteNoContextTakeover: response.clientNoContextTakeover,
    });
    return [formatDeflateParams(response), extension];
  }

  // --- client ---

  /** Client side: the offers, in order of preference. */
  offers(): ExtensionParams[] {
    const list = this.#options.offers ?? [this.#options];
    return list.map((o) =>
      formatDeflateParams({
        serverNoContextTakeover: o.serverNoContextTakeover === true,
        clientNoContextTakeover: o.clientNoContextTakeover === true,
        serverMaxWindowBits: o.serverMaxWindowBits,
        clientMaxWindowBits: o.clientMaxWindowBits ?? true,
      })
    );
  }

  /**
   * Client side: checks the server's answer against each offer in turn.
   *
   * @throws ExtensionNegotiationError when no offer admits the answer.
   */
  accept(params: ExtensionParams): Extension {
    const response = parseDeflateParams(params, "response");
    if (typeof response === "string") throw new ExtensionNegotiationError(`permessage-deflate response: ${response}`);
    let problem = "";
    for (const offer of this.#options.offers ?? [this.#options]) {
      const agreement = clientAgreement(offer, response);
      if (typeof agreement !== "string") return this.#extension(agreement);
      problem ||= agreement;
    }
    throw new ExtensionNegotiationError(`permessage-deflate response: ${problem}`);
  }

  #extension(agreement: Agreement): Extension {
    return new PerMessageDeflate(this.#codec ?? defaultDeflateCodec(), agreement, {
      level: this.#level,
      memLevel: this.#memLevel,
      windowBits: agreement.deflateWindowBits,
    }, this.#threshold);
  }
}

/** Whether a response is valid for one client offer (RFC 7692 7.1), and what it settles. */
function clientAgreement(offer: DeflateNegotiationOptions, response: DeflateParams): Agreement | string {
  if (offer.serverNoContextTakeover && !response.serverNoContextTakeover) {
    return "server_no_context_takeover was offered but not answered";
  }
  if (offer.serverMaxWindowBits !== undefined) {
    if (response.serverMaxWindowBits === undefined) return "server_max_window_bits was offered but not answered";
    if (response.serverMaxWindowBits > offer.serverMaxWindowBits) return "server_max_window_bits is larger than offered";
  }
  const offeredClientBits = offer.clientMaxWindowBits ?? true;
  let deflateWindowBits = typeof offeredClientBits === "number" ? offeredClientBits : MAX_WINDOW_BITS;
  if (response.clientMaxWindowBits !== undefined) {
    if (response.clientMaxWindowBits === true || response.clientMaxWindowBits > deflateWindowBits) {
      return "client_max_window_bits is larger than offered";
    }
    deflateWindowBits = response.clientMaxWindowBits;
  }
  return {
    inflateWindowBits: response.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    deflateWindowBits,
    localNoContextTakeover: response.clientNoContextTakeover || offer.clientNoContextTakeover === true,
    remoteNoContextTakeover: response.serverNoContextTakeover,
  };
}


/** One connection's permessage-deflate. */
class PerMessageDeflate implements Extension {
  readonly name = PERMESSAGE_DEFLATE;
  readonly rsvBits = RSV1;
  readonly #codec: DeflateCodec;
  readonly #agreement: Agreement;
  readonly #settings: CompressorSettings;
  readonly #threshold: number;
  #compressor: Compressor | undefined;
  #decompressor: Decompressor | undefined;
  #receivingCompressed = false;
  #sendingCompressed = false;
  #receivingMessage = false;
  #sendingMessage = false;
  #closed = false;

  constructor(codec: DeflateCodec, agreement: Agreement, settings: CompressorSettings, threshold: number) {
    this.#codec = codec;
    this.#agreement = agreement;
    this.#settings = settings;
    this.#threshold = threshold;
  }

  decode(frame: ExtensionFrame, maxSize: number): MaybePromise<ExtensionFrame> {
    const compressedBit = frame.rsv & RSV1;
    if (frame.opcode === Opcode.Continuation) {
      // RFC 7692 6.1: RSV1 is set on the first frame of a compressed message only.
      if (compressedBit) throw new InvalidFrameError("RSV1 set on a continuation frame", "WS_ERR_UNEXPECTED_RSV");
    } else {
      this.#receivingCompressed = compressedBit !== 0;
    }
    this.#receivingMessage = !frame.fin;
    if (!this.#receivingCompressed) return frame;
    const decompressor = this.#decompressor ??= this.#codec.decompressor(this.#agreement.inflateWindowBits);
    // 7.2.2: append the sync flush tail the sender removed.
    const input = frame.fin ? concat([frame.data, SYNC_FLUSH_TAIL]) : frame.data;
    const inflated = decompressor.decompress(input, maxSize, frame.fin);
    // Released now, not when the output is ready: an asynchronous codec runs its operations in
    // call order, and the next message may already be queued behind this one.
    if (frame.fin && this.#agreement.remoteNoContextTakeover) this.#releaseDecompressor();
    return after(inflated, (data) => ({ opcode: frame.opcode, fin: frame.fin, rsv: frame.rsv & ~RSV1, data }));
  }

  encode(frame: ExtensionFrame): MaybePromise<ExtensionFrame> {
    if (frame.opcode !== Opcode.Continuation) {
      // A fragmented message's size is unknown at its first frame: compress it.
      this.#sendingCompressed = !frame.fin || frame.data.length >= this.#threshold;
    }
    this.#sendingMessage = !frame.fin;
    if (!this.#sendingCompressed) return frame;
    const compressor = this.#compressor ??= this.#codec.compressor(this.#settings);
    const first = frame.opcode !== Opcode.Continuation;
    const deflated = compressor.compress(frame.data);
    // Released now, not when the output is ready: the next message may already be queued behind this one.
    if (frame.fin && this.#agreement.localNoContextTakeover) this.#releaseCompressor();
    return after(deflated, (compressed) => {
      let data = compressed;
      if (frame.fin) {
        // 7.2.1: remove the tail of the sync flush that ends the message.
        if (endsWithTail(data)) data = data.subarray(0, data.length - 4);
        // zlib emits nothing for an empty message after a flush; 7.2.3.6: send the empty block's header byte.
        if (data.length === 0) data = EMPTY_BLOCK;
      }
      return { opcode: frame.opcode, fin: frame.fin, rsv: frame.rsv | (first ? RSV1 : 0), data };
    });
  }

  idle(): void {
    // A fresh compressor is always valid: back-references are the sender's choice.
    if (!this.#sendingMessage) this.#dropCompressor();
    // The inflate window must persist only while the peer may refer back into it.
    if (!this.#receivingMessage && this.#agreement.remoteNoContextTakeover) {
      this.#decompressor?.close();
      this.#decompressor = undefined;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropCompressor();
    this.#decompressor?.close();
    this.#decompressor = undefined;
  }

  #releaseCompressor(): void {
    const compressor = this.#compressor;
    if (compressor?.reset) compressor.reset();
    else this.#dropCompressor();
  }

  #releaseDecompressor(): void {
    const decompressor = this.#decompressor;
    if (decompressor?.reset) decompressor.reset();
    else {
      decompressor?.close();
      this.#decompressor = undefined;
    }
  }

  #dropCompressor(): void {
    this.#compressor?.close();
    this.#compressor = undefined;
  }
}

const EMPTY_BLOCK = new Uint8Array([0x00]);

function endsWithTail(data: Uint8Array): boolean {
  const n = data.length;
  return n >= 4 && data[n - 4] === 0 && data[n - 3] === 0 && data[n - 2] === 0xff && data[n - 1] === 0xff;
}
