// Anchor on Bun: Bun.serve({ websocket }). Echoes every message; text starting
// with "#b" is published to the topic every connection subscribes to
// (server.publish, which also reaches the sender). --deflate 1 turns on perMessageDeflate.
//   bun bench/servers/bun_native.ts --port 0 [--deflate 1]
import { args, isTrigger, ready } from "./control.ts";

declare const Bun: any;
const opts = args();
let open = 0;
const server = Bun.serve({
  port: Number(opts.port ?? 0),
  hostname: opts.host ?? "127.0.0.1",
  fetch(req: Request, srv: any) {
    if (srv.upgrade(req)) return undefined;
    return new Response("websocket only", { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    perMessageDeflate: opts.deflate === "1",
    sendPings: false,
    idleTimeout: 0,
    open(ws: any) {
      open++;
      ws.subscribe("all");
    },
    message(ws: any, message: string | Uint8Array) {
      if (isTrigger(message)) server.publish("all", message);
      else ws.send(message);
    },
    close() {
      open--;
    },
  },
});
ready(server.port, () => open);
