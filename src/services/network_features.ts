/**
 * What a network offers the core beyond sockets, installed when a server
 * listens or a client connects: the permessage-deflate codec the runtime
 * runs best, a native masking routine, a native SHA-1 and an allocator
 * that skips zero-filling.
 *
 * @module
 */

import { setDefaultDeflateCodec } from "../core/extensions/default_codec.ts";
import { useNativeMask } from "../core/mask.ts";
import { useUninitializedAllocation } from "../core/message_reader.ts";
import { useNativeSha1 } from "../core/sha1.ts";
import type { Network } from "../transport/transport.ts";

/**
 * Installs a network's codec, native mask, SHA-1 and allocator in the core (process-wide).
 *
 * @param network The network about to be used.
 * @example
 * ```ts
 * import { nodeNetwork } from "wsport/node";
 *
 * await useNetworkFeatures(nodeNetwork);
 * ```
 */
export async function useNetworkFeatures(network: Network): Promise<void> {
  if (network.deflateCodec) setDefaultDeflateCodec(network.deflateCodec);
  if (network.sha1) useNativeSha1(network.sha1);
  if (network.allocateUninitialized) useUninitializedAllocation(network.allocateUninitialized);
  const native = await network.nativeMask?.();
  if (native) useNativeMask(native.mask, native.minLength);
}
