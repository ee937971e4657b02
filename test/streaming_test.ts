// libwebsockets rows implemented in the core and services: streaming
// receive (remaining_packet_payload) and send (fragments), zero-copy sends,
// DEFEAT_CLIENT_MASK, and the per-connection extension hooks
// (CONFIRM_EXTENSION_OKAY on the server, opt-in per extension on the client).
// Over real sockets on 127.0.0.1 with the runtime's own network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketProtocol, SEND_EOF } from "../src/core/protocol.ts";
import { type ChunkInfo, connect, type Message, perMessageDeflate, serve, type WebSocketConnection } from "../mod.ts";
import { deferred, within } from "./helpers.ts";

test("streaming receive: a server handler gets a large message as chunks with the bytes remaining, never whole", async () => {
  const chunks: { size: number; info: ChunkInfo }[] = [];
  const done = deferred<void>();
  let wholeMessages = 0;
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    protocols: [{
      name: "stream",
      message: () => void wholeMessages++,
      chunk: (ws, data, info) => {
        chunks.push({ size: data.length, info: { ...info } });
        if (info.last) {
          ws.send(`got ${chunks.reduce((n, c) => n + c.size, 0)}`);
          done.resolve();
        }
      },
    }],
  });
  try {
    const client = await connect(`ws://127.0.0.1:${server.port}`);
    const payload = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    client.send(payload);
    await within(done.promise, 15_000, "the last chunk");
    assert.equal(wholeMessages, 0);
    assert.ok(chunks.length > 1, `${chunks.length} chunks`);
    assert.ok(chunks.every((c) => c.info.messageType === "binary"));
    assert.equal(chunks.filter((c) => c.info.last).length, 1);
    assert.equal(chunks.at(-1)!.info.frameRemaining, 0);
    // Within the frame, what remains shrinks by what arrived.
    for (let i = 1; i < chunks.length; i++) {
      assert.equal(chunks[i]!.info.frameRemaining, chunks[i - 1]!.info.frameRemaining - chunks[i]!.size);
    }
    for await (const reply of client) {
      assert.equal(reply, `got ${payload.length}`);
      break;
    }
  } finally {
    await server.close();
  }
});

test("streaming receive on a client, and streaming send of fragments with a ping between them", async () => {
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    protocols: [{
      name: "fragments",
      open: (ws) => {
        ws.sendFragment("part one, ", false);
        ws.ping("between");
        ws.sendFragment("part two, ", false);
        ws.sendFragment("end", true);
        ws.send(new Uint8Array([1, 2, 3]));
      },
    }],
  });
  try {
    const pieces: string[] = [];
    const types: string[] = [];
    const ended = deferred<void>();
    let pings = 0;
    const decoder = new TextDecoder();
    await connect(`ws://127.0.0.1:${server.port}`, {
      handlers: {
        ping: () => void pings++,
        chunk: (_ws, data, info) => {
          types.push(info.messageType);
          if (info.messageType === "text") pieces.push(decoder.decode(data, { stream: !info.last }));
          if (info.messageType === "binary" && info.last) ended.resolve();
        },
      },
    });
    await within(ended.promise, 5000, "both messages");
    assert.equal(pieces.join(""), "part one, part two, end");
    assert.equal(pings, 1);
    assert.deepEqual([...new Set(types)], ["text", "binary"]);
  } finally {
    await server.close();
  }
});

test("send: a large server payload is written as its own chunk, not copied (zero copy)", () => {
  const conn = new WebSocketProtocol("server");
  const payload = new Uint8Array(256 * 1024);
  conn.sendBinary(payload);
  const out = conn.dataToSend().filter((x): x is Uint8Array => x !== SEND_EOF);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.length, 10, "header only");
  assert.equal(out[1], payload, "the caller's own bytes");
});

test("maskFrames: false (DEFEAT_CLIENT_MASK) sends unmasked frames, which the server fails with 1002", async () => {
  const server = await serve({ port: 0, hostname: "127.0.0.1", protocols: [{ name: "p", message: (ws, m) => void ws.send(m) }] });
  try {
    const client = await connect(`ws://127.0.0.1:${server.port}`, { maskFrames: false });
    client.send("unmasked");
    const info = await within(client.closed, 5000, "the close");
    assert.equal(info.code, 1002);
  } finally {
    await server.close();
  }
});

test("extensions: the server's confirmExtension decides per connection; the client offers only what it is given", async () => {
  const seen: string[] = [];
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    extensions: [perMessageDeflate({ threshold: 0 })],
    confirmExtension: (name, request) => {
      seen.push(`${name} ${request.path}`);
      return request.path !== "/no-compression";
    },
    protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }],
  });
  try {
    const echo = async (ws: WebSocketConnection<unknown>, message: Message) => {
      ws.send(message);
      for await (const reply of ws) return reply;
    };
    const compressed = await connect(`ws://127.0.0.1:${server.port}/chat`, { extensions: [perMessageDeflate({ threshold: 0 })] });
    assert.match(compressed.extensions, /^permessage-deflate/);
    assert.equal(await echo(compressed, "x".repeat(10_000)), "x".repeat(10_000));
    const refused = await connect(`ws://127.0.0.1:${server.port}/no-compression`, { extensions: [perMessageDeflate()] });
    assert.equal(refused.extensions, "");
    assert.equal(await echo(refused, "plain"), "plain");
    const notOffered = await connect(`ws://127.0.0.1:${server.port}/chat`);
    assert.equal(notOffered.extensions, "");
    assert.deepEqual(seen, ["permessage-deflate /chat", "permessage-deflate /no-compression"], "asked only about offered extensions");
    compressed.close();
    refused.close();
    notOffered.close();
  } finally {
    await server.close();
  }
});
