import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateRawSync } from "node:zlib";
import WsWebSocket from "ws";
import { WebSocketProtocol, SEND_EOF } from "../src/core/protocol.ts";
import { ClientProtocol } from "../src/core/client_protocol.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { concat } from "../src/core/bytes.ts";
import type { ProtocolError } from "../src/core/errors.ts";
import type { WsEvent } from "../src/core/events.ts";
import { RSV1 } from "../src/core/extensions/extension.ts";
import { perMessageDeflate } from "../src/core/extensions/permessage_deflate.ts";
import { ConcurrencyLimiter, zlibCodec } from "../adapters/zlib.ts";
import { serve } from "../mod.ts";
import { within } from "./helpers.ts";

function output(conn: WebSocketProtocol): Uint8Array {
  return concat(conn.dataToSend().filter((x): x is Uint8Array => x !== SEND_EOF));
}

/** Feeds bytes and collects events until no asynchronous work is left. */
async function receiveAll(conn: WebSocketProtocol, bytes: Uint8Array): Promise<WsEvent[]> {
  const events = conn.receiveData(bytes);
  while (conn.pendingWork) {
    await conn.pendingWork;
    events.push(...conn.receiveData(new Uint8Array(0)));
  }
  return events;
}

async function drained(conn: WebSocketProtocol): Promise<Uint8Array> {
  while (conn.pendingWork) await conn.pendingWork;
  return output(conn);
}

test("ConcurrencyLimiter: never runs more than its limit, and runs everything in order", async () => {
  const limiter = new ConcurrencyLimiter(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 10 }, (_, i) => limiter.run(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 1));
    order.push(i);
    running--;
  })));
  assert.equal(peak, 2);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.throws(() => new ConcurrencyLimiter(0), RangeError);
});

test("zlibCodec: round trips both ways with context takeover, RFC 7692 bytes for 'Hello'", async () => {
  const codec = zlibCodec();
  const client = new ClientProtocol({ host: "h", path: "/", extensions: [perMessageDeflate({ threshold: 0, codec })] });
  const server = new ServerProtocol({});
  server.receiveData(output(client));
  server.accept({ extensions: [perMessageDeflate({ threshold: 0, codec })] });
  client.receiveData(output(server));
  server.sendText("Hello");
  server.sendText("Hello");
  assert.deepEqual([...(await drained(server))], [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
  const texts = Array.from({ length: 30 }, (_, i) => `message ${i} `.repeat(i * 50));
  for (const [i, text] of texts.entries()) {
    client.sendText(text);
    if (i % 10 === 0) client.sendPing(`p${i}`);
  }
  const events = await receiveAll(server, await drained(client));
  assert.deepEqual(events.filter((e) => e.type === "text").map((e) => (e as { data: string }).data), texts);
  assert.equal(events.filter((e) => e.type === "ping").length, 3);
  client.dispose();
  server.dispose();
});

test("zlibCodec: a deflate bomb stops at the limit with 1009; invalid data gives 1007", async () => {
  const bomb = deflateRawSync(new Uint8Array(64 * 1024 * 1024), { level: 9 });
  const extension = perMessageDeflate({ codec: zlibCodec() }).accept([]);
  const conn = new WebSocketProtocol("client", { maxMessageSize: 1024 * 1024, extensions: [extension] });
  const events = await receiveAll(conn, concat(encodeFrame(Opcode.Binary, bomb, { rsv: RSV1 })));
  assert.equal(events[0]?.type, "error");
  assert.equal((events[0] as { error: ProtocolError }).error.closeCode, 1009);
  const bad = new WebSocketProtocol("client", { extensions: [perMessageDeflate({ codec: zlibCodec() }).accept([])] });
  const badEvents = await receiveAll(bad, concat(encodeFrame(Opcode.Binary, new Uint8Array([0xff, 0xff, 0xff]), { rsv: RSV1 })));
  assert.equal((badEvents[0] as { error: ProtocolError }).error.closeCode, 1007);
});

test("zlibCodec: a server on real sockets with the async codec echoes ws's compressed messages in order", async () => {
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    extensions: [perMessageDeflate({ threshold: 0, codec: zlibCodec({ concurrency: 2 }) })],
    protocols: [{ name: "echo", message: (ws, message) => void ws.send(message) }],
  });
  try {
    const socket = new WsWebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { threshold: 0 } });
    await within(new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject)));
    assert.match(socket.extensions, /^permessage-deflate/);
    const sent = Array.from({ length: 50 }, (_, i) => `${i}:` + "abc".repeat(i * 100));
    const got: string[] = [];
    const done = new Promise<void>((resolve) => socket.on("message", (data) => {
      got.push(String(data));
      if (got.length === sent.length) resolve();
    }));
    for (const text of sent) socket.send(text);
    await within(done, 15_000, "50 echoes");
    assert.deepEqual(got, sent);
    socket.close();
  } finally {
    await server.close();
  }
});
