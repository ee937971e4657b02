/**
 * Which {@link Network} `serve()`, `connect()` and `WebSocket` use when no
 * `network` option is given. The entry points (`mod.ts` and each adapter's
 * module) register a provider; the services only ask for it, so src/ never
 * imports a runtime adapter.
 *
 * @module
 */

import type { Network } from "./transport.ts";

let provider: (() => Promise<Network>) | undefined;

/**
 * Sets the provider of the default network.
 *
 * @param next A function resolving to the network to use.
 * @example
 * ```ts
 * import { setDefaultNetwork } from "wsport";
 * import { MemoryNetwork } from "wsport/memory";
 *
 * const memory = new MemoryNetwork();
 * setDefaultNetwork(() => Promise.resolve(memory)); // serve(), connect() and WebSocket now use it
 * ```
 */
export function setDefaultNetwork(next: () => Promise<Network>): void {
  provider = next;
}

/**
 * Resolves the default network.
 *
 * @returns The registered network.
 * @example
 * ```ts
 * const network = await defaultNetwork();
 * ```
 */
export function defaultNetwork(): Promise<Network> {
  if (provider === undefined) {
    return Promise.reject(new TypeError("no network adapter registered: import wsport (mod.ts) or an adapter module, or pass `network`"));
  }
  return provider();
}
