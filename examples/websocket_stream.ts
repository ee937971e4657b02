// Streams on both ends: a server whose subprotocol hands each connection a
// readable/writable pair (here piped through a TransformStream that
// upper-cases text), and the WHATWG WebSocketStream as its client.
//   npx tsx examples/websocket_stream.ts
//   deno run -A examples/websocket_stream.ts
//   bun examples/websocket_stream.ts
// --url ws://host:port/ talks to another server instead (examples/echo.ts, say).
import { serve, streamHandlers, WebSocketStream } from "../mod.ts";
import { parseArgs } from "./args.ts";

const args = parseArgs({ url: "" });

let url = args.url;
const server = url === "" ? await startServer() : undefined;
if (server) url = `ws://127.0.0.1:${server.port}/`;

const wss = new WebSocketStream(url, { protocols: ["shout"] }, { pingInterval: 0 });
const { readable, writable, protocol } = await wss.opened;
console.log(`open, protocol "${protocol}"`);

const writer = writable.getWriter();
const reader = readable.getReader();
for (const message of ["hello", "streams on both ends", new Uint8Array([1, 2, 3])]) {
  await writer.write(message); // resolves once the send buffer is below its high-water mark
  const { value } = await reader.read();
  console.log("reply:", typeof value === "string" ? value : `${value!.length} bytes [${value!.join(",")}]`);
}
wss.close({ closeCode: 1000, reason: "done" });
console.log("closed:", JSON.stringify(await wss.closed));
await server?.close();

function startServer() {
  return serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{
      name: "shout",
      ...streamHandlers((_ws, { readable, writable }) =>
        readable
          .pipeThrough(new TransformStream<string | Uint8Array, string | Uint8Array>({
            transform: (message, controller) => controller.enqueue(typeof message === "string" ? message.toUpperCase() : message),
          }))
          .pipeTo(writable)
      ),
    }],
  });
}
