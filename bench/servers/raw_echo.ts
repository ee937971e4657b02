// The upper bound of each runtime's socket path: no WebSocket parsing at all.
// Reads the request head, answers a canned 101, then writes every received
// chunk back unchanged (the client's masked frames come back as they went).
//   node --import tsx bench/servers/raw_echo.ts --port 0   (node:net)
//   deno run -A bench/servers/raw_echo.ts --port 0          (Deno.listen)
//   bun bench/servers/raw_echo.ts --port 0                  (Bun.listen)
import { args, ready } from "./control.ts";

declare const Deno: any;
declare const Bun: any;
const g = globalThis as { Deno?: unknown; Bun?: unknown };
const opts = args();
const port = Number(opts.port ?? 0);
const hostname = opts.host ?? "127.0.0.1";
const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);
let open = 0;

/** Returns the bytes after the request head once it is complete, else undefined (keeps the partial head in `state`). */
function afterHead(state: { head: string }, chunk: Uint8Array): Uint8Array | undefined {
  state.head += new TextDecoder("latin1").decode(chunk);
  const end = state.head.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const restLength = state.head.length - (end + 4);
  return chunk.subarray(chunk.length - restLength);
}

if (g.Bun) {
  // Bun's socket.write writes what the kernel takes and returns the count: keep the rest until "drain".
  type S = { upgraded: boolean; head: string; pending: Uint8Array[] };
  const send = (socket: any, bytes: Uint8Array) => {
    const state = socket.data as S;
    if (state.pending.length) return void state.pending.push(bytes.slice());
    const written = socket.write(bytes);
    if (written < bytes.length) state.pending.push(bytes.slice(Math.max(0, written)));
  };
  const listener = Bun.listen({
    hostname,
    port,
    socket: {
      open(socket: any) { socket.data = { upgraded: false, head: "", pending: [] } as S; open++; },
      data(socket: any, chunk: Uint8Array) {
        const state = socket.data as S;
        if (state.upgraded) return send(socket, chunk);
        const rest = afterHead(state, chunk);
        if (rest === undefined) return;
        state.upgraded = true;
        send(socket, RESPONSE);
        if (rest.length) send(socket, rest);
      },
      drain(socket: any) {
        const state = socket.data as S;
        while (state.pending.length) {
          const bytes = state.pending[0]!;
          const written = socket.write(bytes);
          if (written < bytes.length) { state.pending[0] = bytes.subarray(Math.max(0, written)); return; }
          state.pending.shift();
        }
      },
      close() { open--; },
      error() {},
    },
  });
  ready(listener.port, () => open);
} else if (g.Deno) {
  const listener = Deno.listen({ hostname, port });
  ready(listener.addr.port, () => open);
  for await (const conn of listener) {
    void (async () => {
      open++;
      conn.setNoDelay(true);
      const buffer: Uint8Array = new Uint8Array(256 * 1024);
      const state = { head: "" };
      let upgraded = false;
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          let chunk = buffer.subarray(0, n);
          if (!upgraded) {
            const rest = afterHead(state, chunk);
            if (rest === undefined) continue;
            upgraded = true;
            await writeAll(conn, RESPONSE);
            chunk = rest;
          }
          if (chunk.length) await writeAll(conn, chunk);
        }
      } catch { /* reset by peer */ }
      open--;
      try { conn.close(); } catch { /* already closed */ }
    })();
  }
} else {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    open++;
    socket.setNoDelay(true);
    const state = { head: "" };
    let upgraded = false;
    socket.on("data", (chunk: Uint8Array) => {
      if (upgraded) return void socket.write(chunk);
      const rest = afterHead(state, chunk);
      if (rest === undefined) return;
      upgraded = true;
      socket.write(RESPONSE);
      if (rest.length) socket.write(rest);
    });
    socket.on("error", () => {});
    socket.on("close", () => open--);
  });
  server.listen(port, hostname, () => ready((server.address() as { port: number }).port, () => open));
}

async function writeAll(conn: any, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}
