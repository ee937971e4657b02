// Anchor of the HTTP scenario on Node: node:http answering every request
// with a small fixed body, as the other servers of that scenario do.
// Keep-alive without an idle limit (keepAliveTimeout 0), so that idle
// connections stay open while their memory is measured.
//   node --expose-gc --import tsx bench/servers/node_http.mjs --port 0
import http from "node:http";
import { args, ready } from "./control.ts";

const opts = args();
let open = 0;
const server = http.createServer((request, response) => {
  response.setHeader("content-type", "text/plain;charset=UTF-8");
  response.end("hello world");
});
server.keepAliveTimeout = 0;
server.on("connection", (socket) => {
  open++;
  socket.on("close", () => open--);
});
server.listen(Number(opts.port ?? 0), opts.host ?? "127.0.0.1", () => ready(server.address().port, () => open));
