// Checks the built package (dist/) as a user gets it: import (ESM) on any
// runtime, require (CJS) where available, one exchange through the core
// (wsport/core) and one over real sockets through the main entry.
// Run after `npm run build`: node|bun scripts/dist_smoke.mjs, deno run -A scripts/dist_smoke.mjs
import * as esm from "../dist/mod.js";
import * as core from "../dist/core.js";

async function loadCjs() {
  try {
    const { createRequire } = await import("node:module");
    return createRequire(import.meta.url)("../dist/core.cjs");
  } catch (error) {
    throw new Error(`require(dist/core.cjs) failed: ${error.message}`);
  }
}

function exchange(lib, label) {
  const server = new lib.ServerProtocol();
  const client = new lib.ClientProtocol({ host: "example.com", path: "/smoke" });
  const pipe = (from, to) => from.dataToSend().flatMap((c) => (c === lib.SEND_EOF ? to.receiveEof() : to.receiveData(c)));
  const [request] = pipe(client, server);
  if (request?.type !== "request" || request.request.path !== "/smoke") throw new Error(`${label}: no request event`);
  server.accept();
  const [response] = pipe(server, client);
  if (response?.type !== "response") throw new Error(`${label}: no response event`);
  client.sendText("smoke");
  const [message] = pipe(client, server);
  if (message?.type !== "text" || message.data !== "smoke") throw new Error(`${label}: message lost`);
  console.log(`${label}: ok`);
}

const runtime = globalThis.Bun ? "bun" : globalThis.Deno ? "deno" : "node";
exchange(core, `${runtime} ESM dist/core.js`);
exchange(await loadCjs(), `${runtime} CJS dist/core.cjs`);
if ("ServerProtocol" in esm) throw new Error("the main entry re-exports the core's state machines");

// The built package on real sockets, with the network it picks for this runtime.
const network = await esm.runtimeNetwork();
// With permessage-deflate, so the codec dependency (pako, or node:zlib) resolves from the build.
const server = await esm.serve({
  hostname: "127.0.0.1",
  pingInterval: 0,
  extensions: [esm.perMessageDeflate({ threshold: 0 })],
  protocols: [{ name: "echo", message: (ws, message) => ws.send(message) }],
});
const client = await esm.connect(`ws://127.0.0.1:${server.port}/`, { pingInterval: 0, extensions: [esm.perMessageDeflate({ threshold: 0 })] });
if (!client.extensions.startsWith("permessage-deflate")) throw new Error(`${runtime}: deflate not negotiated`);
const text = "over a socket, compressed ".repeat(100);
client.send(text);
const reply = await client[Symbol.asyncIterator]().next();
if (reply.value !== text) throw new Error(`${runtime}: socket echo failed`);
client.close();
await client.closed;
await server.close();
console.log(`${runtime} dist serve/connect with permessage-deflate (${core.defaultDeflateCodec().name}) over ${network.name}: ok`);
const sub = await import("../dist/node.js");
if (typeof sub.upgradeHandler !== "function") throw new Error("wsport/node lacks upgradeHandler");
console.log(`${runtime} dist subpath wsport/node: ok`);
for (const [path, name] of [["../dist/static.js", "serveDir"], ["../dist/zlib.js", "zlibCodec"]]) {
  const mod = await import(path);
  if (typeof mod[name] !== "function") throw new Error(`${path} lacks ${name}`);
}
console.log(`${runtime} dist subpaths wsport/static, wsport/zlib: ok`);
// wsport/redis loads its Redis client only when an engine is made: importing it needs no client.
const redis = await import("../dist/redis.js");
if (typeof redis.redisEngine !== "function" || typeof redis.RedisEngine !== "function") throw new Error("wsport/redis lacks redisEngine");
const { head, body } = redis.encodeWire("publish", "smoke", 1, "hi");
if (redis.decodeWire(redis.joinWire(head, body)).message !== "hi") throw new Error("wsport/redis wire format round trip failed");
console.log(`${runtime} dist subpath wsport/redis: ok`);
