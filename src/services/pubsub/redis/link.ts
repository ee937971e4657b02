/**
 * What the Redis engine needs from a Redis client library: two
 * connections, one for commands and one in subscriber mode, each
 * reconnecting by itself. `wsport/redis` implements it for `@redis/client`
 * (node-redis) and `ioredis`; anything else can be adapted in a few lines.
 * The engine itself is written against this interface only, with bytes as
 * `Uint8Array`, so it runs the same on every runtime.
 *
 * @module
 */

/** A command argument: text or bytes. */
export type RedisArgument = string | Uint8Array;

/** A reply: bulk strings as bytes, simple strings as text, integers, nil, arrays. */
export type RedisReply = null | number | string | Uint8Array | RedisReply[];

/** What a {@link RedisLink} tells the engine. */
export interface RedisLinkEvents {
  /** A message on a subscribed channel (plain or sharded). */
  message(channel: string, payload: Uint8Array): void;
  /**
   * A connection is ready: first at connect, then after every
   * reconnection; on the subscriber connection, once its subscriptions
   * have been sent again.
   */
  ready(connection: "commands" | "subscriber", reconnected: boolean): void;
  /** A connection was lost (it reconnects by itself). */
  down(connection: "commands" | "subscriber", error: Error): void;
}

/** Two connections to one Redis, as the engine uses them. */
export interface RedisLink {
  /**
   * Runs a command on the command connection. Never queued while
   * disconnected: it rejects at once (the engine reports the failure
   * rather than let a backlog grow).
   */
  command(args: readonly RedisArgument[]): Promise<RedisReply>;
  /** Subscribes the subscriber connection to channels (SSUBSCRIBE when sharded); kept across reconnections. */
  subscribe(channels: readonly string[], sharded: boolean): Promise<void>;
  /** Unsubscribes. */
  unsubscribe(channels: readonly string[], sharded: boolean): Promise<void>;
  /**
   * A round trip on the subscriber connection (PING): once it resolves,
   * every message published before it was sent has been received.
   */
  barrier(): Promise<void>;
  /** Starts delivering events (called once, before anything else). */
  listen(events: RedisLinkEvents): void;
  /** Whether each connection is ready now. */
  readonly ready: { commands: boolean; subscriber: boolean };
  /** Closes both connections (those the link opened; a client you passed in is left to you, its duplicate is closed). */
  close(): Promise<void>;
}

/**
 * Reads a reply as text (bulk strings are bytes).
 *
 * @param reply A reply.
 * @returns Its text, or undefined when it is not a string.
 */
export function replyText(reply: RedisReply | undefined): string | undefined {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return textDecoder.decode(reply);
  return undefined;
}

/**
 * Reads a reply as bytes.
 *
 * @param reply A reply.
 * @returns Its bytes, or undefined when it is not a string.
 */
export function replyBytes(reply: RedisReply | undefined): Uint8Array | undefined {
  if (reply instanceof Uint8Array) return reply;
  if (typeof reply === "string") return new TextEncoder().encode(reply);
  return undefined;
}

const textDecoder = new TextDecoder();
