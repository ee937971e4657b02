// Broadcast across workers (libwebsockets' fork_service_loop): examples/multi_worker.ts
// runs in a child process of this runtime, several workers each with their own
// serve(), and clients connected to different workers must all receive, once,
// what one worker broadcasts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { nodeNetwork } from "../adapters/node.ts";
import { denoNetwork } from "../adapters/deno.ts";
import { bunNetwork } from "../adapters/bun.ts";
import { connect } from "../src/services/client.ts";
import type { Network } from "../src/transport/transport.ts";
import type { Message, WebSocketConnection } from "../src/services/connection.ts";
import { until, within } from "./helpers.ts";
import { skipIf } from "./skips.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
const network: Network = g.Bun ? bunNetwork : g.Deno ? denoNetwork : nodeNetwork;

interface Ready {
  mode: "threads" | "cluster";
  shared: boolean;
  ports: number[];
  workers: number;
}

interface Example {
  child: ChildProcess;
  ready: Ready;
  stderr: () => string;
  /** The next line the example prints. */
  nextLine: () => Promise<string | undefined>;
}

/** Starts the example with this runtime; resolves once it prints its `ready` line. */
async function startExample(args: string[], runtimeFlags: string[] = []): Promise<Example> {
  const script = "examples/multi_worker.ts";
  const runtimeArgs = runtime === "deno"
    ? ["run", "-A", ...runtimeFlags, script]
    : runtime === "bun"
    ? [script]
    : ["--import", "tsx", script];
  const child = spawn(process.execPath, [...runtimeArgs, "--port", "0", "--host", "127.0.0.1", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += String(chunk)));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const line = await lines.next();
    return line.done ? undefined : String(line.value);
  };
  try {
    for (;;) {
      const text = await within(nextLine(), 60_000, "the workers to listen");
      if (text === undefined) throw new Error(`the example exited: ${stderr}`);
      if (text.startsWith("ready ")) return { child, ready: JSON.parse(text.slice("ready ".length)) as Ready, stderr: () => stderr, nextLine };
    }
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/**
 * Stops the example as a user would (SIGTERM: every server closes
 * gracefully) and returns what it printed then. (Its exit code is no
 * witness: Deno's child_process reports the signal it sent even when the
 * child handled it and exited 0.)
 */
async function stopExample({ child, nextLine }: Example): Promise<string | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) return "exited early";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  try {
    const last = await within(nextLine(), 20_000, "the example to stop");
    await within(exited, 20_000, "the example to exit");
    return last;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

interface ChatClient {
  ws: WebSocketConnection<undefined>;
  messages: Message[];
  worker: number;
}

async function chatClient(port: number): Promise<ChatClient> {
  const messages: Message[] = [];
  const ws = await connect(`ws://127.0.0.1:${port}/`, {
    network,
    protocols: ["chat"],
    pingInterval: 0,
    handlers: { message: (_ws, m) => void messages.push(m) },
  });
  await until(() => messages.length > 0, "the welcome");
  const worker = Number(/^welcome to worker (\d+)$/.exec(String(messages[0]))?.[1]);
  assert.ok(Number.isInteger(worker), `unexpected welcome ${messages[0]}`);
  return { ws, messages, worker };
}

/** Connects until every worker serves at least one client (the kernel picks the worker on a shared port). */
async function clientsOnEveryWorker(ready: Ready): Promise<ChatClient[]> {
  const clients: ChatClient[] = [];
  const workers = () => new Set(clients.map((c) => c.worker));
  for (let i = 0; i < 60 && workers().size < ready.workers; i++) clients.push(await chatClient(ready.ports[i % ready.ports.length]!));
  assert.equal(workers().size, ready.workers, `clients reached workers ${[...workers()]} only`);
  return clients;
}

/** One client's message must reach every client of every worker exactly once, in order. */
async function assertBroadcastReachesAll(clients: ChatClient[]): Promise<void> {
  clients[0]!.ws.send("first, from one worker");
  await until(() => clients.every((c) => c.messages.length >= 2), "the first broadcast at every client", 20_000);
  clients.at(-1)!.ws.send(new Uint8Array([1, 2, 3]));
  await until(() => clients.every((c) => c.messages.length >= 3), "the second broadcast at every client", 20_000);
  await new Promise((r) => setTimeout(r, 100)); // a duplicate, if any, would follow closely
  for (const c of clients) {
    assert.deepEqual(c.messages.slice(1), ["first, from one worker", new Uint8Array([1, 2, 3])], `client of worker ${c.worker}`);
  }
  for (const c of clients) c.ws.close();
  await within(Promise.all(clients.map((c) => c.ws.closed)));
}

/** Whether this runtime's own listener can share a port between threads here. */
function expectShared(): boolean {
  if (runtime !== "node") return true; // Bun.listen; Deno.listen with --unstable-net (passed below)
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

test("worker threads: a broadcast in one worker reaches the clients of every worker, once each", async () => {
  const example = await startExample(["--workers", "3"], ["--unstable-net"]);
  const { ready, stderr } = example;
  try {
    assert.equal(ready.mode, "threads");
    assert.equal(ready.workers, 3);
    assert.equal(ready.shared, expectShared(), `shared port: ${stderr()}`);
    assert.equal(ready.ports.length, ready.shared ? 1 : 3);
    if (!ready.shared) assert.match(stderr(), /one port per worker: .*reusePort/, "the reason is printed");
    await assertBroadcastReachesAll(await clientsOnEveryWorker(ready));
  } finally {
    assert.equal(await stopExample(example), "stopped", stderr());
  }
});

test("worker threads on Deno without --unstable-net: one port per worker, broadcasts still reach everyone", {
  skip: skipIf(runtime !== "deno" && "Deno only (its reusePort needs --unstable-net)"),
}, async () => {
  const example = await startExample(["--workers", "2"]);
  const { ready, stderr } = example;
  try {
    assert.equal(ready.shared, false);
    assert.equal(ready.ports.length, 2);
    assert.match(stderr(), /--unstable-net/);
    await assertBroadcastReachesAll(await clientsOnEveryWorker(ready));
  } finally {
    assert.equal(await stopExample(example), "stopped", stderr());
  }
});

test("node:cluster processes share one port; clusterChannel relays broadcasts through the primary", {
  skip: skipIf(runtime !== "node" && "node:cluster mode is the Node answer (Deno and Bun share a port between threads)"),
}, async () => {
  const example = await startExample(["--workers", "2", "--mode", "cluster"]);
  const { ready, stderr } = example;
  try {
    assert.equal(ready.mode, "cluster");
    assert.deepEqual([ready.shared, ready.ports.length], [true, 1]);
    await assertBroadcastReachesAll(await clientsOnEveryWorker(ready));
  } finally {
    assert.equal(await stopExample(example), "stopped", stderr());
  }
});
