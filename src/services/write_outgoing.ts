/**
 * Hands what a sans-IO protocol queued to a transport.
 *
 * @module
 */

import { type OutgoingData, SEND_EOF } from "../core/protocol.ts";
import type { Transport } from "../transport/transport.ts";

/**
 * Writes what a sans-IO connection queued (from `dataToSend()`) to a
 * transport as one batch, and half-closes it if the batch ends with
 * {@link SEND_EOF}.
 *
 * @param items The queued output.
 * @param transport Where to write.
 * @returns True when the transport was half-closed.
 * @example
 * ```ts
 * import { WebSocketProtocol } from "../core/protocol.ts";
 * import type { Transport } from "../transport/transport.ts";
 *
 * declare const transport: Transport;
 * const protocol = new WebSocketProtocol("server");
 * protocol.send("hello");
 * const halfClosed = writeOutgoing(protocol.dataToSend(), transport); // false: no SEND_EOF in it
 * ```
 */
export function writeOutgoing(items: readonly OutgoingData[], transport: Transport): boolean {
  if (items.length === 0) return false;
  let eof = false;
  const chunks: Uint8Array[] = [];
  for (const item of items) {
    if (item === SEND_EOF) eof = true;
    else chunks.push(item);
  }
  if (chunks.length > 0) transport.write(chunks);
  if (eof) transport.end();
  return eof;
}
