/**
 * wsport: WebSocket (RFC 6455, RFC 7692) for Node.js, Deno and Bun, on a
 * sans-IO core. This entry is the face for applications: the server, the
 * client, the browser's `WebSocket` and `WebSocketStream`, permessage-deflate
 * and the types they take. The protocol state machines themselves are in
 * `wsport/core`.
 *
 * @example An echo server and a client
 * ```ts
 * import { connect, serve } from "wsport";
 * const server = await serve({ port: 0, protocols: [{ name: "echo", message: (ws, m) => ws.send(m) }] });
 * const ws = await connect(`ws://127.0.0.1:${server.port}/`);
 * ws.send("hello");
 * for await (const message of ws) { console.log(message); break; }
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./src/core/errors.ts";
export { CloseCode } from "./src/core/close_code.ts";
export { WsReadyState } from "./src/core/protocol.ts";
export type { ClientExtensionFactory, Extension, ExtensionFrame, ServerExtensionFactory } from "./src/core/extensions/extension.ts";
export type { DeflateCodec } from "./src/core/extensions/deflate_codec.ts";
export { pakoCodec } from "./src/core/extensions/pako_codec.ts";
export { hybridCodec, type HybridCodecOptions } from "./src/core/extensions/hybrid_codec.ts";
export {
  perMessageDeflate,
  type PerMessageDeflateFactory,
  type PerMessageDeflateOptions,
} from "./src/core/extensions/permessage_deflate.ts";
export type { HandshakeRequest } from "./src/core/handshake.ts";

export {
  type BroadcastOptions,
  createServer,
  DEFAULT_HANDSHAKE_TIMEOUT,
  type PublishOptions,
  type Rejection,
  serve,
  type ServeOptions,
  Server,
  type ShutdownOptions,
  type Subprotocol,
} from "./src/services/server.ts";
export { connect, type ConnectOptions, DEFAULT_CLIENT_HANDSHAKE_TIMEOUT } from "./src/services/client.ts";
export {
  type ChunkInfo,
  type CloseInfo,
  type ConnectionPolicy,
  DEFAULT_POLICY,
  DEFAULT_TIMEOUT_CLOSE_CODE,
  type Handlers,
  type Message,
  type SendResult,
  WebSocketConnection,
} from "./src/services/connection.ts";
export { WebSocket, type WebSocketOptions } from "./src/services/websocket.ts";
export {
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamConnectOptions,
  type WebSocketStreamOptions,
} from "./src/services/websocket_stream.ts";
export { type WebSocketCloseInfo, WebSocketStreamError } from "./src/services/websocket_error.ts";
export {
  type ConnectionStreams,
  type StreamHandlerOptions,
  streamHandlers,
  type StreamMessage,
} from "./src/services/connection_streams.ts";
export { type BroadcastChannelLike, ChannelEngine } from "./src/services/pubsub/channel_engine.ts";
export {
  type Delivery,
  type HistoryEntry,
  type HistoryResult,
  type LocalRoute,
  type NodeInfo,
  type Publication,
  type PubSubEngine,
  PubSubError,
  type PubSubErrorCode,
  type PubSubKind,
  type PubSubNode,
} from "./src/services/pubsub/engine.ts";
export type { Recovery, SubscribeOptions } from "./src/services/pubsub/recovery.ts";
export type { TopicListener } from "./src/services/pubsub/fanout.ts";
export { compareStreamIds, isStreamId } from "./src/services/pubsub/stream_ids.ts";
export { type Clock, ManualClock, systemClock, type Timer } from "./src/services/clock.ts";
export type {
  ClientTlsOptions,
  ConnectOptions as TransportConnectOptions,
  Listener,
  ListenOptions,
  Network,
  PeerCertificate,
  PeerInfo,
  ServerTlsOptions,
  Transport,
  TransportEvents,
  VerifyClient,
} from "./src/transport/transport.ts";
export { setDefaultNetwork } from "./src/transport/default_network.ts";
export { type Http2StreamTransport, isHttp2Stream } from "./src/transport/http2.ts";

import { setDefaultNetwork } from "./src/transport/default_network.ts";
import type { Network } from "./src/transport/transport.ts";

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
