// Checks the built package (dist/) as a user gets it: import (ESM) on any
// runtime, require (CJS) where available, and one exchange through the core.
// Run after `npm run build`: node|bun scripts/dist_smoke.mjs, deno run -A scripts/dist_smoke.mjs
import * as esm from "../dist/mod.js";

async function loadCjs() {
  try {
    const { createRequire } = await import("node:module");
    return createRequire(import.meta.url)("../dist/mod.cjs");
  } catch (error) {
    throw new Error(`require(dist/mod.cjs) failed: ${error.message}`);
  }
}

function exchange(lib, label) {
  const server = new lib.ServerConnection();
  const client = new lib.ClientConnection({ host: "example.com", path: "/smoke" });
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
exchange(esm, `${runtime} ESM dist/mod.js`);
exchange(await loadCjs(), `${runtime} CJS dist/mod.cjs`);

// The built package on real sockets, with the network it picks for this runtime.
const network = await esm.runtimeNetwork();
const server = await esm.serve({
  hostname: "127.0.0.1",
  pingInterval: 0,
  protocols: [{ name: "echo", message: (ws, message) => ws.send(message) }],
});
const client = await esm.connect(`ws://127.0.0.1:${server.port}/`, { pingInterval: 0 });
client.send("over a socket");
const reply = await client[Symbol.asyncIterator]().next();
if (reply.value !== "over a socket") throw new Error(`${runtime}: socket echo failed`);
client.close();
await client.closed;
await server.close();
console.log(`${runtime} dist serve/connect over ${network.name}: ok`);
const sub = await import("../dist/node.js");
if (typeof sub.upgradeHandler !== "function") throw new Error("wsport/node lacks upgradeHandler");
console.log(`${runtime} dist subpath wsport/node: ok`);
