// Anchor on Deno: Deno.serve + Deno.upgradeWebSocket. Echoes every message;
// text starting with "#b" is sent to every open socket (a loop over a Set);
// plain HTTP requests get "hello world" (the HTTP scenario).
//   deno run -A --v8-flags=--expose-gc bench/servers/deno_native.ts --port 0
// No --deflate: Deno.upgradeWebSocket has no compression option and answers an
// offer of permessage-deflate without Sec-WebSocket-Extensions (checked on deno 2.9.6),
// so the deflate scenarios have no Deno anchor.
import { args, isTrigger, ready } from "./control.ts";

declare const Deno: any;
const opts = args();
const sockets = new Set<WebSocket>();
const server = Deno.serve({
  port: Number(opts.port ?? 0),
  hostname: opts.host ?? "127.0.0.1",
  onListen() {},
}, (req: Request) => {
  // Plain HTTP (the HTTP scenario): a small fixed answer.
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("hello world");
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
  socket.binaryType = "arraybuffer";
  socket.onopen = () => sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  socket.onerror = () => {};
  socket.onmessage = (event: MessageEvent) => {
    const data = event.data;
    if (isTrigger(data)) {
      for (const s of sockets) s.send(data);
    } else {
      socket.send(data);
    }
  };
  return response;
});
ready(server.addr.port, () => sockets.size);
