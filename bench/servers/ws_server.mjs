// Anchor on Node: ws 8 (with bufferutil and utf-8-validate installed).
// Echoes every message; text starting with "#b" goes to every client
// (a loop over wss.clients). --deflate 1 turns on perMessageDeflate.
//   node --expose-gc --import tsx bench/servers/ws_server.mjs --port 0 [--deflate 1]
import { WebSocketServer } from "ws";
import { args, ready } from "./control.ts";

const opts = args();
const wss = new WebSocketServer({
  port: Number(opts.port ?? 0),
  host: opts.host ?? "127.0.0.1",
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: opts.deflate === "1",
  clientTracking: true,
});
wss.on("connection", (ws) => {
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    if (!isBinary && data[0] === 0x23 && data[1] === 0x62) {
      for (const client of wss.clients) client.send(data, { binary: false });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
wss.on("listening", () => ready(wss.address().port, () => wss.clients.size));
