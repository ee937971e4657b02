/**
 * Native masking for the adapters: bufferutil's `mask`, where the
 * application installed the package (an optional peer dependency, as for
 * ws). It loads on Node, Deno and Bun alike; each adapter says from which
 * payload size it beats that runtime's JIT.
 *
 * @module
 */

import type { NativeMask } from "../core/mask.ts";

/** A native masking routine and the payload size from which to use it. */
export interface NativeMaskOption {
  mask: NativeMask;
  minLength: number;
}

// A variable specifier: bundlers leave the optional package alone, and nothing fails where it is absent.
const BUFFERUTIL = "bufferutil";
let loading: Promise<NativeMask | undefined> | undefined;

/**
 * Loads bufferutil's `mask` once per process.
 *
 * @param minLength Payloads from this size go through it.
 * @returns The routine, or undefined when bufferutil is not installed or cannot load here.
 * @example
 * ```ts
 * const native = await loadBufferutil(512);
 * ```
 */
export async function loadBufferutil(minLength: number): Promise<NativeMaskOption | undefined> {
  loading ??= import(BUFFERUTIL).then(
    (module: { mask?: unknown; default?: { mask?: unknown } }) => {
      const mask = module.mask ?? module.default?.mask;
      return typeof mask === "function" ? (mask as NativeMask) : undefined;
    },
    () => undefined,
  );
  const mask = await loading;
  return mask === undefined ? undefined : { mask, minLength };
}
