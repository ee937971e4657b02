import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, runtimeNetwork, serve } from "../mod.ts";
import type { Network } from "../src/transport/transport.ts";
import { startSilentServer } from "./peers/stream_peer_server.ts";
import { deferred, until, within } from "./helpers.ts";

// connect({ signal }): cancelling the TCP connect and the opening handshake, on the runtime's network.

test("connect({ signal }): an aborted signal rejects with its reason at once, before any connection", async () => {
  const network = await runtimeNetwork();
  let connects = 0;
  const counting: Network = { ...network, connect: (options) => (connects++, network.connect(options)) };
  const reason = new Error("no");
  await assert.rejects(connect("ws://127.0.0.1:9/", { signal: AbortSignal.abort(reason), network: counting }), (e) => e === reason);
  await assert.rejects(
    connect("ws://127.0.0.1:9/", { signal: AbortSignal.abort(), network: counting }),
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
  assert.equal(connects, 0);
});

test("connect({ signal }): abort during the opening handshake rejects with the reason and closes the socket", async () => {
  const server = await startSilentServer();
  try {
    const controller = new AbortController();
    const connecting = connect(server.url, { signal: controller.signal, handshakeTimeout: 60_000 });
    await until(() => server.sockets.length === 1, "the connection");
    const reason = new Error("changed my mind");
    controller.abort(reason);
    await assert.rejects(connecting, (e) => e === reason);
    await within(server.closed[0]!, 5000, "the socket to close");
  } finally {
    await server.close();
  }
});

test("connect({ signal }): abort while TCP connects rejects at once, and the late connection is closed", async () => {
  const server = await startSilentServer();
  const network = await runtimeNetwork();
  const release = deferred();
  // A network whose connect completes only when the test says so.
  const slow: Network = { ...network, connect: async (options) => {
    const transport = await network.connect(options);
    await release.promise;
    return transport;
  } };
  try {
    const controller = new AbortController();
    const connecting = connect(server.url, { signal: controller.signal, network: slow });
    await until(() => server.sockets.length === 1, "the TCP connection");
    controller.abort();
    await assert.rejects(connecting, (e: unknown) => e instanceof DOMException && e.name === "AbortError");
    release.resolve();
    await within(server.closed[0]!, 5000, "the late socket to close");
  } finally {
    await server.close();
  }
});

test("connect({ signal }): no effect once open; the signal's listener is removed", async () => {
  const server = await serve({ hostname: "127.0.0.1", port: 0, pingInterval: 0, protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }] });
  try {
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    const remove = controller.signal.removeEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
    controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove;
    const ws = await connect(`ws://127.0.0.1:${server.port}/`, { signal: controller.signal, pingInterval: 0 });
    assert.equal(listeners, 0, "a listener was left on the signal");
    controller.abort();
    ws.send("still open");
    const next = await within(ws[Symbol.asyncIterator]().next(), 5000, "the echo");
    assert.equal(next.value, "still open");
    ws.close();
    await ws.closed;
  } finally {
    await server.close();
  }
});
