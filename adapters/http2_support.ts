/**
 * The HTTP/2 capability of the Node, Deno and Bun networks: all three run
 * wsport's HTTP/2 on their `node:http2` and `node:tls` (adapters/node_http2.ts),
 * loaded on first use so that an application without HTTP/2 never loads it.
 *
 * @module
 */

import type { Network } from "../src/transport/transport.ts";

/** `listenHttp2` and `openHttp2Stream`, for a network object to spread in. */
export const nodeHttp2Support: Required<Pick<Network, "listenHttp2" | "openHttp2Stream">> = {
  listenHttp2: async (options, accept) => (await import("./node_http2.ts")).listenHttp2(options, accept),
  openHttp2Stream: async (options) => (await import("./node_http2.ts")).openHttp2Stream(options),
};
