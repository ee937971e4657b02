import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeNetwork, serve, streamHandlers, WebSocketStream, WebSocketStreamError } from "../mod.ts";
import { type ByteCounter, countingNetwork } from "./peers/counting_network.ts";
import { exited, tail, terminate, track } from "./peers/children.ts";
import { startSilentServer, startStreamPeerServer } from "./peers/stream_peer_server.ts";
import { DENO_DEVIATIONS, DENO_RACY, EXPECTED, isDenoCloseRace } from "./peers/websocket_stream_expected.ts";
import { runScenarios } from "./peers/websocket_stream_script.ts";
import { deferred, until, within } from "./helpers.ts";

// The peer of the first two tests is a raw RFC 6455 server (test/peers/stream_peer_server.ts);
// the others use wsport's own server. Everything runs over 127.0.0.1 on the test's runtime.

test("WebSocketStream does what the web-platform stream tests check (the shared script, over real sockets)", async () => {
  const peer = await startStreamPeerServer();
  try {
    const outcomes = await runScenarios({ WebSocketStream, WebSocketError: WebSocketStreamError }, peer.url);
    assert.deepEqual(Object.keys(outcomes), Object.keys(EXPECTED));
    for (const [name, expected] of Object.entries(EXPECTED)) assert.equal(outcomes[name], expected, name);
  } finally {
    await peer.close();
  }
});

test("Deno's native WebSocketStream (--unstable-net) runs the same script: the same outcomes, but for the documented deviations", async () => {
  const peer = await startStreamPeerServer();
  const deno = fileURLToPath(new URL("../node_modules/.bin/deno", import.meta.url));
  const script = fileURLToPath(new URL("./peers/websocket_stream_script.ts", import.meta.url));
  const config = fileURLToPath(new URL("../deno.json", import.meta.url));
  const child = track(spawn(deno, ["run", "-A", "--unstable-net", "--config", config, script, "native", peer.url], { stdio: ["ignore", "pipe", "pipe"] }));
  const stderr = tail(child.stderr);
  let stdout = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  try {
    await within(exited(child), 120_000, "the Deno script");
    assert.equal(child.exitCode, 0, `the Deno script failed:\n${stderr()}`);
    const native: Record<string, string> = JSON.parse(stdout.trim().split("\n").pop()!);
    assert.deepEqual(Object.keys(native), Object.keys(EXPECTED));
    for (const [name, expected] of Object.entries(EXPECTED)) {
      const deviation = DENO_DEVIATIONS[name];
      // wsport's outcomes are EXPECTED (the test above); Deno's must be those or the documented deviation.
      if (deviation) assert.equal(native[name], deviation.deno, `${name}: Deno no longer deviates as documented`);
      else if (!(DENO_RACY.has(name) && isDenoCloseRace(native[name]!))) assert.equal(native[name], expected, name);
    }
  } finally {
    await terminate(child);
    await peer.close();
  }
});

const MESSAGE = 64 * 1024;
const COUNT = 512; // 32 MiB
// What wsport may hold between the socket and a reader that stopped: one message queued in the
// readable, the rest of the read in progress, one message being assembled, their frame headers.
const BOUND = 1024 * 1024;

function message(i: number): Uint8Array {
  return new Uint8Array(MESSAGE).fill(i & 0xff);
}

/**
 * While a reader is stopped: checks the bound every 10 ms until the sender
 * is held back (`blocked()`) and no byte has reached the reader's side for
 * 25 checks in a row. Only how long to observe depends on time; what is
 * asserted is a byte count. A reader that does not stop the socket takes
 * in the flood meanwhile and fails the bound.
 */
async function whileStopped(received: () => number, check: () => void, blocked: () => boolean): Promise<void> {
  let last = -1;
  let quiet = 0;
  for (let polls = 0; !(blocked() && quiet >= 25); polls++) {
    if (polls > 6000) throw new Error("timed out waiting for the sender to be held back");
    check();
    quiet = received() === last ? quiet + 1 : 0;
    last = received();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  check();
}

test("receive backpressure: a reader that stops holds the socket; wsport buffers at most a bound while the sender's write() waits", async () => {
  const sender = { sent: 0, waiting: false };
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{
      name: "flood",
      ...streamHandlers(async (_ws, { writable }) => {
        const writer = writable.getWriter();
        for (let i = 0; i < COUNT; i++) {
          sender.waiting = true;
          await writer.write(message(i));
          sender.waiting = false;
          sender.sent++;
        }
        await writer.close();
      }),
    }],
  });
  const counter: ByteCounter = { received: 0, transports: [] };
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, {}, { network: countingNetwork(await runtimeNetwork(), counter), pingInterval: 0 });
  try {
    const { readable } = await wss.opened;
    const head = counter.received; // the 101 response, and whatever came with it
    const reader = readable.getReader();
    let read = 0;
    let maxHeld = 0;
    // Taken off the socket and not yet read by the application (frame headers included).
    const held = () => counter.received - head - read * (MESSAGE + 4);
    const check = (what: string) => {
      maxHeld = Math.max(maxHeld, held());
      assert.ok(held() <= BOUND, `${what}: ${held()} bytes held between the socket and the reader (bound ${BOUND})`);
    };
    assert.deepEqual((await reader.read()).value, message(0));
    read++;
    // The reader stops. The sender must end up waiting on write() with its own socket full.
    const [serverSide] = server.connections;
    await whileStopped(() => counter.received, () => check("while the reader is stopped"), () => sender.waiting && serverSide!.transport.bufferedAmount > 0);
    const sentWhileStopped = sender.sent;
    assert.ok(sentWhileStopped < COUNT - 1, `the sender finished (${sentWhileStopped} of ${COUNT}) although nothing was read`);
    for (; read < COUNT; read++) {
      const { value, done } = await reader.read();
      assert.equal(done, false);
      assert.deepEqual(value, message(read), `message ${read}`);
      check(`after reading message ${read}`);
    }
    assert.equal((await reader.read()).done, true);
    assert.deepEqual(await within(wss.closed, 10_000, "closed"), { closeCode: 1005, reason: "" });
    assert.ok(maxHeld > 0);
  } finally {
    await server.close();
  }
});

test("send backpressure: the server's readable stops reading; the client's write() waits and the server holds at most a bound", async () => {
  const receiver = { stopped: deferred(), resume: deferred(), read: 0, done: deferred<number>() };
  const serverCounter: ByteCounter = { received: 0, transports: [] };
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    network: countingNetwork(await runtimeNetwork(), serverCounter),
    protocols: [{
      name: "sink",
      ...streamHandlers(async (_ws, { readable }) => {
        const reader = readable.getReader();
        await reader.read(); // one message, then a pause
        receiver.read = 1;
        receiver.stopped.resolve();
        await receiver.resume.promise;
        let bytes = MESSAGE;
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          bytes += (r.value as Uint8Array).length;
          receiver.read++;
        }
        receiver.done.resolve(bytes);
      }),
    }],
  });
  const clientCounter: ByteCounter = { received: 0, transports: [] };
  const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, {}, { network: countingNetwork(await runtimeNetwork(), clientCounter), pingInterval: 0 });
  try {
    const { writable } = await wss.opened;
    const head = serverCounter.received; // the request head
    const writer = writable.getWriter();
    const writer_ = { sent: 0, waiting: false };
    const writing = (async () => {
      for (let i = 0; i < COUNT; i++) {
        writer_.waiting = true;
        await writer.write(message(i));
        writer_.waiting = false;
        writer_.sent++;
      }
      await writer.close();
    })();
    await receiver.stopped.promise;
    // Masked client frames: 8 header bytes per 64 KiB message.
    const held = () => serverCounter.received - head - receiver.read * (MESSAGE + 8);
    const [clientTransport] = clientCounter.transports;
    await whileStopped(
      () => serverCounter.received,
      () => assert.ok(held() <= BOUND, `${held()} bytes held by the server between its socket and its reader (bound ${BOUND})`),
      () => writer_.waiting && clientTransport!.bufferedAmount > 0,
    );
    assert.ok(writer_.sent < COUNT - 1, `the client wrote everything (${writer_.sent} of ${COUNT}) although the server read nothing`);
    receiver.resume.resolve();
    assert.equal(await within(receiver.done.promise, 30_000, "the server to read everything"), COUNT * MESSAGE);
    await within(writing, 10_000, "the writes");
    assert.deepEqual(await within(wss.closed, 10_000, "closed"), { closeCode: 1005, reason: "" });
  } finally {
    await server.close();
  }
});

test("WebSocketStream: a signal aborted before construction makes no connection; abort and close() during the handshake close the socket", async () => {
  const server = await startSilentServer();
  try {
    const reason = new Error("not now");
    const before = new WebSocketStream(server.url, { signal: AbortSignal.abort(reason) });
    await assert.rejects(before.opened, (e) => e === reason);
    await assert.rejects(before.closed, (e) => e === reason);

    const controller = new AbortController();
    const aborted = new WebSocketStream(server.url, { signal: controller.signal });
    await until(() => server.sockets.length === 1, "the first connection");
    controller.abort();
    await assert.rejects(aborted.opened, (e: unknown) => e instanceof DOMException && e.name === "AbortError");
    await within(server.closed[0]!, 5000, "the aborted socket to close");

    const closedEarly = new WebSocketStream(server.url);
    await until(() => server.sockets.length === 2, "the second connection");
    closedEarly.close({ closeCode: 4000 });
    await assert.rejects(closedEarly.closed, (e: unknown) => e instanceof WebSocketStreamError && e.closeCode === 1006);
    await within(server.closed[1]!, 5000, "the closed socket to close");
    // The first stream never connected: two connections in all.
    assert.equal(server.sockets.length, 2);
  } finally {
    await server.close();
  }
});

test("WebSocketStream: a failed handshake rejects with a WebSocketStreamError whose cause is wsport's error", async () => {
  const server = await serve({ hostname: "127.0.0.1", port: 0, protocols: [{ name: "chat" }], filterHandshake: () => ({ status: 403 }) });
  try {
    const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    const error = await wss.opened.then(() => assert.fail("opened"), (e: unknown) => e);
    assert.ok(error instanceof WebSocketStreamError);
    assert.equal(error.name, "WebSocketError");
    assert.equal(error.closeCode, 1006);
    assert.equal((error.cause as { status?: number }).status, 403);
    assert.equal(await wss.closed.catch((e: unknown) => e), error);
  } finally {
    await server.close();
  }
});

test("WebSocketStream: writable.abort() while a write waits rejects that write and closes with the error's code", async () => {
  const peer = await startStreamPeerServer();
  try {
    const id = "abort-pending";
    const wss = new WebSocketStream(`${peer.url}/sink?id=${id}`);
    const { writable } = await wss.opened;
    const writer = writable.getWriter();
    const write = writer.write(new Uint8Array(32 * 1024 * 1024)); // the peer reads nothing yet: this waits
    write.catch(() => {});
    const reason = new WebSocketStreamError("enough", { closeCode: 4001, reason: "abort" });
    const aborted = writer.abort(reason);
    await assert.rejects(write, (e) => e === reason);
    await aborted;
    // The peer reads again: the rest of the message, then our close frame, which it echoes.
    const release = new WebSocketStream(`${peer.url}/release?id=${id}`);
    await release.opened;
    assert.deepEqual(await within(wss.closed, 30_000, "closed"), { closeCode: 4001, reason: "abort" });
    await release.closed;
  } finally {
    await peer.close();
  }
});

test("examples/websocket_stream.ts runs on this runtime: streams on both ends", async () => {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const script = fileURLToPath(new URL("../examples/websocket_stream.ts", import.meta.url));
  const args = g.Deno ? ["run", "-A", script] : g.Bun ? [script] : ["--import", "tsx", script];
  const child = track(spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] }));
  const stderr = tail(child.stderr);
  let stdout = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  try {
    await within(exited(child), 60_000, "the example");
    assert.equal(child.exitCode, 0, stderr());
    assert.deepEqual(stdout.trim().split("\n"), [
      'open, protocol "shout"',
      "reply: HELLO",
      "reply: STREAMS ON BOTH ENDS",
      "reply: 3 bytes [1,2,3]",
      'closed: {"closeCode":1000,"reason":"done"}',
    ]);
  } finally {
    await terminate(child);
  }
});
