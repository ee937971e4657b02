import { ServerProtocol } from "../src/core/server_protocol.ts";
const req = new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: loadgen\r\n\r\n");
function run(n: number) { for (let i = 0; i < n; i++) { const s = new ServerProtocol(); const [e] = s.receiveData(req.slice()); if (e?.type !== "request") throw new Error("x"); s.accept(); s.dataToSend(); } }
run(20000);
const t = performance.now(); const N = 100000; run(N); const ms = performance.now() - t;
console.log(`${(globalThis as any).Bun ? "bun" : (globalThis as any).Deno ? "deno" : "node"} core handshake: ${(N / ms * 1000).toFixed(0)}/s, ${(ms * 1000 / N).toFixed(2)} µs each`);
