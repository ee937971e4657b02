// WebSocket over HTTP/2 (RFC 8441), end to end in one script: a server that
// speaks HTTP/2 and HTTP/1.1 on one TLS port, and two client WebSockets that
// share one HTTP/2 connection. The certificate is self-signed, made with openssl.
//   node --import tsx examples/http2.ts
//   node_modules/.bin/deno run -A examples/http2.ts
//   node_modules/.bin/bun examples/http2.ts
// Add --serve to keep the server running: open https://localhost:PORT/ in a
// browser (accept the certificate) and its WebSocket goes over the page's connection.
import process from "node:process";
import { closeHttp2Sessions } from "../adapters/node_http2.ts";
import { connect, isHttp2Stream, serve } from "../mod.ts";
import { generateSelfSignedCertificate } from "./test_server/certificate.ts";

const PAGE = `<!doctype html><meta charset="utf-8"><pre id="out"></pre><script>
const ws = new WebSocket("wss://" + location.host + "/", ["echo"]);
ws.onopen = () => ws.send("hello over " + performance.getEntriesByType("navigation")[0].nextHopProtocol);
ws.onmessage = (e) => (document.getElementById("out").textContent += e.data + "\\n");
</script>`;

const certificate = generateSelfSignedCertificate();
const server = await serve({
  hostname: "127.0.0.1",
  port: 0,
  tls: { cert: certificate.cert, key: certificate.key },
  http2: true,
  protocols: [{
    name: "echo",
    open: (ws) => console.log(`server: ${ws.path} opened ${isHttp2Stream(ws.transport) ? `as HTTP/2 stream ${ws.transport.streamId}` : "over HTTP/1.1"}`),
    message: (ws, message) => void ws.send(`echo: ${message}`),
  }],
  fetch: () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
});
const url = `wss://127.0.0.1:${server.port}/`;
console.log(`listening on https://127.0.0.1:${server.port}/ (HTTP/2 and HTTP/1.1)`);

// http2: "only" fails instead of falling back to HTTP/1.1 (true falls back, as browsers do).
const tls = { ca: certificate.cert };
const a = await connect(url, { http2: "only", protocols: ["echo"], tls });
const b = await connect(url, { http2: "only", protocols: ["echo"], tls });
console.log(`client: one connection for both: ${a.transport.raw !== b.transport.raw && isHttp2Stream(a.transport) && isHttp2Stream(b.transport) && a.transport.session === b.transport.session}`);
for (const ws of [a, b]) {
  ws.send(`hi from ${ws === a ? "a" : "b"}`);
  const reply = await ws[Symbol.asyncIterator]().next();
  console.log(`client: ${reply.value}`);
}
a.close(1000, "done");
b.close(1000, "done");
console.log(`client: closed ${JSON.stringify(await a.closed)} ${JSON.stringify(await b.closed)}`);

if (!process.argv.includes("--serve")) {
  await server.close();
  await closeHttp2Sessions();
  certificate.remove();
}
