/**
 * The runtime's synchronous SHA-1 for the handshake's accept key:
 * `node:crypto`'s `createHash`, which Node, Deno and Bun all have. It is
 * handed to the core as `Network.sha1` (the core itself imports nothing
 * runtime-specific).
 *
 * @module
 */

import type { Network } from "./transport.ts";

/** A `createHash("sha1")` factory, as `node:crypto` has it. */
type CreateHash = (algorithm: string) => { update(data: Uint8Array): { digest(): Uint8Array } };

/**
 * Makes the SHA-1 of a network from `node:crypto`'s `createHash`.
 *
 * @param createHash The runtime's `createHash`.
 * @returns The digest function for `Network.sha1`.
 * @example
 * ```ts
 * import { createHash } from "node:crypto";
 * const sha1 = sha1From(createHash);
 * ```
 */
export function sha1From(createHash: CreateHash): NonNullable<Network["sha1"]> {
  return (data) => createHash("sha1").update(data).digest();
}
