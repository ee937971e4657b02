// A private redis-server (Debian `redis-server`) for the tests: a free port on
// 127.0.0.1, a temporary directory, optional password, TLS and append-only
// persistence; kill -9, restart on the same port and data, stop. Works on
// Node, Deno and Bun (node:child_process).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REDIS_SERVER = "/usr/bin/redis-server";

/** undefined when Debian's redis-server can run here, else why not (naming the package). */
export function redisServerMissing(): string | undefined {
  const run = spawnSync(REDIS_SERVER, ["--version"], { encoding: "utf8", timeout: 15_000 });
  if (run.error || run.status !== 0) return `needs ${REDIS_SERVER} (Debian package redis-server: apt-get install redis-server)`;
  return undefined;
}

export interface RedisServerOptions {
  /** requirepass. */
  password?: string;
  /** Serve TLS only (rediss://), with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** appendonly yes + appendfsync always: the data survives kill -9. */
  persistent?: boolean;
}

export interface RedisServer {
  port: number;
  /** redis:// or rediss:// URL (with the password). */
  url: string;
  /** kill -9, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** SIGTERM, wait, remove the directory. */
  stop(): Promise<void>;
  /** Runs redis-cli against it. */
  cli(...args: string[]): string;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "wsport-redis-"));
  const port = await freePort();
  const args = ["--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--protected-mode", "no"];
  args.push(...(options.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
  if (options.password !== undefined) args.push("--requirepass", options.password);
  if (options.tls !== undefined) {
    writeFileSync(join(dir, "tls.crt"), options.tls.cert);
    writeFileSync(join(dir, "tls.key"), options.tls.key);
    args.push("--port", "0", "--tls-port", String(port), "--tls-cert-file", join(dir, "tls.crt"), "--tls-key-file", join(dir, "tls.key"), "--tls-auth-clients", "no");
  } else {
    args.push("--port", String(port));
  }
  let child: ChildProcess | undefined;
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
      child = proc;
      let out = "";
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out.slice(-800)}`)), 30_000);
      proc.stdout!.on("data", (chunk) => {
        out += String(chunk);
        if (out.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr!.on("data", (chunk) => (out += String(chunk)));
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out.slice(-800)}`));
      });
    });
  const waitExit = (proc: ChildProcess) => proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  await launch();
  const auth = options.password !== undefined ? `:${encodeURIComponent(options.password)}@` : "";
  const url = `${options.tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`;
  return {
    port,
    url,
    async kill9() {
      const proc = child!;
      const gone = waitExit(proc);
      proc.kill("SIGKILL");
      await gone;
    },
    restart: launch,
    async stop() {
      const proc = child!;
      const gone = waitExit(proc);
      proc.kill("SIGTERM");
      await gone;
      rmSync(dir, { recursive: true, force: true });
    },
    cli(...cliArgs: string[]) {
      const base = ["-h", "127.0.0.1", "-p", String(port), "--no-auth-warning"];
      if (options.password !== undefined) base.push("-a", options.password);
      if (options.tls !== undefined) base.push("--tls", "--insecure");
      const run = spawnSync("/usr/bin/redis-cli", [...base, ...cliArgs], { encoding: "utf8", timeout: 15_000 });
      if (run.status !== 0) throw new Error(`redis-cli ${cliArgs.join(" ")}: ${run.stderr}`);
      return run.stdout.trim();
    },
  };
}
