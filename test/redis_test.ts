// The Redis engine (wsport/redis) against a real redis-server, with two or
// three wsport nodes in this process, each with its own engine and its own
// Redis connections, and clients over real sockets: relay, sharded mode,
// subscriptions that follow local subscribers, history and recovery,
// foreign messages, presence, password and TLS, and ioredis.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Redis as IoRedis } from "ioredis";
import { createClient } from "@redis/client";
import { redisEngine } from "../adapters/redis.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { redisServerMissing, type RedisServer, startRedisServer } from "./peers/redis_server.ts";
import { assertReceived, startClient, startNode, type TestNode, waitForSubscribers } from "./redis_helpers.ts";
import { opensslMissing, testPki } from "./certificate.ts";
import { until, within } from "./helpers.ts";
import { compareStreamIds } from "../src/services/pubsub/stream_ids.ts";

/** The `skip` option of a test that needs redis-server: one call per test, so `npm test` counts each skip. */
const skip = () => skipUnlessPeer(redisServerMissing());

async function withRedis(run: (redis: RedisServer) => Promise<void>, options: Parameters<typeof startRedisServer>[0] = {}): Promise<void> {
  const redis = await startRedisServer(options);
  try {
    await run(redis);
  } finally {
    await redis.stop();
  }
}

async function stopAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
}

test("redis: broadcast and publish reach every client of every node exactly once, in order, text and binary", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const nodes = [await startNode(redis.url), await startNode(redis.url), await startNode(redis.url)];
    try {
      const clients: Awaited<ReturnType<typeof startClient>>[] = [];
      for (const node of nodes) for (let i = 0; i < 2; i++) clients.push(await startClient(node.server.port, "/?topics=news"));
      await waitForSubscribers(redis, "wsport:t:{news}", 3);
      await waitForSubscribers(redis, "wsport:b:{chat}", 3);
      const expected: (string | Uint8Array)[] = [];
      for (let i = 0; i < 50; i++) {
        const node = nodes[i % 3]!;
        const message = i % 2 === 0 ? `text ${i} é` : new Uint8Array([i, 0, 255, i]);
        // Each node's local subscribers are served at once: publish returns their count.
        assert.equal(i % 5 === 0 ? node.server.broadcast("chat", message) : node.server.publish("news", message), 2);
        expected.push(message);
      }
      // Every node's messages in its own order; across nodes the order may interleave, so compare per publisher.
      const key = (m: string | Uint8Array) => (typeof m === "string" ? m : `bytes ${m.join(",")}`);
      const publisherOf = new Map(expected.map((m, i) => [key(m), i % 3]));
      await until(() => clients.every((c) => c.messages.length >= 50), "50 messages at every client", 30_000);
      await new Promise((r) => setTimeout(r, 200));
      for (const [k, c] of clients.entries()) {
        assert.equal(c.messages.length, 50, `client ${k}: exactly 50`);
        for (const n of [0, 1, 2]) {
          const got = c.messages.filter((m) => publisherOf.get(key(m)) === n);
          assert.deepEqual(got, expected.filter((_, i) => i % 3 === n), `client ${k}, messages of node ${n}`);
        }
      }
      for (const node of nodes) assert.deepEqual(node.errors, []);
      assert.equal(nodes[0]!.engine.stats.failed, 0);
    } finally {
      await stopAll(nodes);
    }
  });
});

test("redis: a node subscribes to a topic only while it has local subscribers, in one command per batch", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const [a, b] = [await startNode(redis.url), await startNode(redis.url)];
    try {
      const before = Number(/cmdstat_subscribe:calls=(\d+)/.exec(redis.cli("INFO", "commandstats"))?.[1] ?? 0);
      // 20 clients of node A subscribe to 5 topics in one handshake each; node B has none.
      const topics = ["t1", "t2", "t3", "t4", "t5"];
      const clients = await Promise.all(Array.from({ length: 20 }, () => startClient(a.server.port, `/?topics=${topics.join(",")}`)));
      for (const topic of topics) await waitForSubscribers(redis, `wsport:t:{${topic}}`, 1);
      const after = Number(/cmdstat_subscribe:calls=(\d+)/.exec(redis.cli("INFO", "commandstats"))?.[1] ?? 0);
      // 5 topics × 20 clients, but each topic is subscribed once; the batches cover several topics at a time.
      assert.ok(after - before <= 20 && after - before >= 1, `SUBSCRIBE commands: ${after - before}`);
      assert.equal(redis.cli("PUBSUB", "NUMSUB", "wsport:t:{t1}").split("\n")[1], "1");
      b.server.publish("t3", "from b");
      await assertReceived(clients, ["from b"], "a publication from the node without subscribers");
      for (const c of clients) c.ws.close();
      for (const topic of topics) await waitForSubscribers(redis, `wsport:t:{${topic}}`, 0);
    } finally {
      await stopAll([a, b]);
    }
  });
});

test("redis: sharded mode (SSUBSCRIBE/SPUBLISH) relays the same way", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const nodes = [await startNode(redis.url, { sharded: true }), await startNode(redis.url, { sharded: true })];
    try {
      const clients = [await startClient(nodes[0]!.server.port, "/?topics=room"), await startClient(nodes[1]!.server.port, "/?topics=room")];
      await waitForSubscribers(redis, "wsport:t:{room}", 2, true);
      assert.equal(redis.cli("PUBSUB", "NUMSUB", "wsport:t:{room}").split("\n")[1], "0", "not on plain pub/sub");
      nodes[0]!.server.publish("room", "one");
      nodes[1]!.server.publish("room", new Uint8Array([2]));
      nodes[0]!.server.broadcast("chat", "three");
      await until(() => clients.every((c) => c.messages.length >= 3), "3 messages", 20_000);
      for (const c of clients) assert.deepEqual(c.messages.slice().sort((x, y) => String(x).localeCompare(String(y))).length, 3);
      for (const c of clients) assert.deepEqual(c.messages.filter((m) => typeof m === "string"), ["one", "three"]);
    } finally {
      await stopAll(nodes);
    }
  });
});

test("redis: a message on a wsport channel that is not wsport's is dropped with an error event", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const node = await startNode(redis.url);
    try {
      const client = await startClient(node.server.port, "/?topics=news");
      await waitForSubscribers(redis, "wsport:t:{news}", 1);
      redis.cli("PUBLISH", "wsport:t:{news}", "hello from another app");
      await until(() => node.errors.length > 0, "the error event");
      assert.equal(node.errors[0]!.code, "WS_ERR_PUBSUB_FOREIGN_MESSAGE");
      assert.equal(node.errors[0]!.target, "news");
      assert.equal(node.engine.stats.foreign, 1);
      const other = await startNode(redis.url);
      other.server.publish("news", "real");
      await assertReceived([client], ["real"], "the next real message");
      await other.stop();
    } finally {
      await node.stop();
    }
  });
});

test("redis: with history, each message carries its stream id, and a client coming back with it recovers what it missed", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const history = { maxLength: 50 };
    const [a, b] = [await startNode(redis.url, { history }), await startNode(redis.url, { history })];
    try {
      const first = await startClient(a.server.port, "/?topics=feed");
      await waitForSubscribers(redis, "wsport:t:{feed}", 1);
      for (let i = 0; i < 3; i++) b.server.publish("feed", `m${i}`);
      a.server.publish("feed", "m3"); // the publishing node's own subscriber gets it with its id too
      await until(() => first.messages.length >= 4, "4 live messages");
      const live = first.texts().map((t) => t.split("\n"));
      // Each publisher's order is kept; between b's three and a's own one, either may come first.
      assert.deepEqual(live.map(([, m]) => m).filter((m) => m !== "m3"), ["m0", "m1", "m2"]);
      assert.ok(live.some(([, m]) => m === "m3"));
      assert.ok(live.every(([id]) => /^\d+-\d+$/.test(id!)), JSON.stringify(live));
      assert.equal(redis.cli("XLEN", "wsport:h:{feed}"), "4");
      const lastSeen = live.find(([, m]) => m === "m1")![0]!;
      const followedCount = () => live.filter(([id]) => compareStreamIds(id!, lastSeen) > 0).length;
      first.ws.close();
      for (let i = 4; i < 8; i++) b.server.publish("feed", `m${i}`);
      // Back on the other node with the id of m1: what followed it replayed, then the live feed.
      const back = await startClient(b.server.port, `/?topics=feed&since=${lastSeen}`);
      await until(() => back.messages.some((m) => String(m).startsWith("recovery ")), "the recovery outcome");
      b.server.publish("feed", "m8");
      await until(() => back.messages.length >= 6 + followedCount(), "replay and live");
      const texts = back.texts().filter((t) => !t.startsWith("recovery "));
      // The replay is in stream order: what followed m1 there (m2, and m3 if a's publication came after it), then m4..m7.
      const followed = live.filter(([id]) => compareStreamIds(id!, lastSeen) > 0).sort(([x], [y]) => compareStreamIds(x!, y!)).map(([, m]) => m);
      assert.deepEqual(texts.map((t) => t.split("\n")[1]), [...followed, "m4", "m5", "m6", "m7", "m8"]);
      const outcome = JSON.parse(back.texts().find((t) => t.startsWith("recovery "))!.slice(9));
      assert.equal(outcome.type, "recovered");
      assert.equal(outcome.count, followedCount() + 4);
    } finally {
      await stopAll([a, b]);
    }
  });
});

test("redis: recovery reports a gap when the history no longer reaches back, and 'unavailable' without history", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const node = await startNode(redis.url, { history: { maxLength: 5, topics: (t) => t !== "plain" } });
    try {
      const watcher = await startClient(node.server.port, "/?topics=feed");
      node.server.publish("feed", "first");
      await until(() => watcher.messages.length === 1, "the first message");
      const firstId = String(watcher.messages[0]).split("\n")[0]!;
      for (let i = 0; i < 400; i++) node.server.publish("feed", `filler ${i}`); // MAXLEN ~ 5 trims whole blocks of 100
      await until(() => watcher.messages.length === 401, "every message");
      const outcome = async (path: string) => {
        const c = await startClient(node.server.port, path);
        await until(() => c.messages.length > 0, "an outcome");
        return { outcome: JSON.parse(String(c.messages[0]).slice(9)), client: c };
      };
      assert.deepEqual((await outcome(`/?topics=feed&since=${firstId}`)).outcome, { type: "gap" });
      assert.deepEqual((await outcome(`/?topics=feed&since=not-an-id`)).outcome, { type: "gap" });
      const plain = await outcome(`/?topics=plain&since=${firstId}`);
      assert.equal(plain.outcome.type, "unavailable");
      assert.equal(plain.outcome.error.code, "WS_ERR_PUBSUB_NO_HISTORY");
      // Recovering from the newest id: nothing missed, and the connection is subscribed.
      const newest = String(watcher.messages.at(-1)).split("\n")[0]!;
      const current = await outcome(`/?topics=feed&since=${newest}`);
      assert.deepEqual(current.outcome, { type: "recovered", count: 0, lastId: newest });
      node.server.publish("feed", "after");
      await until(() => current.client.messages.length === 2, "the live message after the recovery");
      assert.equal(String(current.client.messages[1]).split("\n")[1], "after");
    } finally {
      await node.stop();
    }
  });
});

test("redis: presence lists the live nodes and counts a topic's subscribers across them; a closed node leaves at once", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const presence = { interval: 200, countsInterval: 10 };
    const nodes = [
      await startNode(redis.url, { presence: { ...presence, info: { name: "a" } } }),
      await startNode(redis.url, { presence: { ...presence, info: { name: "b" } } }),
    ];
    try {
      const clients = [
        ...(await Promise.all([1, 2, 3].map(() => startClient(nodes[0]!.server.port, "/?topics=room")))),
        await startClient(nodes[1]!.server.port, "/?topics=room,other"),
      ];
      // Counts are written within countsInterval: poll until they add up.
      let count = -1;
      for (let i = 0; i < 500 && count !== 4; i++) {
        count = await nodes[1]!.engine.subscriberCount("room");
        if (count !== 4) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(count, 4, "subscribers of room on both nodes");
      assert.equal(await nodes[0]!.engine.subscriberCount("other"), 1);
      const listed = await nodes[0]!.engine.nodes();
      assert.deepEqual(listed.map((n) => n.id).sort(), nodes.map((n) => n.engine.nodeId).sort());
      assert.deepEqual(listed.map((n) => n.info.name).sort(), ["a", "b"]);
      clients[3]!.ws.close();
      await nodes[1]!.stop();
      assert.deepEqual((await nodes[0]!.engine.nodes()).map((n) => n.id), [nodes[0]!.engine.nodeId]);
      assert.equal(await nodes[0]!.engine.subscriberCount("room"), 3);
    } finally {
      await stopAll(nodes);
    }
  });
});

test("redis: a password and rediss:// (TLS with a private CA) work", { skip: skipUnlessPeer(redisServerMissing() ?? opensslMissing()) }, async () => {
  const pki = testPki();
  await withRedis(async (redis) => {
    assert.match(redis.url, /^rediss:\/\/:s3cret@127\.0\.0\.1:\d+$/);
    const clientOptions = { socket: { tls: true, ca: pki.ca, servername: "localhost" } };
    const nodes = [await startNode(redis.url, { clientOptions }), await startNode(redis.url, { clientOptions })];
    try {
      const client = await startClient(nodes[1]!.server.port, "/?topics=secure");
      await waitForSubscribers(redis, "wsport:t:{secure}", 1);
      nodes[0]!.server.publish("secure", "over TLS, authenticated");
      await assertReceived([client], ["over TLS, authenticated"], "the message over rediss://");
    } finally {
      await stopAll(nodes);
    }
    // A wrong password is refused when connecting.
    const wrong = redis.url.replace("s3cret", "wrong");
    await assert.rejects(within(redisEngine({ url: wrong, clientOptions, presence: false }), 20_000, "the refusal"), /WRONGPASS|invalid|password/i);
  }, { password: "s3cret", tls: pki.server });
});

test("redis: an ioredis client, or a node-redis client, passed in works as well", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const io = new IoRedis(redis.url, { lazyConnect: true });
    const nr = createClient({ url: redis.url });
    const nodes = [await startNode("", { client: io }), await startNode("", { client: nr as never })];
    try {
      const clients = [await startClient(nodes[0]!.server.port, "/?topics=x"), await startClient(nodes[1]!.server.port, "/?topics=x")];
      await waitForSubscribers(redis, "wsport:t:{x}", 2);
      nodes[0]!.server.publish("x", new Uint8Array([0, 1, 2, 255]));
      nodes[1]!.server.publish("x", "text from node-redis");
      await until(() => clients.every((c) => c.messages.length === 2), "both messages");
      for (const c of clients) assert.deepEqual(new Set(c.messages.map((m) => typeof m)), new Set(["object", "string"]));
      assert.deepEqual(clients[1]!.messages.find((m) => typeof m !== "string"), new Uint8Array([0, 1, 2, 255]));
      assert.equal(io.status, "wait", "the client passed in is not used itself");
    } finally {
      await stopAll(nodes);
    }
  });
});

test("redis: server.subscribe() hears every server's publications; local: false skips this server; except holds with history", { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const [a, b] = [await startNode(redis.url, { history: true }), await startNode(redis.url, { history: true })];
    try {
      const heard: string[][] = [[], []];
      a.server.subscribe("events", (m) => void heard[0]!.push(String(m).split("\n")[1]!));
      b.server.subscribe("events", (m) => void heard[1]!.push(String(m).split("\n")[1]!));
      await waitForSubscribers(redis, "wsport:t:{events}", 2);
      a.server.publish("events", "from a");
      a.server.publish("events", "from a, for the others only", { local: false });
      b.server.publish("events", "from b");
      await until(() => heard[0]!.length >= 2 && heard[1]!.length >= 3, "the listeners");
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(heard[0]!.sort(), ["from a", "from b"]);
      assert.deepEqual(heard[1]!.sort(), ["from a", "from a, for the others only", "from b"]);
      // except: the publishing connection does not get its own message back, though it goes through Redis for its id.
      const [c1, c2] = [await startClient(a.server.port, "/?topics=room"), await startClient(a.server.port, "/?topics=room")];
      await waitForSubscribers(redis, "wsport:t:{room}", 1);
      const sender = [...a.server.connections].find((ws) => ws.isSubscribed("room"))!;
      a.server.publish("room", "not to the sender", { except: sender });
      await until(() => c1.messages.length + c2.messages.length >= 1, "the publication");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c1.messages.length + c2.messages.length, 1);
    } finally {
      await stopAll([a, b]);
    }
  });
});

/** Reconnecting within 50 ms, through node-redis (a URL) or an ioredis client. */
const quickReconnect = (client: "node-redis" | "ioredis", url: string) =>
  client === "ioredis"
    ? { client: new IoRedis(url, { lazyConnect: true, retryStrategy: () => 50 }) }
    : { clientOptions: { socket: { reconnectStrategy: () => 50 } } };

for (const client of ["node-redis", "ioredis"] as const) test(`redis (${client}): while Redis is down, publications are reported and local delivery goes on; a recovery answers 'unavailable'; then everything comes back`, { skip: skip() }, async () => {
  await withRedis(async (redis) => {
    const [a, b] = [await startNode(redis.url, { history: true, ...quickReconnect(client, redis.url) }), await startNode(redis.url, { history: true, ...quickReconnect(client, redis.url) })];
    try {
      const local = await startClient(a.server.port, "/?topics=feed");
      const remote = await startClient(b.server.port, "/?topics=feed");
      await waitForSubscribers(redis, "wsport:t:{feed}", 2);
      a.server.publish("feed", "before");
      await until(() => local.messages.length === 1 && remote.messages.length === 1, "the first message");
      const lastId = String(local.messages[0]).split("\n")[0]!;
      await redis.kill9();
      await until(() => a.errors.some((e) => e.code === "WS_ERR_PUBSUB_UNAVAILABLE"), "the outage reported");
      a.server.publish("feed", "during");
      await until(() => local.messages.length === 2, "local delivery during the outage");
      assert.equal(local.messages[1], "during", "no id: it is in no history");
      await until(() => a.engine.stats.failed === 1, "the failed publication counted");
      const back = await startClient(a.server.port, `/?topics=feed&since=${lastId}`);
      await until(() => back.messages.length === 1, "the recovery outcome");
      const outcome = JSON.parse(String(back.messages[0]).slice(9));
      assert.equal(outcome.type, "unavailable");
      assert.equal(outcome.error.code, "WS_ERR_PUBSUB_UNAVAILABLE");
      await redis.restart();
      await waitForSubscribers(redis, "wsport:t:{feed}", 2); // restored by the clients
      // Both connections back: a publication reaches the other node again.
      for (let i = 0; i < 200 && remote.messages.length < 2; i++) {
        a.server.publish("feed", `after ${i}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(remote.messages.length >= 2, "the other node hears again");
      assert.equal(remote.messages.filter((m) => String(m).endsWith("\nduring")).length, 0);
    } finally {
      await stopAll([a, b]);
    }
  });
});
