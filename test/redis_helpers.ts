// Helpers for the Redis engine tests (not a test file itself): a wsport node
// (a server with its own engine) on a private redis-server, and clients
// that record what they receive.
import assert from "node:assert/strict";
import { connect, serve, type Server, type ServeOptions, type Subprotocol } from "../mod.ts";
import { type RedisConnectOptions, type RedisEngine, redisEngine } from "../adapters/redis.ts";
import type { PubSubError } from "../src/services/pubsub/engine.ts";
import type { Message, WebSocketConnection } from "../src/services/connection.ts";
import { until } from "./helpers.ts";
import type { RedisServer } from "./peers/redis_server.ts";

export interface TestNode {
  server: Server;
  engine: RedisEngine;
  errors: PubSubError[];
  stop(): Promise<void>;
}

/**
 * The test protocol: a client subscribes to the topics in its URL
 * (`/?topics=a,b`); with `&since=ID` it recovers from that id and is then
 * sent `recovery <outcome as JSON>`.
 */
export function topicsProtocol(name = "chat"): Subprotocol {
  return {
    name,
    open: (ws) => {
      const query = new URL(ws.path, "http://x").searchParams;
      const since = query.get("since");
      for (const topic of (query.get("topics") ?? "").split(",").filter(Boolean)) {
        if (since === null) ws.subscribe(topic);
        else void ws.subscribe(topic, { since }).then((recovery) => ws.send(`recovery ${JSON.stringify(recovery)}`));
      }
    },
  };
}

export async function startNode(url: string, engineOptions: Partial<RedisConnectOptions> = {}, serveOptions: ServeOptions = {}): Promise<TestNode> {
  const errors: PubSubError[] = [];
  const engine = await redisEngine({ url, onError: (e) => void errors.push(e), presence: false, ...engineOptions });
  const server = await serve({ hostname: "127.0.0.1", port: 0, pingInterval: 0, protocols: [topicsProtocol()], pubsub: engine, ...serveOptions });
  return { server, engine, errors, stop: () => server.close({ timeout: 2000 }) };
}

export interface TestClient {
  ws: WebSocketConnection<undefined>;
  messages: Message[];
  texts(): string[];
}

export async function startClient(port: number, path = "/", protocols = ["chat"]): Promise<TestClient> {
  const messages: Message[] = [];
  const ws = await connect(`ws://127.0.0.1:${port}${path}`, {
    protocols,
    pingInterval: 0,
    handlers: { message: (_ws, m) => void messages.push(m) },
  });
  return { ws, messages, texts: () => messages.map(String) };
}

/** Waits until Redis counts `count` subscribers on a channel (a node subscribes in the tick after its first local subscriber). */
export async function waitForSubscribers(redis: RedisServer, channel: string, count: number, sharded = false): Promise<void> {
  let seen = "";
  const check = () => {
    seen = redis.cli("PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel).split("\n")[1] ?? "";
    return Number(seen) === count;
  };
  await until(check, `${count} subscribers on ${channel}`, 20_000).catch(() => {
    throw new Error(`${channel}: ${seen} subscribers, expected ${count}`);
  });
}

/** Asserts that each client received exactly `expected`, in order, after a short settle for duplicates. */
export async function assertReceived(clients: TestClient[], expected: Message[], what: string, skip = 0): Promise<void> {
  await until(() => clients.every((c) => c.messages.length >= skip + expected.length), what, 30_000);
  await new Promise((r) => setTimeout(r, 100)); // a duplicate, if any, would follow closely
  for (const [i, c] of clients.entries()) assert.deepEqual(c.messages.slice(skip), expected, `${what}: client ${i}`);
}
