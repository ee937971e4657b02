// Anchor on Bun: Bun.serve({ websocket }). Echoes every message; text starting
// with "#b" is published to the topic every connection subscribes to
// (server.publish, which also reaches the sender). --deflate 1 turns on perMessageDeflate
// (true: Bun answers every offer, even a browser's, with server_no_context_takeover and
// client_no_context_takeover, as seen on Bun 1.4.5: no window has to outlive a message),
// and then sends compressed, as ws and wsport do (Bun's send and publish compress only when told).
//   bun bench/servers/bun_native.ts --port 0 [--deflate 1]
import { args, isTrigger, ready } from "./control.ts";

declare const Bun: any;
const opts = args();
const compress = opts.deflate === "1";
let open = 0;
const server = Bun.serve({
  port: Number(opts.port ?? 0),
  hostname: opts.host ?? "127.0.0.1",
  // Keep-alive without an idle limit, as the other servers of the HTTP scenario.
  idleTimeout: 0,
  fetch(req: Request, srv: any) {
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket" && srv.upgrade(req)) return undefined;
    return new Response("hello world"); // plain HTTP (the HTTP scenario)
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
      // Bun compresses a message only when asked (the last argument), even with perMessageDeflate on.
      if (isTrigger(message)) server.publish("all", message, compress);
      else ws.send(message, compress);
    },
    close() {
      open--;
    },
  },
});
ready(server.port, () => open);
