import { test } from "node:test";
import assert from "node:assert/strict";
import {
  connect,
  type ConnectionStreams,
  runtimeNetwork,
  serve,
  streamHandlers,
  WebSocketStream,
  WebSocketStreamError,
  type WebSocketCloseInfo,
} from "../mod.ts";
import { deferred, enc, rawConnect, until, within } from "./helpers.ts";

// The server-side stream pair (streamHandlers), over real sockets on 127.0.0.1 with the runtime's network.

async function streamServer(open: (streams: ConnectionStreams) => unknown) {
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{ name: "streams", ...streamHandlers((_ws, streams) => open(streams)) }],
  });
  return { server, url: `ws://127.0.0.1:${server.port}/` };
}

/** How a `closed` promise settled, as plain data. */
function outcome(closed: Promise<WebSocketCloseInfo>): Promise<unknown> {
  return closed.then(
    (info) => ({ ...info }),
    (error: unknown) => (error instanceof WebSocketStreamError ? { error: error.name, closeCode: error.closeCode } : { error: String(error) }),
  );
}

test("streamHandlers(): readable.pipeTo(writable) echoes text and binary; the server's closed has the client's code", async () => {
  const serverClosed = deferred<unknown>();
  const { server, url } = await streamServer((streams) => {
    void outcome(streams.closed).then(serverClosed.resolve);
    return streams.readable.pipeTo(streams.writable);
  });
  try {
    const wss = new WebSocketStream(url);
    const { readable, writable, protocol } = await wss.opened;
    assert.equal(protocol, "");
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const big = new Uint8Array(200_000).map((_, i) => i % 251);
    await writer.write("héllo ✓");
    await writer.write(big);
    assert.equal((await reader.read()).value, "héllo ✓");
    assert.deepEqual((await reader.read()).value, big);
    wss.close({ closeCode: 4321, reason: "done" });
    assert.deepEqual(await within(wss.closed, 5000, "closed"), { closeCode: 4321, reason: "done" });
    assert.deepEqual(await within(serverClosed.promise, 5000, "the server's closed"), { closeCode: 4321, reason: "done" });
    assert.equal((await reader.read()).done, true);
  } finally {
    await server.close();
  }
});

test("streamHandlers(): the server's close() reaches the client, and its writable refuses writes afterwards", async () => {
  const refused = deferred<unknown>();
  const { server, url } = await streamServer(async (streams) => {
    const writer = streams.writable.getWriter();
    await writer.write("bye soon");
    streams.close({ closeCode: 4000, reason: "server" });
    refused.resolve(await writer.write("too late").then(() => "written", (e: unknown) => e));
  });
  try {
    const wss = new WebSocketStream(url);
    const { readable } = await wss.opened;
    const reader = readable.getReader();
    assert.equal((await reader.read()).value, "bye soon");
    assert.equal((await reader.read()).done, true);
    assert.deepEqual(await within(wss.closed, 5000, "closed"), { closeCode: 4000, reason: "server" });
    const error = await refused.promise;
    assert.ok(error instanceof DOMException && error.name === "InvalidStateError", String(error));
  } finally {
    await server.close();
  }
});

test("streamHandlers(): a client that vanishes errors the server's readable and closed with a WebSocketStreamError 1006", async () => {
  const seen = deferred<{ read: unknown; closed: unknown; same: boolean }>();
  const { server, url } = await streamServer(async (streams) => {
    const read = await streams.readable.getReader().read().catch((e: unknown) => e);
    const closedError = await streams.closed.catch((e: unknown) => e);
    seen.resolve({ read, closed: await outcome(streams.closed), same: read === closedError });
  });
  try {
    const ws = await connect(url, { pingInterval: 0 });
    ws.terminate();
    const { read, closed, same } = await within(seen.promise, 5000, "the server's streams");
    assert.ok(read instanceof WebSocketStreamError && read.closeCode === 1006, String(read));
    assert.deepEqual(closed, { error: "WebSocketError", closeCode: 1006 });
    assert.equal(same, true, "the readable is errored with the error that rejects closed");
  } finally {
    await server.close();
  }
});

test("streamHandlers(): a rejected open promise goes to the error handler and closes the connection with 1011", async () => {
  const reported = deferred<unknown>();
  const failure = new Error("handler failed");
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{
      name: "failing",
      ...streamHandlers(() => Promise.reject(failure), { error: (_ws, error) => reported.resolve(error) }),
    }],
  });
  try {
    const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    await wss.opened;
    assert.deepEqual(await within(wss.closed, 5000, "closed"), { closeCode: 1011, reason: "internal error" });
    assert.equal(await reported.promise, failure);
  } finally {
    await server.close();
  }
});

test("streamHandlers(): a buffer written may be reused once write() resolves, even while its bytes are still being sent", async () => {
  const SIZE = 16 * 1024 * 1024;
  // A high-water mark above the message: write() resolves at once, long before TCP has taken 16 MiB.
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    highWaterMark: 64 * 1024 * 1024,
    maxBufferedAmount: 128 * 1024 * 1024,
    protocols: [{
      name: "reuse",
      ...streamHandlers(async (_ws, { writable }) => {
        const writer = writable.getWriter();
        const buffer = new Uint8Array(SIZE).fill(1);
        await writer.write(buffer);
        buffer.fill(9);
        await writer.write(buffer);
      }),
    }],
  });
  try {
    const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, {}, { maxMessageSize: 2 * SIZE });
    const reader = (await wss.opened).readable.getReader();
    const first = (await reader.read()).value as Uint8Array;
    const second = (await reader.read()).value as Uint8Array;
    assert.equal(first.length, SIZE);
    assert.ok(first.every((b) => b === 1), "the first message was changed after write() resolved");
    assert.ok(second.every((b) => b === 9));
    wss.close();
  } finally {
    await server.close();
  }
});

test("WebSocketConnection.close(1005) sends a close frame without a body", async () => {
  const server = await serve({ hostname: "127.0.0.1", port: 0, pingInterval: 0, protocols: [{ name: "chat", open: (ws) => ws.close(1005) }] });
  try {
    const peer = await rawConnect(await runtimeNetwork(), server.port);
    peer.transport.write([enc.encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )]);
    await until(() => peer.text().includes("\r\n\r\n") && peer.received().length > peer.text().indexOf("\r\n\r\n") + 4, "the close frame");
    const bytes = peer.received();
    const body = bytes.subarray(peer.text().indexOf("\r\n\r\n") + 4);
    assert.deepEqual(Array.from(body.subarray(0, 2)), [0x88, 0x00]);
    peer.transport.destroy();
  } finally {
    await server.close();
  }
});
