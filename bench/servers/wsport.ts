// wsport bench server, the same file on Node, Deno and Bun: echoes every
// message, except text starting with "#b", which it broadcasts to every
// connection of the protocol (server.broadcast), and answers plain HTTP
// requests with "hello world" (the HTTP scenario). Public API only.
//   node --expose-gc --import tsx bench/servers/wsport.ts --port 0
//   deno run -A --v8-flags=--expose-gc bench/servers/wsport.ts --port 0
//   bun bench/servers/wsport.ts --port 0
// Options:
//   --deflate 1          permessage-deflate with the library's defaults (threshold 1024, as ws)
//   --codec pako|zlib|hybrid  with --deflate 1: pakoCodec, zlibCodec() from adapters/zlib.ts, or
//                        hybridCodec(pakoCodec, zlibCodec()) (Node's default); without it the runtime's default
//   --redis URL          broadcasts also reach the other servers on that Redis (wsport/redis,
//                        default options): the "cluster" scenario
//   --cert F --key F     TLS (PEM files): wss and https
//   --http2 1            with --cert/--key: HTTP/2 too (RFC 8441 WebSockets as streams), HTTP/1.1 on the same port
//   --ping-interval MS   keepalive pings (default 0: none); a connection quiet for a whole
//                        interval frees its compressor (and its inflate window under
//                        client_no_context_takeover), so this makes the idle release observable
// With --deflate 1 it prints, before "listening", a line
//   info {"codec", "defaultCodec", "level", "memLevel", "serverWindowBits", "threshold"}
// read from the library's exports (undefined where the library has no such constant).
import { readFileSync } from "node:fs";
import * as wsport from "../../mod.ts";
import type { DeflateCodec, ServerExtensionFactory } from "../../mod.ts";
import { args, isTrigger, ready } from "./control.ts";

const opts = args();
const lib = wsport as unknown as Record<string, unknown>;
const extensions: ServerExtensionFactory[] = [];
let codec: DeflateCodec | undefined;
if (opts.deflate === "1") {
  if (opts.codec === "zlib") codec = (await import("../../adapters/zlib.ts")).zlibCodec();
  else if (opts.codec === "pako") codec = wsport.pakoCodec;
  else if (opts.codec === "hybrid") codec = wsport.hybridCodec(wsport.pakoCodec, (await import("../../adapters/zlib.ts")).zlibCodec());
  else if (opts.codec !== undefined) throw new Error(`--codec must be pako, zlib or hybrid, not ${opts.codec}`);
  extensions.push(wsport.perMessageDeflate(codec ? { codec } : {}));
} else if (opts.codec) {
  throw new Error("--codec needs --deflate 1");
}
const pubsub = opts.redis ? await (await import("../../adapters/redis.ts")).redisEngine({ url: opts.redis }) : undefined;
const tls = opts.cert ? { cert: readFileSync(opts.cert, "utf8"), key: readFileSync(opts.key!, "utf8") } : undefined;
if (opts.http2 === "1" && !tls) throw new Error("--http2 1 needs --cert and --key");
const server = await wsport.serve({
  pubsub,
  ...(tls ? { tls, http2: opts.http2 === "1" } : {}),
  port: Number(opts.port ?? 0),
  hostname: opts.host ?? "127.0.0.1",
  pingInterval: Number(opts["ping-interval"] ?? 0),
  // Plain HTTP on the same port (the HTTP scenario): a small fixed answer, kept alive without an idle limit.
  fetch: () => new Response("hello world"),
  keepAliveTimeout: 0,
  maxMessageSize: 64 * 1024 * 1024,
  ...(extensions.length ? { extensions } : {}),
  protocols: [{
    name: "bench",
    message(ws, message) {
      if (isTrigger(message)) server.broadcast("bench", message);
      else ws.send(message);
    },
  }],
});
if (extensions.length) {
  // serve() installs the runtime's default codec, so ask after it.
  const defaultCodec = typeof lib.defaultDeflateCodec === "function" ? (lib.defaultDeflateCodec as () => DeflateCodec)() : wsport.pakoCodec;
  const info = {
    codec: (codec ?? defaultCodec).name,
    defaultCodec: defaultCodec.name,
    level: lib.DEFAULT_DEFLATE_LEVEL,
    memLevel: lib.DEFAULT_DEFLATE_MEM_LEVEL,
    serverWindowBits: lib.DEFAULT_SERVER_WINDOW_BITS,
    threshold: lib.DEFAULT_DEFLATE_THRESHOLD,
  };
  const line = "info " + JSON.stringify(info) + "\n";
  const g = globalThis as { Deno?: any; process?: any };
  if (g.Deno) g.Deno.stdout.writeSync(new TextEncoder().encode(line));
  else g.process.stdout.write(line);
}
ready(server.port, () => server.connections.size);
