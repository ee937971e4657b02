// The demo with --redis: two demo servers on one real redis-server, one in
// this process and one in a child process of another runtime, share the
// mirror drawing and the list of connections.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { connect, type Message } from "../mod.ts";
import { MIRROR_PROTOCOL, STATUS_PROTOCOL, type StatusMessage, startTestServer } from "../examples/test_server.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { redisServerMissing, startRedisServer } from "./peers/redis_server.ts";
import { tail, terminate, track } from "./peers/children.ts";
import { until, within } from "./helpers.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const here = g.Bun ? "bun" : g.Deno ? "deno" : "node";
// The other demo server runs on another runtime than this test.
const other: [string, string[]] = here === "bun" ? ["node", ["--import", "tsx"]] : ["node_modules/.bin/bun", []];

async function recorder(port: number, protocol: string) {
  const messages: Message[] = [];
  const ws = await connect(`ws://127.0.0.1:${port}/`, { protocols: [protocol], pingInterval: 0, handlers: { message: (_ws, m) => void messages.push(m) } });
  return { ws, messages };
}

test(`demo --redis: two demo servers (${here} and ${other[0].includes("bun") ? "bun" : "node"}) share the mirror drawing and the status list`, {
  skip: skipUnlessPeer(redisServerMissing()),
}, async () => {
  const redis = await startRedisServer();
  const local = await startTestServer({ port: 0, hostname: "127.0.0.1", redis: redis.url });
  const child = track(spawn(other[0], [...other[1], "examples/test_server.ts", "--port", "0", "--host", "127.0.0.1", "--redis", redis.url], { stdio: ["ignore", "pipe", "pipe"] }));
  const stderr = tail(child.stderr);
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    let port = 0;
    while (port === 0) {
      const line = await within(lines.next(), 60_000, "the other demo server");
      if (line.done) throw new Error(`the other demo server exited: ${stderr()}`);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(sharing/.exec(String(line.value));
      if (m) port = Number(m[1]);
    }
    const [a, b] = [await recorder(local.port, MIRROR_PROTOCOL), await recorder(port, MIRROR_PROTOCOL)];
    // Both servers listen on the mirror topic before anything is drawn.
    await until(() => redis.cli("PUBSUB", "NUMSUB", "wsport:t:{lws-mirror}").split("\n")[1] === "2", "both servers on the mirror topic", 20_000);
    a.ws.send("c #ff0000 10 10 5;");
    b.ws.send("d #00ff00 1 2 3 4;");
    await until(() => a.messages.length >= 2 && b.messages.length >= 2, "both strokes on both servers", 20_000);
    await new Promise((r) => setTimeout(r, 100));
    for (const r of [a, b]) assert.deepEqual([...r.messages].sort(), ["c #ff0000 10 10 5;", "d #00ff00 1 2 3 4;"]);
    // The status list of each server shows the other's connections, labelled with their server.
    const status = await recorder(port, STATUS_PROTOCOL);
    const latest = () => JSON.parse(String(status.messages.at(-1) ?? '{"connections":[]}')) as StatusMessage;
    await until(() => new Set(latest().connections.map((c) => c.server)).size === 2, "both servers in the list", 20_000);
    const servers = latest().connections.map((c) => c.server);
    assert.ok(servers.includes(`127.0.0.1:${local.port}`) && servers.includes(`127.0.0.1:${port}`), JSON.stringify(servers));
    assert.equal(latest().connections.filter((c) => c.protocol === MIRROR_PROTOCOL).length, 2);
    for (const r of [a, b, status]) r.ws.close();
  } finally {
    await terminate(child, 10_000);
    await local.close();
    await redis.stop();
  }
});
