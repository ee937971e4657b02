/**
 * `wsport/redis`: broadcast and topics across processes and machines on
 * Redis, with history for recovery and presence. The Redis client is an
 * optional peer dependency, loaded only here: `@redis/client` (node-redis,
 * the default) or `ioredis`, both on Node, Deno (with `--allow-env`) and Bun.
 *
 * ```ts
 * import { serve } from "wsport";
 * import { redisEngine } from "wsport/redis";
 *
 * const pubsub = await redisEngine({ url: "redis://127.0.0.1:6379", history: { maxLength: 1000 } });
 * const server = await serve({ port: 9001, pubsub, protocols: [{ name: "chat", open: (ws) => ws.subscribe("room") }] });
 * ```
 *
 * @module
 */

import { RedisEngine, type RedisEngineOptions } from "../src/services/pubsub/redis/redis_engine.ts";
import type { RedisLink } from "../src/services/pubsub/redis/link.ts";
import { type IoRedisClient, ioredisLink, type NodeRedisClient, nodeRedisLink } from "./redis_clients.ts";

export { RedisEngine, type RedisEngineOptions, type RedisEngineStats } from "../src/services/pubsub/redis/redis_engine.ts";
export { DEFAULT_HISTORY_LENGTH, type HistoryOptions, stampMessage } from "../src/services/pubsub/redis/history.ts";
export { DEFAULT_HEARTBEAT_INTERVAL, type PresenceOptions } from "../src/services/pubsub/redis/presence.ts";
export type { RedisArgument, RedisLink, RedisLinkEvents, RedisReply } from "../src/services/pubsub/redis/link.ts";
export { decodeWire, encodeWire, joinWire, WIRE_VERSION, type WireMessage, type WireParts } from "../src/services/pubsub/wire.ts";
export { type IoRedisClient, ioredisLink, type NodeRedisClient, nodeRedisLink } from "./redis_clients.ts";

/** Options of {@link redisEngine}: where Redis is, and the engine's options. */
export interface RedisConnectOptions extends RedisEngineOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://...` (TLS).
   * A node-redis client is made from it. Give `url` or `client`.
   */
  url?: string;
  /** Options for the node-redis client made from `url` (e.g. `socket: { tls, ca, reconnectStrategy }`). */
  clientOptions?: Record<string, unknown>;
  /**
   * Your own client: a node-redis client (`createClient(...)`), an
   * `ioredis` client, or a {@link RedisLink}. Its options are copied into
   * two connections of the engine's own; the client itself is not used,
   * nor closed.
   */
  client?: NodeRedisClient | IoRedisClient | RedisLink;
}

/**
 * Connects to Redis and makes the engine for `serve({ pubsub })`.
 *
 * @param options `url` or `client`, and the engine's options (prefix, sharded, history, presence, onError).
 * @returns The engine, connected.
 * @throws When Redis cannot be reached (the client's error), or neither `url` nor `client` is given.
 * @example
 * ```ts
 * import { serve } from "wsport";
 * import { redisEngine } from "wsport/redis";
 *
 * const pubsub = await redisEngine({ url: "redis://127.0.0.1:6379", history: true });
 * const server = await serve({ pubsub, protocols: [{ name: "chat", open: (ws) => ws.subscribe("room") }] });
 * server.publish("room", "hello"); // every subscriber on every server
 * await pubsub.subscriberCount("room"); // across servers
 * ```
 */
export async function redisEngine(options: RedisConnectOptions): Promise<RedisEngine> {
  const { url, client, clientOptions, ...engineOptions } = options;
  return new RedisEngine(await linkOf(url, client, clientOptions), engineOptions);
}

async function linkOf(url: string | undefined, client: RedisConnectOptions["client"], clientOptions: Record<string, unknown> | undefined): Promise<RedisLink> {
  if (client !== undefined) {
    if ("barrier" in client && "listen" in client) return client;
    if ("sSubscribe" in client && "sendCommand" in client) return await nodeRedisLink(client);
    if ("callBuffer" in client && "ssubscribe" in client) return await ioredisLink(client);
    throw new TypeError("client is neither a node-redis client, an ioredis client nor a RedisLink");
  }
  if (url === undefined) throw new TypeError("redisEngine needs a url or a client");
  const { createClient } = await import("@redis/client");
  return await nodeRedisLink(createClient({ url, ...clientOptions }) as unknown as NodeRedisClient);
}
