import { test } from "node:test";
import assert from "node:assert/strict";
import { StreamTransport } from "../adapters/streams.ts";
import { connect } from "../src/services/client.ts";
import { createServer } from "../src/services/server.ts";
import type { Network } from "../src/transport/transport.ts";
import { within } from "./helpers.ts";

/** Two StreamTransports joined by a pair of TransformStreams, like a socket pair. */
function streamPair(): [StreamTransport, StreamTransport] {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  return [
    new StreamTransport(down.readable, up.writable, { remoteAddress: "stream-server" }),
    new StreamTransport(up.readable, down.writable, { remoteAddress: "stream-client" }),
  ];
}

test("StreamTransport carries a full server and client session over WHATWG streams", async () => {
  const server = createServer({ pingInterval: 0, protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }] });
  const [clientSide, serverSide] = streamPair();
  server.adopt(serverSide);
  const network: Network = {
    name: "streams",
    listen: () => Promise.reject(new Error("not used")),
    connect: () => Promise.resolve(clientSide),
  };
  const ws = await within(connect("ws://tunnel/echo", { network, protocols: ["echo"], pingInterval: 0 }));
  assert.equal(ws.protocol, "echo");
  const messages = ws[Symbol.asyncIterator]();
  ws.send("over streams");
  ws.send(new Uint8Array(200_000).fill(7));
  assert.equal((await within(messages.next())).value, "over streams");
  const big = (await within(messages.next())).value as Uint8Array;
  assert.equal(big.length, 200_000);
  assert.ok(big.every((b) => b === 7));
  const [peer] = [...server.connections];
  assert.equal(peer?.remoteAddress, "stream-client");
  ws.close(4000, "done");
  assert.deepEqual(await within(ws.closed), { code: 4000, reason: "done", wasClean: true });
});

test("StreamTransport stops pulling while paused and loses nothing", async () => {
  const [a, b] = streamPair();
  const received: Uint8Array[] = [];
  let ended = false;
  b.start({ data: (chunk) => void received.push(chunk), drain: () => {}, end: () => void (ended = true), close: () => {} });
  a.start({ data: () => {}, drain: () => {}, end: () => {}, close: () => {} });
  b.pause();
  a.write([new Uint8Array([1, 2]), new Uint8Array([3])]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(received.length, 0, "nothing delivered while paused");
  b.resume();
  a.end();
  const deadline = Date.now() + 5000;
  while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(received.flatMap((c) => [...c]), [1, 2, 3]);
  assert.equal(ended, true);
});
