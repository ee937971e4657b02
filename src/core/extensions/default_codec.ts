/**
 * The DEFLATE codec permessage-deflate uses when none is given: the one
 * this runtime does best, by measurement (bench/codec.md). The runtime's
 * {@link Network} offers it as `deflateCodec`; servers and clients install
 * it when they start. Without one, pako (pure JS, synchronous) is used.
 *
 * @module
 */

import type { DeflateCodec } from "./deflate_codec.ts";
import { pakoCodec } from "./pako_codec.ts";

let preferred: DeflateCodec | undefined;

/**
 * Sets the codec used by `perMessageDeflate()` instances without a `codec` option.
 *
 * @param codec The codec, or undefined for pako.
 */
export function setDefaultDeflateCodec(codec: DeflateCodec | undefined): void {
  preferred = codec;
}

/** The codec used when `perMessageDeflate()` is given none. */
export function defaultDeflateCodec(): DeflateCodec {
  return preferred ?? pakoCodec;
}
