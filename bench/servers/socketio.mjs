// socket.io 4 bench server for the "cluster" scenario, with @socket.io/redis-adapter
// when given --redis: every "m" event is emitted to every client of every process.
// WebSocket transport only (the load generator speaks Engine.IO over a plain WebSocket).
//   node bench/servers/socketio.mjs --port 0 [--redis redis://127.0.0.1:6379]
import http from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { args, ready } from "./control.ts";

const opts = args();
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  // No Engine.IO heartbeat during a run (the load generator does not answer pings), as wsport's bench server.
  pingInterval: 600_000,
  pingTimeout: 600_000,
});
if (opts.redis) {
  const pub = new Redis(opts.redis);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub));
}
io.on("connection", (socket) => {
  socket.on("m", (data) => io.emit("m", data));
});
httpServer.listen(Number(opts.port ?? 0), opts.host ?? "127.0.0.1", () => {
  ready(httpServer.address().port, () => io.engine.clientsCount);
});
