// A chat server spread over several workers (libwebsockets' fork_service_loop):
// each worker runs its own serve(), and a message broadcast by one worker
// reaches the clients of all of them, through `broadcastChannel`.
//
//   npx tsx examples/multi_worker.ts --workers 4 --port 9001                  (Node: worker threads)
//   npx tsx examples/multi_worker.ts --workers 4 --port 9001 --mode cluster   (Node: node:cluster processes)
//   deno run -A --unstable-net examples/multi_worker.ts --workers 4 --port 9001
//   bun examples/multi_worker.ts --workers 4 --port 9001
//
// Every message a client sends is broadcast to every client of every worker;
// a client is greeted with the number of the worker that serves it.
//
// One port or several: worker threads share one port through SO_REUSEPORT
// (`reusePort`), which Bun.listen has, Deno.listen has with --unstable-net,
// and node:net has from Node 22.12 / 23.1 (all on Linux). Where it is
// missing, each thread listens on its own port (--port, --port + 1, ...), as
// the "ready" line says. On Node 20, `--mode cluster` shares one port between
// processes instead (node:cluster's primary hands out the connections), and
// `clusterChannel` relays the broadcasts through the primary, since a
// BroadcastChannel stays inside one process.
//
// Prints `ready {"mode":...,"shared":...,"ports":[...]}` once every worker
// listens; SIGINT or SIGTERM closes every server gracefully (1001), prints
// `stopped` and exits.
import cluster from "node:cluster";
import process from "node:process";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { serve, type ServeOptions, type Server, type WebSocketError } from "../mod.ts";
import { parseArgs } from "./args.ts";

/** What a worker is told to do. */
interface WorkerTask {
  index: number;
  port: number;
  hostname: string;
  reusePort: boolean;
}

/** What a worker answers once it has tried to listen. */
type WorkerReport = { listening: number } | { error: string; code?: string };

const CHANNEL = "wsport-multi-worker-chat";

/** The chat server one worker runs. */
async function runServer(task: WorkerTask, broadcastChannel: ServeOptions["broadcastChannel"]): Promise<Server> {
  const server: Server = await serve({
    port: task.port,
    hostname: task.hostname,
    reusePort: task.reusePort,
    broadcastChannel,
    protocols: [{
      name: "chat",
      open: (ws) => void ws.send(`welcome to worker ${task.index}`),
      message: (_ws, message) => void server.broadcast("chat", message),
    }],
  });
  return server;
}

function report(error: unknown): WorkerReport {
  return { error: String(error), code: (error as WebSocketError).code };
}

// --- worker threads ---

/** Starts a worker thread running this file. */
function startThread(task: WorkerTask): Worker {
  // Node runs this TypeScript file through tsx, whose loader worker threads do not inherit: register it first.
  const throughTsx = !("Deno" in globalThis) && !("Bun" in globalThis) && import.meta.url.endsWith(".ts");
  if (!throughTsx) return new Worker(new URL(import.meta.url), { workerData: task });
  const boot = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return new Worker(boot, { eval: true, workerData: task });
}

function firstReport(worker: Worker): Promise<WorkerReport> {
  return new Promise((resolve) => {
    worker.once("message", resolve);
    worker.once("error", (error) => resolve(report(error)));
  });
}

async function mainThreads(count: number, port: number, hostname: string): Promise<void> {
  const workers: Worker[] = [];
  // The first worker finds out whether the port can be shared (and which port 0 became).
  let first = startThread({ index: 0, port, hostname, reusePort: true });
  let answer = await firstReport(first);
  let shared = true;
  if ("error" in answer && answer.code === "WS_ERR_REUSE_PORT_UNSUPPORTED") {
    console.error(`one port per worker: ${answer.error}`);
    shared = false;
    await first.terminate();
    first = startThread({ index: 0, port, hostname, reusePort: false });
    answer = await firstReport(first);
  }
  workers.push(first);
  if ("error" in answer) throw new Error(`worker 0: ${answer.error}`);
  const ports = [answer.listening];
  for (let index = 1; index < count; index++) {
    const own = port === 0 ? 0 : port + index;
    const worker = startThread({ index, port: shared ? ports[0]! : own, hostname, reusePort: shared });
    workers.push(worker);
    const next = await firstReport(worker);
    if ("error" in next) throw new Error(`worker ${index}: ${next.error}`);
    ports.push(next.listening);
  }
  console.log(`ready ${JSON.stringify({ mode: "threads", shared, ports: [...new Set(ports)], workers: count })}`);
  onStopSignal(async () => {
    // Each worker closes its server gracefully, says so, and is then ended from here (the same on every runtime).
    await Promise.all(workers.map(async (worker) => {
      const stopped = new Promise((resolve) => worker.once("message", resolve));
      worker.postMessage("stop");
      await stopped;
      await worker.terminate();
    }));
  });
}

async function workerThread(task: WorkerTask): Promise<void> {
  let server: Server;
  try {
    server = await runServer(task, CHANNEL);
  } catch (error) {
    parentPort!.postMessage(report(error));
    return;
  }
  parentPort!.postMessage({ listening: server.port } satisfies WorkerReport);
  parentPort!.on("message", async (message) => {
    if (message !== "stop") return;
    await server.close();
    parentPort!.postMessage("stopped");
  });
}

// --- node:cluster processes ---

async function mainCluster(count: number, port: number, hostname: string): Promise<void> {
  const { relayClusterChannels } = await import("../adapters/node.ts");
  relayClusterChannels(cluster);
  const listening: Promise<number>[] = [];
  for (let index = 0; index < count; index++) {
    const worker = cluster.fork({ WSPORT_WORKER: String(index), WSPORT_PORT: String(port), WSPORT_HOST: hostname });
    listening.push(new Promise((resolve, reject) => {
      worker.on("message", (message: WorkerReport) => {
        if ("listening" in message) resolve(message.listening);
        else if ("error" in message) reject(new Error(`worker ${index}: ${message.error}`));
      });
    }));
  }
  const ports = await Promise.all(listening);
  console.log(`ready ${JSON.stringify({ mode: "cluster", shared: true, ports: [...new Set(ports)], workers: count })}`);
  onStopSignal(async () => {
    await Promise.all(Object.values(cluster.workers ?? {}).map((worker) => new Promise((resolve) => {
      worker!.once("exit", resolve);
      worker!.send("stop");
    })));
  });
}

async function clusterWorker(): Promise<void> {
  const { clusterChannel } = await import("../adapters/node.ts");
  const task: WorkerTask = {
    index: Number(process.env.WSPORT_WORKER),
    port: Number(process.env.WSPORT_PORT),
    hostname: process.env.WSPORT_HOST ?? "0.0.0.0",
    reusePort: false, // the primary shares the port
  };
  let server: Server;
  try {
    server = await runServer(task, clusterChannel("chat"));
  } catch (error) {
    process.send!(report(error));
    process.exit(1);
  }
  process.send!({ listening: server.port } satisfies WorkerReport);
  process.on("message", async (message) => {
    if (message !== "stop") return;
    await server.close();
    process.exit(0);
  });
}

// --- entry ---

function onStopSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(() => {
      console.log("stopped");
      process.exit(0);
    });
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

if (!isMainThread) {
  await workerThread(workerData as WorkerTask);
} else if (cluster.isWorker && process.env.WSPORT_WORKER !== undefined) {
  await clusterWorker();
} else {
  const args = parseArgs({ workers: "2", port: "9001", host: "0.0.0.0", mode: "threads" });
  const count = Math.max(1, Number(args.workers));
  if (args.mode === "cluster") await mainCluster(count, Number(args.port), args.host!);
  else await mainThreads(count, Number(args.port), args.host!);
}
