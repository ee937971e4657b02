// An RFC 6455 echo server: text back as text, binary back as binary. It is
// the server a conformance suite (Autobahn's fuzzingclient) is pointed at.
//   npx tsx examples/echo.ts --port 9001 [--host 127.0.0.1]
//   deno run -A examples/echo.ts --port 9001
//   bun examples/echo.ts --port 9001
// --deflate turns on permessage-deflate (every window and takeover combination
// a client offers; threshold 0, so every message is compressed).
import { perMessageDeflate, serve } from "../mod.ts";
import { parseArgs } from "./args.ts";

const args = parseArgs({ port: "9001", host: "0.0.0.0", "max-message-size": String(64 * 1024 * 1024), deflate: "false" });

const server = await serve({
  port: Number(args.port),
  hostname: args.host,
  maxMessageSize: Number(args["max-message-size"]),
  pingInterval: 0, // a conformance suite counts every frame: send none it did not ask for
  extensions: args.deflate === "true" ? [perMessageDeflate({ threshold: 0 })] : [],
  protocols: [{
    name: "echo",
    message: (ws, message) => void ws.send(message),
  }],
});
console.log(`echo server listening on ws://${args.host}:${server.port}/${args.deflate === "true" ? " (permessage-deflate)" : ""}`);
