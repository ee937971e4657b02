// Plain HTTP next to WebSocket on one port, streamed both ways: a
// server-sent-events stream that never ends (a clock, one event a second),
// an upload read as it arrives, and a chat over WebSocket whose messages
// also go to every event stream. The same file on every runtime:
//   npx tsx examples/sse.ts --port 8080 [--host 127.0.0.1]
//   deno run -A examples/sse.ts --port 8080
//   bun examples/sse.ts --port 8080
// Then: curl -N http://localhost:8080/events   (one event a second, until you leave)
//       curl -T big.file http://localhost:8080/upload   (counted as it streams in)
import { serve } from "../mod.ts";
import { parseArgs } from "./args.ts";

const args = parseArgs({ port: "8080", host: "0.0.0.0", interval: "1000" });
const encoder = new TextEncoder();
/** The open event streams: a chat message is written to each. */
const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();

const server = await serve({
  port: Number(args.port),
  hostname: args.host,
  maxHttpBodySize: (request) => (new URL(request.url).pathname === "/upload" ? 1024 ** 3 : 64 * 1024),
  protocols: [{
    name: "chat",
    message(_ws, message) {
      server.broadcast("chat", message);
      for (const stream of streams) stream.enqueue(encoder.encode(`event: chat\ndata: ${String(message)}\n\n`));
    },
  }],
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/events") {
      let timer: ReturnType<typeof setInterval> | undefined;
      let controller: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          streams.add(c);
          let id = 0;
          // Each event is written when it is enqueued; a client that reads slowly pauses the clock's writes, not memory.
          timer = setInterval(() => c.enqueue(encoder.encode(`id: ${id++}\ndata: ${new Date().toISOString()}\n\n`)), Number(args.interval));
        },
        cancel() {
          // The client left: nothing may keep running for it.
          clearInterval(timer);
          streams.delete(controller);
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    }
    if (path === "/upload" && (request.method === "POST" || request.method === "PUT")) {
      let bytes = 0;
      for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
      return new Response(`received ${bytes} bytes\n`);
    }
    if (path === "/") return new Response("GET /events for server-sent events, POST /upload to stream a body, WebSocket protocol chat\n");
    return undefined; // 404
  },
});
console.log(`listening on http://${args.host}:${server.port}/`);
