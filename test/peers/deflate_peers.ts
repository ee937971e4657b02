// Drivers for the permessage-deflate interop peers that run as child
// processes: Python's `websockets` (python_deflate_server.py and
// python_deflate_client.py) and libwebsockets' test server (Debian's
// libwebsockets-test-server). Like peers.ts, only node:* modules that Node,
// Deno and Bun all provide are used, and no child may outlive the test
// process: every child is killed on exit, and the Python scripts also stop
// when their stdin closes.

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { PYTHON } from "./peers.ts";
import { portLine, tail, terminate, track, unrefAll } from "./children.ts";

export { terminate };

export const LWS_TEST_SERVER = "/usr/bin/libwebsockets-test-server";

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const SERVER_SCRIPT = here("./python_deflate_server.py");
const CLIENT_SCRIPT = here("./python_deflate_client.py");

// ---------------------------------------------------------------------------
// Python websockets

/** Command-line options of both Python scripts: the permessage-deflate parameters to use. */
export interface PythonDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  /** A number, "bare" (offer without a value) or, for the client, "none" (do not offer it). */
  clientMaxWindowBits?: number | "bare" | "none";
}

function pythonArgs(options: PythonDeflateOptions): string[] {
  const args: string[] = [];
  if (options.serverNoContextTakeover) args.push("--server-no-context-takeover");
  if (options.clientNoContextTakeover) args.push("--client-no-context-takeover");
  if (options.serverMaxWindowBits !== undefined) args.push("--server-max-window-bits", String(options.serverMaxWindowBits));
  if (options.clientMaxWindowBits !== undefined) args.push("--client-max-window-bits", String(options.clientMaxWindowBits));
  return args;
}

/** Starts python_deflate_server.py on 127.0.0.1 and a free port. */
export async function startPythonDeflateServer(options: PythonDeflateOptions = {}): Promise<{ port: number; stop(): Promise<void>; stderr(): string }> {
  const child = track(spawn(PYTHON, ["-u", SERVER_SCRIPT, "--port", "0", ...pythonArgs(options)], { stdio: ["pipe", "pipe", "pipe"] }));
  const stderr = tail(child.stderr, 1 << 16);
  const port = await portLine(child, "python_deflate_server.py", stderr);
  unrefAll(child);
  let stopping: Promise<void> | undefined;
  return { port, stop: () => (stopping ??= terminate(child)), stderr };
}

/** What python_deflate_client.py reports. */
export interface PythonClientReport {
  request_extensions: string;
  response_extensions: string;
  negotiated: string;
  compressed_in: number;
  compressed_out: number;
  results: { name: string; ok: boolean }[];
  sent: { type: "text" | "binary"; length: number; sha256: string }[];
  close: [number, string];
}

/** Runs python_deflate_client.py against `url` and returns its report. */
export async function runPythonDeflateClient(url: string, options: PythonDeflateOptions = {}): Promise<PythonClientReport> {
  const child = track(spawn(PYTHON, ["-u", CLIENT_SCRIPT, url, ...pythonArgs(options)], { stdio: ["ignore", "pipe", "pipe"] }));
  const stdout = tail(child.stdout, 1 << 20);
  const stderr = tail(child.stderr, 1 << 16);
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
    child.once("error", (e) => reject(new Error(`python_deflate_client.py could not start: ${e.message}`)));
    child.once("close", (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) throw new Error(`python_deflate_client.py failed (${signal ?? `exit ${code}`}) against ${url}:\n${stderr()}`);
  const line = stdout().split("\n").filter(Boolean).pop() ?? "";
  try {
    const report = JSON.parse(line) as PythonClientReport;
    if (stderr()) (report as PythonClientReport & { stderr?: string }).stderr = stderr();
    return report;
  } catch {
    throw new Error(`python_deflate_client.py printed no JSON: ${JSON.stringify(stdout())}\n${stderr()}`);
  }
}

// ---------------------------------------------------------------------------
// libwebsockets-test-server

/** undefined when the libwebsockets test server can run here, else why not. */
export function lwsMissing(): string | undefined {
  if (!existsSync(LWS_TEST_SERVER)) {
    return `${LWS_TEST_SERVER} is missing: install the Debian package libwebsockets-test-server (apt-get install libwebsockets-test-server)`;
  }
  const run = spawnSync(LWS_TEST_SERVER, ["--help"], { encoding: "utf8", timeout: 10_000 });
  if (run.error) return `${LWS_TEST_SERVER} cannot be run (${run.error.message})`;
  return undefined;
}

/** A free TCP port on 127.0.0.1 (released before returning: the caller races to bind it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A running libwebsockets-test-server, with its log (stderr) for the checks that need lws's own account. */
export interface LwsServer {
  port: number;
  /** Everything it logged so far (the last MiB). */
  log(): string;
  /** The sum of its "pmd test: RX len N" lines so far: bytes its lws-status protocol received, inflated. */
  inflated(): number;
  /** Whether the process has ended (e.g. aborted on an assertion). */
  exited(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts libwebsockets-test-server on a free port with notice and info
 * logging (`-d 1039`), which is where its lws-status protocol logs
 * `pmd test: RX len N` for every piece of each message it inflated.
 * Another process may hold the port between our probe and lws's bind (the
 * machine is shared): lws then logs "ERROR on binding" and keeps running,
 * so that case is detected and retried on another port.
 */
export async function startLwsTestServer(): Promise<LwsServer> {
  let lastProblem = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = track(spawn(LWS_TEST_SERVER, [`--port=${port}`, "-d", "1039"], { stdio: ["ignore", "pipe", "pipe"] }));
    const log = tail(child.stderr, 1 << 20);
    tail(child.stdout);
    let inflated = 0;
    createInterface({ input: child.stderr! }).on("line", (line) => {
      const m = /pmd test: RX len (\d+)/.exec(line);
      if (m) inflated += Number(m[1]);
    });
    const started = Date.now();
    let listening = false;
    while (Date.now() - started < 10_000 && child.exitCode === null && !/ERROR on binding/.test(log())) {
      if (await canConnect(port)) {
        listening = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // The bind error, if any, is logged before the listener accepts anything.
    await new Promise((r) => setTimeout(r, 100));
    if (listening && child.exitCode === null && !/ERROR on binding/.test(log())) {
      let stopping: Promise<void> | undefined;
      return {
        port,
        log,
        inflated: () => inflated,
        exited: () => child.exitCode !== null || child.signalCode !== null,
        stop: () => (stopping ??= terminate(child)),
      };
    }
    lastProblem = `port ${port}: ${child.exitCode !== null ? `exited with ${child.exitCode}` : listening ? "could not bind" : "not listening within 10 s"}\n${log().slice(-2000)}`;
    await terminate(child);
  }
  throw new Error(`libwebsockets-test-server did not start: ${lastProblem}`);
}
