import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { BROWSER_PAGE_HTML, chromiumMissing, exchangeProblems, pythonWebsocketsMissing, runBrowserExchange, runPythonClient, startPythonServer } from "./peers.ts";

async function wsServer() {
  const http = createServer((_q, r) => { r.writeHead(200, { "content-type": "text/html; charset=utf-8" }); r.end(BROWSER_PAGE_HTML); });
  const wss = new WebSocketServer({ server: http, path: "/ws", handleProtocols: (p) => (p.has("wsport-test") ? "wsport-test" : false) });
  wss.on("connection", (ws) => ws.on("message", (d, b) => (!b && d.toString() === "close-me" ? ws.close(4001, "server bye") : ws.send(d, { binary: b }))));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return { port: (http.address() as AddressInfo).port, stop: () => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => r()); }) };
}

test("python client vs ws", { skip: pythonWebsocketsMissing() }, async () => {
  const s = await wsServer();
  try { assert.deepEqual(exchangeProblems(await runPythonClient(`ws://127.0.0.1:${s.port}/ws`)), []); } finally { await s.stop(); }
});
test("browser vs ws", { skip: chromiumMissing() }, async () => {
  const s = await wsServer();
  try { assert.deepEqual(exchangeProblems(await runBrowserExchange(`http://127.0.0.1:${s.port}/`)), []); } finally { await s.stop(); }
});
test("python client cannot connect -> rejects", { skip: pythonWebsocketsMissing() }, async () => {
  await assert.rejects(runPythonClient("ws://127.0.0.1:1/ws"), /could not run the exchange/);
});
test("python server started, stop() forgotten, test fails", { skip: pythonWebsocketsMissing() }, async () => {
  const p = await startPythonServer();
  console.log("PYPORT", p.port);
  if (process.env.DEMO_FAIL) assert.fail("deliberate failure with the server still running");
});
