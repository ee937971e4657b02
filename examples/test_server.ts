// The classic libwebsockets test server, on wsport: one port serves the demo
// page over HTTP and three WebSocket protocols (each in test_server/):
//   dumb-increment-protocol  a per-connection counter, sent every 50 ms; "reset", "closeme"
//   lws-mirror-protocol      every message to every connection, through a bounded ring
//   lws-status               the list of open connections, as JSON, pushed on every change
// Open the printed URL in a few browser tabs and draw on the canvas.
//   node --import tsx examples/test_server.ts [--port 7681] [--host 0.0.0.0] [--ssl [--cert FILE --key FILE] [--http2]] [--redis redis://HOST:PORT]
// With --ssl --http2 the page and its three WebSockets share one HTTP/2 connection (RFC 8441)
// in browsers that speak it; HTTP/1.1 clients keep working on the same port.
//   node_modules/.bin/deno run -A examples/test_server.ts
//   node_modules/.bin/bun examples/test_server.ts
// libwebsockets' own test client talks to it: libwebsockets-test-client localhost --port=7681
import { existsSync, readFileSync, realpathSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Network, type Server, type ServerTlsOptions, serve } from "../mod.ts";
import { redisEngine } from "../adapters/redis.ts";
import { serveDir } from "../adapters/static.ts";
import { type GeneratedCertificate, generateSelfSignedCertificate } from "./test_server/certificate.ts";
import { dumbIncrementProtocol } from "./test_server/dumb_increment.ts";
import { type DemoEvent, type DemoEventListener, remoteOf } from "./test_server/events.ts";
import { Mirror } from "./test_server/mirror.ts";
import { ConnectionList } from "./test_server/status.ts";

export { CLOSEME_REASON, DUMB_INCREMENT_PROTOCOL } from "./test_server/dumb_increment.ts";
export { DEFAULT_RING_SIZE, MIRROR_PROTOCOL, MIRROR_TOPIC } from "./test_server/mirror.ts";
export { STATUS_PROTOCOL, STATUS_TOPIC, type StatusMessage } from "./test_server/status.ts";
export type { DemoEvent, DemoEventListener } from "./test_server/events.ts";

export const DEFAULT_PORT = 7681;
/** The demo page and its assets (style, script, images), served as files. */
const WWW = fileURLToPath(new URL("./test_server/www/", import.meta.url));
/**
 * Send buffer size at which a connection stops being "writable". Small, so
 * that the mirror's writable callbacks pace it as lws's do (lws writes when
 * the socket can take more); with wsport's 1 MiB default a lagging reader
 * would absorb hundreds of messages before the ring saw any lag. Not below
 * 64 KiB: Node's sockets only report drain after their own high-water mark
 * (16 KiB on Node 20, 64 KiB on Node 22) was crossed.
 */
export const HIGH_WATER_MARK = 64 * 1024;

export interface TestServerOptions {
  /** Default 7681; 0 picks a free port (read `server.port`). */
  port?: number;
  /** Default "0.0.0.0". */
  hostname?: string;
  /** Certificate and key (PEM): serve https and wss. */
  tls?: ServerTlsOptions;
  /** With `tls`: also speak HTTP/2, so a browser's page and its WebSockets share one connection (RFC 8441). */
  http2?: boolean;
  /** Entries in the mirror's ring. Default 512. */
  ringSize?: number;
  /** Told about connections, numbers sent and the mirror's flow control. */
  onEvent?: DemoEventListener;
  /**
   * A Redis URL: demo servers on the same Redis (other ports, machines or
   * runtimes) share the mirror drawing and the list of connections.
   */
  redis?: string;
  /** Where to listen (default: this runtime's network). */
  network?: Network;
}

/**
 * Starts the test server.
 *
 * @param options Port, interface, TLS, ring size, event listener.
 * @returns The listening server; `server.close()` stops it gracefully.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<Server> {
  // At start: a missing page should stop the demo, not 404 later.
  if (!existsSync(WWW + "index.html")) throw new Error(`the demo page is missing: ${WWW}index.html`);
  const files = serveDir(WWW, { cacheControl: "no-cache" });
  const onEvent = options.onEvent ?? (() => {});
  const connections = new ConnectionList(onEvent);
  const mirror = new Mirror(onEvent, options.ringSize);
  const pubsub = options.redis === undefined ? undefined : await redisEngine({ url: options.redis, presence: { info: { demo: true } } });
  const server = await serve({
    pubsub,
    port: options.port ?? DEFAULT_PORT,
    hostname: options.hostname ?? "0.0.0.0",
    tls: options.tls,
    http2: options.http2,
    network: options.network,
    highWaterMark: HIGH_WATER_MARK,
    // The first protocol also serves clients that ask for none, as in lws.
    protocols: [
      connections.track(dumbIncrementProtocol(onEvent)),
      connections.track(mirror.protocol),
      connections.protocol,
    ],
    // The page and its assets: a browser loads them over one kept-alive connection (or one HTTP/2 connection).
    fetch: (request, peer) => {
      if (new URL(request.url).pathname === "/") onEvent({ type: "page", remote: remoteOf(peer) });
      return files(request);
    },
  });
  if (pubsub !== undefined) {
    mirror.link(server);
    const name = `${options.hostname === undefined || options.hostname === "0.0.0.0" ? "localhost" : options.hostname}:${server.port}`;
    const stopSharing = connections.link(server, name);
    const close = server.close.bind(server);
    server.close = async (shutdown) => {
      stopSharing();
      await close(shutdown);
    };
  }
  return server;
}

export const USAGE = "usage: test_server.ts [--port 7681] [--host 0.0.0.0] [--ssl [--cert FILE --key FILE] [--http2]] [--redis redis://HOST:PORT]";

/** Thrown by {@link startFromArguments} for --help. */
export class UsageRequested extends Error {
  constructor() {
    super(USAGE);
  }
}

/** A test server started from command-line arguments. */
export interface RunningDemo {
  server: Server;
  /** The page's URL. */
  url: string;
  /** Set when `--ssl` came without `--cert`/`--key`. */
  certificate?: GeneratedCertificate;
  /** Closes every connection gracefully, then removes a generated certificate. */
  stop(): Promise<void>;
}

/**
 * Does what the command line does, except installing signal handlers.
 *
 * @param argv The arguments, without the runtime and script.
 * @param log Where to print (the URL, generated files, connections).
 * @returns The running demo.
 */
export async function startFromArguments(argv: string[], log: (line: string) => void): Promise<RunningDemo> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: String(DEFAULT_PORT) },
      host: { type: "string", default: "0.0.0.0" },
      ssl: { type: "boolean", default: false },
      http2: { type: "boolean", default: false },
      cert: { type: "string" },
      key: { type: "string" },
      redis: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) throw new UsageRequested();
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a port number`);
  if ((values.cert !== undefined || values.key !== undefined) && !values.ssl) throw new Error("--cert and --key go with --ssl");
  if ((values.cert === undefined) !== (values.key === undefined)) throw new Error("--cert and --key go together");
  if (values.http2 && !values.ssl) throw new Error("--http2 goes with --ssl: browsers speak HTTP/2 only over TLS");

  let tls: ServerTlsOptions | undefined;
  let certificate: GeneratedCertificate | undefined;
  if (values.ssl && values.cert !== undefined) {
    tls = { cert: readFileSync(values.cert, "utf8"), key: readFileSync(values.key!, "utf8") };
  } else if (values.ssl) {
    certificate = generateSelfSignedCertificate();
    tls = { cert: certificate.cert, key: certificate.key };
    log(`generated a self-signed certificate for localhost with openssl: ${certificate.certFile} (browsers will warn; trust it or click through)`);
  }

  let server: Server;
  try {
    server = await startTestServer({ port, hostname: values.host, tls, http2: values.http2, redis: values.redis, onEvent: (event) => logEvent(event, log) });
  } catch (error) {
    certificate?.remove();
    throw error;
  }
  const host = values.host === "0.0.0.0" || values.host === "::" ? "localhost" : values.host.includes(":") ? `[${values.host}]` : values.host;
  const url = `${tls ? "https" : "http"}://${host}:${server.port}/`;
  log(`wsport test server listening on ${url}${values.http2 ? " (HTTP/2 and HTTP/1.1)" : ""}${values.redis ? ` (sharing the mirror and the connection list through ${values.redis})` : ""}`);
  return {
    server,
    url,
    certificate,
    stop: async () => {
      await server.close();
      certificate?.remove();
    },
  };
}

/** The command line's log: connections come and go (numbers and mirror traffic would flood it). */
function logEvent(event: DemoEvent, log: (line: string) => void): void {
  if (event.type === "open") log(`${event.protocol}: ${event.remote} connected`);
  else if (event.type === "close") log(`${event.protocol}: ${event.remote} closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`);
}

/** True when this file is the program, not imported (by the tests). */
function isMainModule(): boolean {
  const main = (import.meta as { main?: boolean }).main; // Deno, Bun, Node >= 24.2
  if (main !== undefined) return main;
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  let demo: RunningDemo;
  try {
    demo = await startFromArguments(process.argv.slice(2), console.log);
  } catch (error) {
    if (error instanceof UsageRequested) {
      console.log(USAGE);
      process.exit(0);
    }
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) process.exit(1); // a second Ctrl-C: stop waiting for slow closing handshakes
    stopping = true;
    console.log(`${signal}: closing every connection (1001)`);
    void demo.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

if (isMainModule()) await main();
