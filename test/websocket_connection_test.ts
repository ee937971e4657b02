// WebSocketConnection (src/services/connection.ts): the I/O around the core's
// state machine, over the runtime's own sockets (node:net, Deno.listen,
// Bun.listen: this file runs on each) and the memory network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryNetwork } from "../adapters/memory.ts";
import { runtimeNetwork } from "../mod.ts";
import { concat } from "../src/core/bytes.ts";
import { ClientProtocol } from "../src/core/client_protocol.ts";
import type { WsEvent } from "../src/core/events.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { type OutgoingData, SEND_EOF } from "../src/core/protocol.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { connect } from "../src/services/client.ts";
import { serve } from "../src/services/server.ts";
import type { Network, Transport } from "../src/transport/transport.ts";
import { CountingNetwork, deferred, enc, rawConnect, until, within } from "./helpers.ts";

const MASK = new Uint8Array([0x11, 0x22, 0x33, 0x44]);

/** One frame, masked when `masked` (client to server), built without any check. */
function frame(masked: boolean, opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv?: number } = {}): Uint8Array {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  return concat(encodeFrame(opcode, data, { ...options, mask: masked ? MASK : undefined }));
}

/** A frame header announcing a 64-bit length with its top bit set (then nothing). */
function hugeLengthHeader(masked: boolean): Uint8Array {
  return new Uint8Array([0x82, (masked ? 0x80 : 0) | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, ...(masked ? MASK : [])]);
}

/**
 * Every kind of protocol error a peer can commit, as the bytes that commit
 * it (after a valid message) and the close code the RFC asks for. `masked`
 * says whether the bytes go from a client (true) or a server (false).
 */
const PROTOCOL_ERRORS: { name: string; code: number; bytes: (masked: boolean) => Uint8Array }[] = [
  { name: "RSV1 set with no extension", code: 1002, bytes: (m) => frame(m, Opcode.Text, "x", { rsv: 0x40 }) },
  { name: "RSV3 set on a ping", code: 1002, bytes: (m) => frame(m, Opcode.Ping, "", { rsv: 0x10 }) },
  { name: "reserved data opcode 3", code: 1002, bytes: (m) => frame(m, 3, "x") },
  { name: "reserved control opcode 11", code: 1002, bytes: (m) => frame(m, 11, "") },
  { name: "continuation with nothing to continue", code: 1002, bytes: (m) => frame(m, Opcode.Continuation, "x") },
  {
    name: "new message inside a fragmented one",
    code: 1002,
    bytes: (m) => concat([frame(m, Opcode.Text, "a", { fin: false }), frame(m, Opcode.Text, "b")]),
  },
  { name: "fragmented ping", code: 1002, bytes: (m) => frame(m, Opcode.Ping, "p", { fin: false }) },
  { name: "ping over 125 bytes", code: 1002, bytes: (m) => frame(m, Opcode.Ping, new Uint8Array(126)) },
  { name: "wrong masking for the direction", code: 1002, bytes: (m) => frame(!m, Opcode.Text, "x") },
  { name: "64-bit length with its top bit set", code: 1002, bytes: hugeLengthHeader },
  { name: "invalid UTF-8 in a text message", code: 1007, bytes: (m) => frame(m, Opcode.Text, new Uint8Array([0xc3, 0x28])) },
  { name: "close frame of 1 byte", code: 1002, bytes: (m) => frame(m, Opcode.Close, new Uint8Array([3])) },
  { name: "close code 1005 on the wire", code: 1002, bytes: (m) => frame(m, Opcode.Close, new Uint8Array([0x03, 0xed])) },
  { name: "close reason that is not UTF-8", code: 1007, bytes: (m) => frame(m, Opcode.Close, new Uint8Array([0x03, 0xe8, 0xff])) },
  { name: "frame over maxFrameSize", code: 1009, bytes: (m) => frame(m, Opcode.Binary, new Uint8Array(2000)) },
];

const LIMIT = 1024; // maxMessageSize of the connections under test, for the 1009 case

/** The bytes written to a transport, and whether it half-closed. */
function collect(items: OutgoingData[]): Uint8Array {
  return concat(items.filter((item): item is Uint8Array => item !== SEND_EOF));
}

/** The events a server makes of a client's frames (a request first, so the server reaches OPEN). */
function serverEventsOf(frames: Uint8Array): WsEvent[] {
  const server = new ServerProtocol();
  server.receiveData(collect(new ClientProtocol({ host: "x", path: "/" }).dataToSend()));
  server.accept();
  return server.receiveData(frames);
}

function summary(events: WsEvent[]): string[] {
  return events.map((e) => (e.type === "text" ? `text:${e.data}` : e.type === "close" ? `close:${e.code}` : e.type));
}

/** A server on the runtime's own sockets that answers each message with "re:" and the message. */
async function replyingServer(network: Network, open?: () => void) {
  return await serve({
    network,
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    maxMessageSize: LIMIT,
    protocols: [{ name: "echo", open, message: (ws, m) => void ws.send(`re:${m}`) }],
  });
}

for (const error of PROTOCOL_ERRORS) {
  test(`server: a reply to a message goes out before the close that a following ${error.name} causes (${error.code})`, async () => {
    const network = await runtimeNetwork();
    const server = await replyingServer(network);
    try {
      // The request, a valid message and the bad frame in one write.
      const client = new ClientProtocol({ host: "x", path: "/" });
      const request = collect(client.dataToSend());
      const peer = await rawConnect(network, server.port);
      peer.transport.write([concat([request, frame(true, Opcode.Text, "hello"), error.bytes(true)])]);
      await within(peer.ended, 10000, "the server to close");
      assert.deepEqual(summary(client.receiveData(peer.received())), ["response", "text:re:hello", `close:${error.code}`]);
      peer.transport.destroy();
    } finally {
      await server.close();
    }
  });

  test(`server: the same in a read after the handshake's (${error.name})`, async () => {
    const network = await runtimeNetwork();
    const opened = deferred();
    const server = await replyingServer(network, () => opened.resolve());
    try {
      const client = new ClientProtocol({ host: "x", path: "/" });
      const peer = await rawConnect(network, server.port);
      peer.transport.write([collect(client.dataToSend())]);
      await within(opened.promise, 10000, "the connection to open");
      await until(() => peer.text().includes("\r\n\r\n"), "the 101", 10000);
      peer.transport.write([concat([frame(true, Opcode.Text, "hello"), error.bytes(true)])]);
      await within(peer.ended, 10000, "the server to close");
      assert.deepEqual(summary(client.receiveData(peer.received())), ["response", "text:re:hello", `close:${error.code}`]);
      peer.transport.destroy();
    } finally {
      await server.close();
    }
  });

  for (const withHead of [true, false]) {
    test(`client: a reply goes out before the close that a following ${error.name} causes (${error.code}; ${withHead ? "in the 101's write" : "after it"})`, async () => {
      const network = await runtimeNetwork();
      const received: Uint8Array[] = [];
      const clientClosed = deferred();
      // A raw server: the 101, then a valid message and the bad frame (in the 101's write, or in one of their own).
      const listener = await network.listen({ hostname: "127.0.0.1", port: 0 }, (transport: Transport) => {
        const core = new ServerProtocol();
        let open = false;
        transport.start({
          data: (chunk) => {
            if (open) return void received.push(chunk.slice());
            const [event] = core.receiveData(chunk);
            if (event?.type !== "request") return;
            open = true;
            core.accept();
            const head = collect(core.dataToSend());
            const frames = concat([frame(false, Opcode.Text, "hello"), error.bytes(false)]);
            if (withHead) transport.write([concat([head, frames])]);
            else {
              transport.write([head]);
              setTimeout(() => transport.write([frames]), 50);
            }
          },
          drain: () => {},
          end: () => transport.end(),
          close: () => clientClosed.resolve(),
        });
      });
      try {
        const ws = await connect(`ws://127.0.0.1:${listener.port}/`, {
          network,
          pingInterval: 0,
          closeTimeout: 200,
          maxMessageSize: LIMIT,
          handlers: { message: (conn, m) => void conn.send(`re:${m}`) },
        });
        await within(ws.closed, 10000, "the client to close");
        await within(clientClosed.promise, 10000, "the transport to close");
        assert.deepEqual(summary(serverEventsOf(concat(received))), ["text:re:hello", `close:${error.code}`]);
      } finally {
        await listener.close();
      }
    });
  }
}

test("server: a reply goes out before the echo of a close that followed its message in the same read", async () => {
  const network = await runtimeNetwork();
  const server = await replyingServer(network);
  try {
    const client = new ClientProtocol({ host: "x", path: "/" });
    const peer = await rawConnect(network, server.port);
    peer.transport.write([concat([collect(client.dataToSend()), frame(true, Opcode.Text, "hello"), frame(true, Opcode.Close, new Uint8Array([0x0f, 0xa0]))])]);
    await within(peer.ended, 10000, "the server to close");
    assert.deepEqual(summary(client.receiveData(peer.received())), ["response", "text:re:hello", "close:4000"]);
    peer.transport.destroy();
  } finally {
    await server.close();
  }
});

test("server: the reply and the close of a protocol error still leave in one write", async () => {
  const network = new CountingNetwork();
  const server = await serve({ network, pingInterval: 0, protocols: [{ name: "echo", open: () => {}, message: (ws, m) => void ws.send(`re:${m}`) }] });
  const client = new ClientProtocol({ host: "x", path: "/" });
  const peer = await rawConnect(network, server.port);
  peer.transport.write([collect(client.dataToSend())]);
  await until(() => peer.text().includes("\r\n\r\n"), "the 101");
  const before = network.writes.length;
  peer.transport.write([concat([frame(true, Opcode.Text, "a"), frame(true, Opcode.Text, "b"), frame(true, 3, "x")])]);
  await within(peer.ended);
  assert.equal(network.writes.length, before + 1, "one write for the read");
  assert.deepEqual(summary(client.receiveData(peer.received())), ["response", "text:re:a", "text:re:b", "close:1002"]);
  await server.close();
});

// --- the send limits count bytes, not UTF-16 units ---

/** With maxBufferedAmount 1000, a server sends 300 "a" (302 bytes with the header), then `second`, then closes. */
async function sendTwoUnderLimit(second: string): Promise<{ results: string[]; messages: unknown[]; code: number }> {
  const network = new MemoryNetwork();
  const results: string[] = [];
  const server = await serve({
    network,
    pingInterval: 0,
    maxBufferedAmount: 1000,
    protocols: [{
      name: "p",
      message: (ws) => {
        results.push(ws.send("a".repeat(300)));
        results.push(ws.send(second));
        ws.close();
      },
    }],
  });
  const ws = await connect(`ws://127.0.0.1:${server.port}/`, { network, pingInterval: 0 });
  ws.send("go");
  const messages: unknown[] = [];
  for await (const message of ws) messages.push(message);
  const { code } = await within(ws.closed);
  await server.close();
  return { results, messages, code };
}

test("maxBufferedAmount counts a string's UTF-8 bytes: 300 '€' (900 bytes) do not fit beside 302 in 1000", async () => {
  // 300 UTF-16 units, but 900 bytes: over the limit, so the connection closes with 1008.
  assert.deepEqual(await sendTwoUnderLimit("€".repeat(300)), { results: ["ok", "dropped"], messages: ["a".repeat(300)], code: 1008 });
});

test("maxBufferedAmount admits text by its exact UTF-8 size near the limit: 300 'é' (600 bytes) fit beside 302 in 1000", async () => {
  // 300 units could take 900 bytes (3 per unit), which would not fit: the check counts before refusing.
  assert.deepEqual(await sendTwoUnderLimit("é".repeat(300)), { results: ["ok", "ok"], messages: ["a".repeat(300), "é".repeat(300)], code: 1000 });
});

test("close(1005) sends a close frame without a body; the peer reports 1005", async () => {
  const network = new MemoryNetwork();
  const server = await serve({ network, pingInterval: 0, protocols: [{ name: "p", open: (ws) => ws.close(1005) }] });
  const ws = await connect(`ws://127.0.0.1:${server.port}/`, { network, pingInterval: 0 });
  assert.deepEqual(await within(ws.closed), { code: 1005, reason: "", wasClean: true });
  await server.close();
});

test("send() once closing is dropped, without a throw", async () => {
  const network = new MemoryNetwork();
  const results: string[] = [];
  const server = await serve({ network, pingInterval: 0, protocols: [{ name: "p", open: (ws) => {
    ws.close();
    results.push(ws.send("late"), ws.sendFragment("late", true));
  } }] });
  const ws = await connect(`ws://127.0.0.1:${server.port}/`, { network, pingInterval: 0 });
  await within(ws.closed);
  assert.deepEqual(results, ["dropped", "dropped"]);
  await server.close();
});
