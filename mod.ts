/**
 * wsport: a WebSocket library (RFC 6455) that runs unchanged on Node.js,
 * Deno and Bun, built on a sans-IO core.
 *
 * @example Drive a server connection without a socket
 * ```ts
 * import { ServerConnection } from "wsport";
 * const server = new ServerConnection();
 * const [request] = server.receiveData(requestBytes); // { type: "request", ... }
 * server.accept();
 * const events = server.receiveData(frameBytes);     // [{ type: "text", data: "Hello" }]
 * const out = server.dataToSend();                    // the 101 response, pongs, close replies...
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/close_code.ts";
export * from "./src/frame.ts";
export { applyMask, randomMaskKey } from "./src/mask.ts";
export { Utf8Validator, isValidUtf8 } from "./src/utf8.ts";
export type * from "./src/events.ts";
export {
  Connection,
  type ConnectionOptions,
  type CloseRecord,
  DEFAULT_MAX_MESSAGE_SIZE,
  type OutgoingData,
  ReadyState,
  SEND_EOF,
  type Side,
} from "./src/connection.ts";
export { ServerConnection, type ServerConnectionOptions, type ServerAcceptOptions } from "./src/server_connection.ts";
export * from "./src/extensions/extension.ts";
export { ExtensionPipeline } from "./src/extensions/pipeline.ts";
export { extensionOffer, negotiateAsClient, negotiateAsServer, type ServerNegotiation } from "./src/extensions/negotiate.ts";
export * from "./src/extensions/deflate_codec.ts";
export { pakoCodec } from "./src/extensions/pako_codec.ts";
export { defaultDeflateCodec, setDefaultDeflateCodec } from "./src/extensions/default_codec.ts";
export { ConcurrencyLimiter } from "./src/extensions/limiter.ts";
export * from "./src/extensions/permessage_deflate.ts";
export { ClientConnection, type ClientConnectionOptions } from "./src/client_connection.ts";
export * from "./src/handshake.ts";
export {
  DEFAULT_HEAD_LIMITS,
  HeaderMap,
  type HeadLimits,
  type HeadParseResult,
  type RequestHead,
  RequestHeadParser,
  type ResponseHead,
  ResponseHeadParser,
  writeRequestHead,
  writeResponseHead,
} from "./src/http_head.ts";
export {
  type ExtensionOffer,
  formatExtensions,
  hasToken,
  isToken,
  parseExtensions,
  parseTokenList,
} from "./src/header_tokens.ts";

// --- services: server, client, transports ---

export { type PublishOptions } from "./src/server.ts";
export { DEFAULT_TIMEOUT_CLOSE_CODE } from "./src/websocket_connection.ts";
export type { BroadcastChannelLike } from "./src/broadcast.ts";
export { serve, Server, type ServeOptions, type Protocol, type PeerInfo, type Rejection, type ShutdownOptions, DEFAULT_HANDSHAKE_TIMEOUT } from "./src/server.ts";
export { connect, type ConnectOptions, parseWebSocketUrl, DEFAULT_CLIENT_HANDSHAKE_TIMEOUT } from "./src/client.ts";
export {
  type ChunkInfo,
  type CloseInfo,
  type ConnectionPolicy,
  DEFAULT_POLICY,
  type Handlers,
  type Message,
  type SendResult,
  WebSocketConnection,
} from "./src/websocket_connection.ts";
export type {
  ClientTlsOptions,
  ConnectOptions as TransportConnectOptions,
  Listener,
  ListenOptions,
  Network,
  PeerCertificate,
  ServerTlsOptions,
  Transport,
  TransportEvents,
  VerifyClient,
} from "./src/transport.ts";
export { type Clock, ManualClock, systemClock, type Timer } from "./src/clock.ts";
export { setDefaultNetwork } from "./src/default_network.ts";

import { setDefaultNetwork } from "./src/default_network.ts";
import type { Network } from "./src/transport.ts";

/**
 * The network of the runtime this code runs on: `Deno.listen` on Deno,
 * `Bun.listen` on Bun, `node:net` elsewhere. Loaded on first use, so only
 * the adapter of the current runtime is ever imported.
 *
 * @returns The runtime's network.
 */
export async function runtimeNetwork(): Promise<Network> {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Bun !== undefined) return (await import("./adapters/bun.ts")).bunNetwork;
  if (g.Deno !== undefined) return (await import("./adapters/deno.ts")).denoNetwork;
  return (await import("./adapters/node.ts")).nodeNetwork;
}

setDefaultNetwork(runtimeNetwork);
export { createServer } from "./src/server.ts";
export { WebSocket, type WebSocketOptions } from "./src/websocket.ts";
