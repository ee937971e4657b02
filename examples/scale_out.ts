// One process per core on one port, with Redis between them: a chat server
// whose every message reaches every client of every process.
//
//   npx tsx examples/scale_out.ts --redis redis://127.0.0.1:6379 --port 9001 [--processes 2]
//   deno run -A --unstable-net examples/scale_out.ts --redis redis://127.0.0.1:6379 --port 9001
//   bun examples/scale_out.ts --redis redis://127.0.0.1:6379 --port 9001
//
// How the port is shared: on Node, node:cluster (the primary accepts and
// hands connections to the workers; works on Node 20); on Deno and Bun, each
// process listens itself with `reusePort` (Linux SO_REUSEPORT: the kernel
// spreads connections; Deno needs --unstable-net, passed on to the children).
// Within a machine, a BroadcastChannel or the cluster relay would do for
// threads or cluster workers (examples/multi_worker.ts); Redis also links
// processes of different runtimes and other machines, and is what each
// process here uses, so the same deployment scales past one machine by
// starting more of them elsewhere on the same Redis.
//
// Prints `ready {"mode":...,"port":...,"processes":n}` once every process
// listens; a client is greeted with `welcome to process <i> (<runtime>)`.
// SIGINT or SIGTERM stops every process gracefully and prints `stopped`.
import cluster from "node:cluster";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { serve, type Server } from "../mod.ts";
import { redisEngine } from "../adapters/redis.ts";
import { parseArgs } from "./args.ts";

const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node";

/** One process's chat server: what a client sends is broadcast to every client of every process. */
async function runServer(index: number, port: number, hostname: string, redis: string, reusePort: boolean): Promise<Server> {
  const pubsub = await redisEngine({ url: redis, presence: { info: { index, runtime, pid: process.pid } } });
  const server: Server = await serve({
    port,
    hostname,
    reusePort,
    pubsub,
    protocols: [{
      name: "chat",
      open: (ws) => void ws.send(`welcome to process ${index} (${runtime})`),
      message: (_ws, message) => void server.broadcast("chat", message),
    }],
  });
  return server;
}

function onStopSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    void stop().then(() => {
      console.log("stopped");
      process.exit(0);
    });
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

// --- Node: node:cluster shares the port ---

async function clusterPrimary(count: number, port: number, hostname: string, redis: string): Promise<void> {
  const ports = await Promise.all(Array.from({ length: count }, (_, index) => new Promise<number>((resolve, reject) => {
    const worker = cluster.fork({ WSPORT_INDEX: String(index), WSPORT_PORT: String(port), WSPORT_HOST: hostname, WSPORT_REDIS: redis });
    worker.once("message", (message: { port?: number; error?: string }) => (message.port ? resolve(message.port) : reject(new Error(message.error))));
  })));
  console.log(`ready ${JSON.stringify({ mode: "cluster", port: ports[0], processes: count })}`);
  onStopSignal(() => Promise.all(Object.values(cluster.workers ?? {}).map((worker) => new Promise((resolve) => {
    worker!.once("exit", resolve);
    worker!.send("stop");
  }))).then(() => {}));
}

async function clusterWorker(): Promise<void> {
  const env = process.env;
  try {
    const server = await runServer(Number(env.WSPORT_INDEX), Number(env.WSPORT_PORT), env.WSPORT_HOST!, env.WSPORT_REDIS!, false);
    process.send!({ port: server.port });
    process.on("message", async (message) => {
      if (message !== "stop") return;
      await server.close();
      process.exit(0);
    });
  } catch (error) {
    process.send!({ error: String(error) });
    process.exit(1);
  }
}

// --- Deno and Bun: every process listens with reusePort ---

function spawnChild(index: number, port: number, args: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const script = new URL(import.meta.url).pathname;
  const own = ["--child", String(index), "--port", String(port), "--host", args.host!, "--redis", args.redis!];
  const command = runtime === "deno" ? ["run", "-A", "--unstable-net", script, ...own] : [script, ...own];
  const child = spawn(process.execPath, command, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (line.startsWith("listening ")) resolve({ child, port: Number(line.slice(10)) });
      else console.log(line);
    });
    child.once("exit", (code) => reject(new Error(`process ${index} exited (${code})`)));
  });
}

async function reusePortPrimary(count: number, args: Record<string, string>): Promise<void> {
  // The first process finds the port (when --port is 0); the others join it.
  const first = await spawnChild(0, Number(args.port), args);
  const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => spawnChild(i + 1, first.port, args)));
  const children = [first, ...rest].map((c) => c.child);
  console.log(`ready ${JSON.stringify({ mode: "reusePort", port: first.port, processes: count })}`);
  onStopSignal(() => Promise.all(children.map((child) => new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGTERM");
  }))).then(() => {}));
}

async function reusePortChild(args: Record<string, string>): Promise<void> {
  const server = await runServer(Number(args.child), Number(args.port), args.host!, args.redis!, true);
  console.log(`listening ${server.port}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

// --- entry ---

if (runtime === "node" && cluster.isWorker) {
  await clusterWorker();
} else {
  const args = parseArgs({ redis: "redis://127.0.0.1:6379", port: "9001", host: "0.0.0.0", processes: "2" });
  const count = Math.max(1, Number(args.processes));
  if (args.child !== undefined) await reusePortChild(args);
  else if (runtime === "node") await clusterPrimary(count, Number(args.port), args.host!, args.redis!);
  else await reusePortPrimary(count, args);
}
