// The Redis client under wsport/redis, measured as wsport uses it: through
// its RedisLink (adapters/redis_clients.ts), node-redis (@redis/client) and
// ioredis, on the runtime that runs this file. One process holds both the
// publishing and the subscribed connection (2 cores: redis-server + this).
//   node --import tsx bench/redis_clients.ts [N]
//   node_modules/.bin/deno run -A bench/redis_clients.ts [N]
//   node_modules/.bin/bun bench/redis_clients.ts [N]
// Prints one JSON line per client: publish and delivery msg/s of N 100-byte
// binary publications (1000 in flight), and publish-to-delivery latency
// p50/p99 of 2,000 publications paced at 2,000/s. Starts its own
// redis-server (Debian's) on a free port and stops it.
import process from "node:process";
import { createClient } from "@redis/client";
import { Redis } from "ioredis";
import { ioredisLink, nodeRedisLink, type NodeRedisClient } from "../adapters/redis_clients.ts";
import type { RedisLink } from "../src/services/pubsub/redis/link.ts";
import { startRedisServer } from "../test/peers/redis_server.ts";

const N = Number(process.argv.at(-1)) > 0 ? Number(process.argv.at(-1)) : 100_000;
const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";
const redis = await startRedisServer();

function message(seq: number): Uint8Array {
  const bytes = new Uint8Array(100).fill(0x78);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, performance.now(), true);
  view.setUint32(8, seq, true);
  return bytes;
}

const quantile = (xs: number[], q: number) => +[...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(3);

async function measure(name: string, version: string, link: RedisLink): Promise<void> {
  let received = 0;
  let latencies: number[] = [];
  let done: (() => void) | undefined;
  let target = 0;
  link.listen({
    message: (_channel, payload) => {
      latencies.push(performance.now() - new DataView(payload.buffer, payload.byteOffset).getFloat64(0, true));
      if (++received === target) done?.();
    },
    ready: () => {},
    down: () => {},
  });
  await link.subscribe(["bench"], false);
  // Throughput: N publications, 1000 in flight.
  target = N;
  const all = new Promise<void>((resolve) => (done = resolve));
  const t0 = performance.now();
  for (let seq = 0; seq < N; seq += 1000) {
    const batch = [];
    for (let i = seq; i < Math.min(N, seq + 1000); i++) batch.push(link.command(["PUBLISH", "bench", message(i)]));
    await Promise.all(batch);
  }
  const published = performance.now();
  await all;
  const deliveredAt = performance.now();
  // Latency: 2,000 at 2,000/s (20 every 10 ms).
  received = 0;
  latencies = [];
  target = 2000;
  const paced = new Promise<void>((resolve) => (done = resolve));
  for (let i = 0; i < 2000; i += 20) {
    for (let j = 0; j < 20; j++) void link.command(["PUBLISH", "bench", message(i + j)]);
    await new Promise((r) => setTimeout(r, 10));
  }
  await paced;
  console.log(JSON.stringify({
    runtime,
    client: `${name}@${version}`,
    n: N,
    publishMsgPerSec: Math.round(N / ((published - t0) / 1000)),
    deliveredMsgPerSec: Math.round(N / ((deliveredAt - t0) / 1000)),
    pacedLatencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) },
  }));
  await link.close();
}

const version = async (pkg: string) => (await import(`../node_modules/${pkg}/package.json`, { with: { type: "json" } })).default.version as string;
try {
  await measure("@redis/client", await version("@redis/client"), await nodeRedisLink(createClient({ url: redis.url }) as unknown as NodeRedisClient));
  await measure("ioredis", await version("ioredis"), await ioredisLink(new Redis(redis.url, { lazyConnect: true })));
} finally {
  await redis.stop();
}
process.exit(0);
