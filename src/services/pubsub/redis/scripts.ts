/**
 * The Lua scripts the Redis engine runs, and the names of its keys and
 * channels. Scripts make two things atomic: a publication with history
 * (the stream entry and the channel message get the same id, in the same
 * order for every reader), and presence (liveness judged on Redis's own
 * clock, so nodes on machines with skewed clocks agree).
 *
 * @module
 */

import type { PubSubKind } from "../engine.ts";
import type { RedisArgument, RedisLink, RedisReply } from "./link.ts";

/**
 * Appends to the topic's stream, then publishes the envelope with the
 * stream id inserted between the head and the body (see `wire.ts`). The
 * stream keeps the envelope without the id (its entry id is the id).
 * KEYS: stream. ARGV: channel, head, body, maxlen, "1" when sharded, expiry in ms ("0": none).
 */
export const PUBLISH_WITH_HISTORY = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'm', ARGV[2] .. '\\0' .. ARGV[3])
if ARGV[6] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
redis.call(ARGV[5] == '1' and 'SPUBLISH' or 'PUBLISH', ARGV[1], ARGV[2] .. string.char(#id) .. id .. ARGV[3])
return id`;

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * A node's heartbeat: its expiry in the node set (score: Redis time + ttl),
 * its info and counts kept alive as long, and the expired nodes removed.
 * KEYS: node set, node info, node counts. ARGV: node id, ttl in ms, info (JSON).
 */
export const HEARTBEAT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return now`;

/**
 * The live nodes and their info, as a flat list id, info, id, info...
 * KEYS: node set. ARGV: prefix of the info keys.
 */
export const LIVE_NODES = `${NOW}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local out = {}
for _, id in ipairs(live) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('GET', ARGV[1] .. id) or ''
end
return out`;

/**
 * A topic's subscribers on every live node.
 * KEYS: node set. ARGV: prefix of the count keys, topic.
 */
export const SUBSCRIBER_COUNT = `${NOW}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local sum = 0
for _, id in ipairs(live) do
  local n = redis.call('HGET', ARGV[1] .. id, ARGV[2])
  if n then sum = sum + tonumber(n) end
end
return sum`;

/**
 * Runs a script (EVAL: Redis caches it by its hash, and a restarted Redis
 * needs nothing loaded first, so no NOSCRIPT retry can reorder publications).
 *
 * @param link The connection.
 * @param script The Lua source.
 * @param keys Its keys.
 * @param args Its arguments.
 * @returns The script's reply.
 */
export function runScript(link: RedisLink, script: string, keys: readonly string[], args: readonly RedisArgument[]): Promise<RedisReply> {
  return link.command(["EVAL", script, String(keys.length), ...keys, ...args]);
}

/** The names of one deployment's channels and keys (all under one prefix). */
export class RedisNames {
  readonly #prefix: string;

  /**
   * @param prefix What every key and channel starts with (several deployments can share a Redis).
   */
  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /**
   * The channel of a protocol (broadcast) or topic (publish). The target is
   * in a hash tag, so that in Redis Cluster a topic's channel and its stream
   * live on the same shard.
   *
   * @param kind Broadcast or publish.
   * @param target The protocol or topic.
   * @returns The channel name.
   */
  channel(kind: PubSubKind, target: string): string {
    return `${this.#prefix}:${kind === "broadcast" ? "b" : "t"}:{${target}}`;
  }

  /**
   * The stream that keeps a topic's history.
   *
   * @param topic The topic.
   * @returns The key.
   */
  stream(topic: string): string {
    return `${this.#prefix}:h:{${topic}}`;
  }

  /** The sorted set of nodes by expiry (presence keys share one hash tag, for scripts in Redis Cluster). */
  get nodes(): string {
    return `${this.#prefix}:{presence}:nodes`;
  }

  /** The prefix of the node info keys (then the node id). */
  get infoPrefix(): string {
    return `${this.#prefix}:{presence}:node:`;
  }

  /** The prefix of the per-node subscriber counts hashes (then the node id). */
  get countsPrefix(): string {
    return `${this.#prefix}:{presence}:counts:`;
  }
}
