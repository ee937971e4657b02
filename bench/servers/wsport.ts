// wsport bench server, the same file on Node, Deno and Bun: echoes every
// message, except text starting with "#b", which it broadcasts to every
// connection of the protocol (server.broadcast). Public API only.
//   node --expose-gc --import tsx bench/servers/wsport.ts --port 0
//   deno run -A --v8-flags=--expose-gc bench/servers/wsport.ts --port 0
//   bun bench/servers/wsport.ts --port 0
import { serve } from "../../mod.ts";
import { args, isTrigger, ready } from "./control.ts";

const opts = args();
const server = await serve({
  port: Number(opts.port ?? 0),
  hostname: opts.host ?? "127.0.0.1",
  pingInterval: 0,
  maxMessageSize: 64 * 1024 * 1024,
  protocols: [{
    name: "bench",
    message(ws, message) {
      if (isTrigger(message)) server.broadcast("bench", message);
      else ws.send(message);
    },
  }],
});
ready(server.port, () => server.connections.size);
