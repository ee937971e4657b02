/**
 * {@link RedisLink}s over the two Redis clients that work on Node, Deno and
 * Bun alike: `@redis/client` (node-redis; the default, chosen by
 * measurement: `bench/redis_clients.md`) and `ioredis`. Each link opens
 * two connections of its own (duplicates of a client you pass, which is
 * left untouched): one for commands, with no offline queue (a publication
 * while Redis is unreachable fails at once instead of piling up), and one
 * for subscriptions, which the client restores after a reconnection.
 *
 * This is runtime glue (it hands bytes to the clients as `Buffer`s, which
 * they need for binary arguments), so it lives with the adapters; the
 * engine in `src/services/pubsub/redis/` only sees `Uint8Array`s.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { RedisArgument, RedisLink, RedisLinkEvents, RedisReply } from "../src/services/pubsub/redis/link.ts";

type Listener = (...args: any[]) => void;

/** The members of a node-redis (`@redis/client` 5 or 6) client the link uses. */
export interface NodeRedisClient {
  duplicate(overrides?: Record<string, unknown>): NodeRedisClient;
  connect(): Promise<unknown>;
  readonly isReady: boolean;
  sendCommand(args: readonly (string | Buffer)[], options?: Record<string, unknown>): Promise<unknown>;
  subscribe(channels: string[], listener: Listener, bufferMode: true): Promise<unknown>;
  unsubscribe(channels: string[], listener: Listener, bufferMode: true): Promise<unknown>;
  sSubscribe(channels: string[], listener: Listener, bufferMode: true): Promise<unknown>;
  sUnsubscribe(channels: string[], listener: Listener, bufferMode: true): Promise<unknown>;
  on(event: string, listener: Listener): unknown;
  destroy?(): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

/** The members of an `ioredis` client the link uses. */
export interface IoRedisClient {
  duplicate(overrides?: Record<string, unknown>): IoRedisClient;
  connect(): Promise<unknown>;
  readonly status: string;
  callBuffer(command: string, ...args: (string | Buffer)[]): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  ssubscribe(...channels: string[]): Promise<unknown>;
  sunsubscribe(...channels: string[]): Promise<unknown>;
  ping(): Promise<unknown>;
  on(event: string, listener: Listener): unknown;
  disconnect(): void;
  quit(): Promise<unknown>;
}

function toBuffer(arg: RedisArgument): string | Buffer {
  return typeof arg === "string" ? arg : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
}

const decoder = new TextDecoder();
const channelName = (channel: unknown): string => (typeof channel === "string" ? channel : decoder.decode(channel as Uint8Array));

/** Follows a connection's ready / lost transitions, so the engine hears each once. */
class ConnectionWatch {
  #seenReady = false;
  #down = false;
  constructor(readonly name: "commands" | "subscriber", readonly events: () => RedisLinkEvents | undefined) {}
  ready(): void {
    const reconnected = this.#seenReady;
    this.#seenReady = true;
    this.#down = false;
    this.events()?.ready(this.name, reconnected);
  }
  lost(error: unknown): void {
    if (this.#down || !this.#seenReady) return;
    this.#down = true;
    this.events()?.down(this.name, error instanceof Error ? error : new Error(String(error)));
  }
}

/** Watches both connections; `listen` starts telling the engine (both are ready then: connect() resolved). */
function watchBoth(commands: { on(event: string, listener: Listener): unknown }, subscriber: typeof commands, closed: string) {
  const state: { events: RedisLinkEvents | undefined; listen(events: RedisLinkEvents): void } = {
    events: undefined,
    listen(events) {
      state.events = events;
      for (const watch of watches) watch.ready();
    },
  };
  const watches = [new ConnectionWatch("commands", () => state.events), new ConnectionWatch("subscriber", () => state.events)] as const;
  [commands, subscriber].forEach((client, i) => {
    client.on("ready", () => watches[i]!.ready());
    client.on("error", (error: unknown) => watches[i]!.lost(error));
    client.on(closed, () => watches[i]!.lost(new Error("connection closed")));
  });
  return state;
}

/**
 * Connects both clients; the first error before both are ready (refused,
 * wrong password, TLS failure...) rejects, and both are dropped, rather than
 * letting the clients retry forever before anything was ever connected.
 */
async function connectOrFail<C extends { on(event: string, listener: Listener): unknown }>(
  clients: C[],
  connect: (client: C) => Promise<unknown>,
  drop: (client: C) => unknown,
): Promise<void> {
  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  let connected = false;
  for (const client of clients) client.on("error", (error: unknown) => void (connected || fail(error)));
  try {
    await Promise.race([Promise.all(clients.map(connect)), failed]);
    connected = true;
  } catch (error) {
    for (const client of clients) {
      try {
        drop(client);
      } catch {
        // already gone
      }
    }
    throw error;
  }
}

/** Closes both connections politely, or drops one that cannot be (Redis is gone). */
async function closeBoth<C>(clients: C[], close: (client: C) => Promise<unknown> | undefined, drop: (client: C) => unknown): Promise<void> {
  await Promise.all(clients.map(async (client) => {
    try {
      await close(client);
    } catch {
      drop(client);
    }
  }));
}

/**
 * A link over node-redis. `@redis/client` on Deno needs `--allow-env`
 * (it reads `REDIS_DEBUG_MAINTENANCE` while connecting; without the
 * permission, `connect()` never settles).
 *
 * @param template A client (connected or not) whose options (URL, password, TLS...) the link's two connections copy.
 * @returns The link, both connections ready.
 */
export async function nodeRedisLink(template: NodeRedisClient): Promise<RedisLink> {
  const { RESP_TYPES } = await import("@redis/client");
  // No per-command timeout: node-redis's default (5 s, an AbortSignal per command) costs about 3x in throughput on Node.
  const commands = template.duplicate({ disableOfflineQueue: true, commandOptions: { timeout: 0 } });
  const subscriber = template.duplicate({ commandOptions: { timeout: 0 } });
  const replyBytes = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };
  const watch = watchBoth(commands, subscriber, "end");
  const onMessage = (message: Uint8Array, channel: unknown) => watch.events?.message(channelName(channel), message);
  await connectOrFail([commands, subscriber], (client) => client.connect(), (client) => client.destroy?.());
  return {
    command: (args) => commands.sendCommand(args.map(toBuffer), replyBytes) as Promise<RedisReply>,
    subscribe: async (channels, sharded) =>
      void (sharded ? await subscriber.sSubscribe([...channels], onMessage, true) : await subscriber.subscribe([...channels], onMessage, true)),
    unsubscribe: async (channels, sharded) =>
      void (sharded ? await subscriber.sUnsubscribe([...channels], onMessage, true) : await subscriber.unsubscribe([...channels], onMessage, true)),
    barrier: async () => void (await subscriber.sendCommand(["PING"])),
    listen: (listener) => watch.listen(listener),
    get ready() {
      return { commands: commands.isReady, subscriber: subscriber.isReady };
    },
    close: () => closeBoth([commands, subscriber], (client) => client.close?.() ?? client.quit?.(), (client) => client.destroy?.()),
  };
}

/**
 * A link over ioredis.
 *
 * @param template A client whose options the link's two connections copy.
 * @returns The link, both connections ready.
 */
export async function ioredisLink(template: IoRedisClient): Promise<RedisLink> {
  const commands = template.duplicate({ lazyConnect: true, enableOfflineQueue: false });
  const subscriber = template.duplicate({ lazyConnect: true });
  const watch = watchBoth(commands, subscriber, "close");
  const onMessage = (channel: unknown, message: Uint8Array) => watch.events?.message(channelName(channel), message);
  subscriber.on("messageBuffer", onMessage);
  subscriber.on("smessageBuffer", onMessage);
  await connectOrFail([commands, subscriber], (client) => client.connect(), (client) => client.disconnect());
  return {
    command: (args) => {
      const [name, ...rest] = args.map(toBuffer);
      return commands.callBuffer(String(name), ...rest) as Promise<RedisReply>;
    },
    subscribe: async (channels, sharded) => void (sharded ? await subscriber.ssubscribe(...channels) : await subscriber.subscribe(...channels)),
    unsubscribe: async (channels, sharded) => void (sharded ? await subscriber.sunsubscribe(...channels) : await subscriber.unsubscribe(...channels)),
    barrier: async () => void (await subscriber.ping()),
    listen: (listener) => watch.listen(listener),
    get ready() {
      return { commands: commands.status === "ready", subscriber: subscriber.status === "ready" };
    },
    close: () => closeBoth([commands, subscriber], (client) => client.quit(), (client) => client.disconnect()),
  };
}
