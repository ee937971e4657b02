// Echo load generator: N raw TCP connections, each does the WebSocket
// handshake, then keeps `depth` precomputed masked frames in flight and
// counts echoed frames by parsing only frame lengths. Plain JS on node:net,
// so it costs the same whatever server it measures.
//
//   node bench/loadgen.mjs --port 9001 --size 32 --conns 4 --depth 64 --seconds 3
// Prints one JSON line: { messages, seconds, rate, cpu } (cpu: this process's CPU share).
import net from "node:net";
import { randomBytes } from "node:crypto";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, arg, i, all) => {
  if (arg.startsWith("--")) acc.push([arg.slice(2), all[i + 1]]);
  return acc;
}, []));
const port = Number(args.port ?? 9001);
const host = args.host ?? "127.0.0.1";
const size = Number(args.size ?? 32);
const conns = Number(args.conns ?? 4);
const depth = Number(args.depth ?? 64);
const seconds = Number(args.seconds ?? 3);
const warmup = Number(args.warmup ?? 1);
const binary = args.binary === "1";

function maskedFrame(payloadSize) {
  const payload = binary ? randomBytes(payloadSize) : Buffer.from("x".repeat(payloadSize));
  const lengthBytes = payloadSize < 126 ? 0 : payloadSize < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + lengthBytes + 4 + payloadSize);
  frame[0] = 0x80 | (binary ? 2 : 1);
  if (lengthBytes === 0) frame[1] = 0x80 | payloadSize;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payloadSize, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(payloadSize), 2);
  }
  const key = randomBytes(4);
  key.copy(frame, 2 + lengthBytes);
  for (let i = 0; i < payloadSize; i++) frame[6 + lengthBytes + i] = payload[i] ^ key[i & 3];
  return frame;
}

const frame = maskedFrame(size);
const burst = Buffer.concat(Array.from({ length: depth }, () => frame));
let counted = 0;
let counting = false;

function open() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    let handshakeDone = false;
    let pending = Buffer.alloc(0);
    let inFlight = 0;
    socket.on("error", reject);
    socket.on("connect", () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on("data", (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      if (!handshakeDone) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!pending.subarray(0, 12).toString().includes("101")) return reject(new Error(pending.toString()));
        handshakeDone = true;
        pending = pending.subarray(end + 4);
        resolve(socket);
        socket.write(burst);
        inFlight = depth;
      }
      let at = 0;
      let replies = 0;
      while (pending.length - at >= 2) {
        const len7 = pending[at + 1] & 0x7f;
        const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
        if (pending.length - at < head) break;
        const len = len7 < 126 ? len7 : len7 === 126 ? pending.readUInt16BE(at + 2) : Number(pending.readBigUInt64BE(at + 2));
        if (pending.length - at < head + len) break;
        at += head + len;
        replies++;
      }
      pending = pending.subarray(at);
      if (counting) counted += replies;
      inFlight -= replies;
      // Refill in whole bursts so the server sees batched reads, as real clients with many messages do.
      if (inFlight <= depth / 2) {
        socket.write(burst);
        inFlight += depth;
      }
    });
  });
}

const sockets = await Promise.all(Array.from({ length: conns }, open));
await new Promise((r) => setTimeout(r, warmup * 1000));
const cpuStart = process.cpuUsage();
const start = performance.now();
counting = true;
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsed = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuStart);
for (const s of sockets) s.destroy();
console.log(JSON.stringify({ messages: counted, seconds: elapsed, rate: Math.round(counted / elapsed), cpu: Number(((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(2)) }));
process.exit(0);
