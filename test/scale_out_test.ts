// Multi-core on one machine: examples/scale_out.ts runs, with this runtime,
// two processes on one port (node:cluster on Node, reusePort on Deno and
// Bun) linked through a real redis-server; clients reaching different
// processes must all receive, once, what any of them sends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { redisServerMissing, startRedisServer } from "./peers/redis_server.ts";
import { tail, terminate, track } from "./peers/children.ts";
import { startClient, type TestClient } from "./redis_helpers.ts";
import { until, within } from "./helpers.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";

test(`scale out (${runtime}): two processes share one port, and Redis carries every broadcast to the clients of both, once each`, {
  skip: skipUnlessPeer(redisServerMissing()),
}, async () => {
  const redis = await startRedisServer();
  const script = "examples/scale_out.ts";
  const pre = runtime === "deno" ? ["run", "-A", "--unstable-net", script] : runtime === "bun" ? [script] : ["--import", "tsx", script];
  const child = track(spawn(process.execPath, [...pre, "--redis", redis.url, "--port", "0", "--host", "127.0.0.1", "--processes", "2"], { stdio: ["ignore", "pipe", "pipe"] }));
  const stderr = tail(child.stderr);
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    let ready: { mode: string; port: number; processes: number } | undefined;
    while (ready === undefined) {
      const line = await within(lines.next(), 60_000, "the processes to listen");
      if (line.done) throw new Error(`the example exited: ${stderr()}`);
      if (String(line.value).startsWith("ready ")) ready = JSON.parse(String(line.value).slice(6));
    }
    assert.equal(ready.mode, runtime === "node" ? "cluster" : "reusePort");
    // The kernel (or the cluster primary) picks the process: connect until both serve someone.
    const clients: TestClient[] = [];
    const processOf = (c: TestClient) => /^welcome to process (\d) /.exec(String(c.messages[0]))?.[1];
    for (let i = 0; i < 60 && new Set(clients.map(processOf)).size < 2; i++) {
      const c = await startClient(ready.port, "/", ["chat"]);
      await until(() => c.messages.length > 0, "the welcome");
      clients.push(c);
    }
    assert.deepEqual([...new Set(clients.map(processOf))].sort(), ["0", "1"], `reached: ${clients.map(processOf)}`);
    await until(() => redis.cli("PUBSUB", "NUMSUB", "wsport:b:{chat}").split("\n")[1] === "2", "both processes on Redis");
    clients[0]!.ws.send("from one process");
    clients.at(-1)!.ws.send(new Uint8Array([7, 7]));
    await until(() => clients.every((c) => c.messages.length >= 3), "both messages at every client", 20_000);
    await new Promise((r) => setTimeout(r, 100));
    for (const c of clients) {
      assert.equal(c.messages.length, 3);
      assert.deepEqual(new Set(c.messages.slice(1).map((m) => typeof m)), new Set(["string", "object"]));
    }
    for (const c of clients) c.ws.close();
  } finally {
    await terminate(child, 10_000);
    await redis.stop();
  }
});
