// Events completed in the same read as the opening handshake must not
// overtake the handshake's own event: `open` first (readyState OPEN), then
// the messages, in order — for the WHATWG WebSocket, connect()'s handlers
// and the server's; and bytes delivered right behind the request must not
// be lost however the transport delivers them. Black-box: over the public
// API, the runtime's sockets and the Transport interface.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, runtimeNetwork, serve, WebSocket } from "../mod.ts";
import { concat } from "../src/core/bytes.ts";
import { ClientProtocol } from "../src/core/client_protocol.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { type OutgoingData, SEND_EOF } from "../src/core/protocol.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import { BaseTransport } from "../src/transport/base_transport.ts";
import type { Listener, Network, Transport } from "../src/transport/transport.ts";
import { deferred, enc, rawConnect, within } from "./helpers.ts";

const MASK = new Uint8Array([1, 2, 3, 4]);

function frame(masked: boolean, opcode: number, payload: string | Uint8Array): Uint8Array {
  return concat(encodeFrame(opcode, typeof payload === "string" ? enc.encode(payload) : payload, { mask: masked ? MASK : undefined }));
}

function bytesOf(items: OutgoingData[]): Uint8Array {
  return concat(items.filter((item): item is Uint8Array => item !== SEND_EOF));
}

/**
 * A raw server on the runtime's network that answers every handshake with
 * the 101 and `after` (frames) in the same write.
 */
async function rawServer(network: Network, after: Uint8Array, protocol?: string): Promise<Listener> {
  return await network.listen({ hostname: "127.0.0.1", port: 0 }, (transport: Transport) => {
    const core = new ServerProtocol();
    let answered = false;
    transport.start({
      data: (chunk) => {
        if (answered) return;
        const [event] = core.receiveData(chunk);
        if (event?.type !== "request") return;
        answered = true;
        core.accept(protocol === undefined ? {} : { protocol });
        transport.write([concat([bytesOf(core.dataToSend()), after])]);
      },
      drain: () => {},
      end: () => transport.end(),
      close: () => {},
    });
  });
}

// --- WHATWG WebSocket ---

test("WebSocket: open fires before a message the server sent in its open handler (the README's chat welcome)", async () => {
  const network = await runtimeNetwork();
  const server = await serve({ network, hostname: "127.0.0.1", port: 0, pingInterval: 0, protocols: [{ name: "chat", open: (ws) => void ws.send("welcome") }] });
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/`, ["chat"]);
    const seen: string[] = [];
    const closed = deferred();
    socket.onopen = () => seen.push(`open:${socket.readyState}:${socket.protocol}`);
    socket.onmessage = (event) => {
      seen.push(`message:${socket.readyState}:${event.data}`);
      socket.close();
    };
    socket.onclose = () => closed.resolve();
    await within(closed.promise, 10000, "close");
    assert.deepEqual(seen, ["open:1:chat", "message:1:welcome"]);
  } finally {
    await server.close();
  }
});

test("WebSocket: frames in the 101's write: open, then each message, then close, all with readyState OPEN before close", async () => {
  const network = await runtimeNetwork();
  const after = concat([frame(false, Opcode.Text, "first"), frame(false, Opcode.Binary, new Uint8Array([1, 2, 3])), frame(false, Opcode.Close, new Uint8Array([0x03, 0xe8]))]);
  const listener = await rawServer(network, after);
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${listener.port}/`);
    socket.binaryType = "arraybuffer";
    const seen: string[] = [];
    const closed = deferred();
    socket.addEventListener("open", () => seen.push(`open:${socket.readyState}`));
    socket.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data;
      seen.push(`message:${socket.readyState}:${typeof data === "string" ? data : Array.from(new Uint8Array(data as ArrayBuffer)).join(",")}`);
    });
    socket.addEventListener("error", () => seen.push(`error:${socket.readyState}`));
    socket.addEventListener("close", (event) => {
      seen.push(`close:${socket.readyState}:${(event as CloseEvent).code}`);
      closed.resolve();
    });
    await within(closed.promise, 10000, "close");
    assert.deepEqual(seen, ["open:1", "message:1:first", "message:1:1,2,3", "close:3:1000"]);
  } finally {
    await listener.close();
  }
});

test("WebSocket: a protocol error in the 101's write: open, the message before it, then error and close 1006 with readyState CLOSED", async () => {
  const network = await runtimeNetwork();
  const listener = await rawServer(network, concat([frame(false, Opcode.Text, "before"), frame(false, 3, "x")]));
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${listener.port}/`);
    const seen: string[] = [];
    const closed = deferred();
    socket.onopen = () => seen.push(`open:${socket.readyState}`);
    socket.onmessage = (event) => seen.push(`message:${socket.readyState}:${event.data}`);
    socket.onerror = () => seen.push(`error:${socket.readyState}`);
    socket.onclose = (event) => {
      seen.push(`close:${socket.readyState}:${event.code}:${event.wasClean}`);
      closed.resolve();
    };
    await within(closed.promise, 10000, "close");
    assert.deepEqual(seen, ["open:1", "message:1:before", "error:3", "close:3:1006:false"]);
  } finally {
    await listener.close();
  }
});

// --- connect() ---

test("connect(): the open handler runs before the messages that came with the 101, which see the connection OPEN", async () => {
  const network = await runtimeNetwork();
  const listener = await rawServer(network, concat([frame(false, Opcode.Text, "one"), frame(false, Opcode.Text, "two")]));
  try {
    const seen: string[] = [];
    const two = deferred();
    const ws = await connect(`ws://127.0.0.1:${listener.port}/`, {
      network,
      pingInterval: 0,
      handlers: {
        open: (conn) => seen.push(`open:${conn.readyState}`),
        message: (conn, m) => {
          seen.push(`message:${conn.readyState}:${m}`);
          if (m === "two") two.resolve();
        },
      },
    });
    await within(two.promise, 10000, "the messages");
    assert.deepEqual(seen, ["open:1", "message:1:one", "message:1:two"]);
    ws.terminate();
  } finally {
    await listener.close();
  }
});

test("connect(): without handlers, the messages that came with the 101 are iterated in order", async () => {
  const network = await runtimeNetwork();
  const listener = await rawServer(network, concat([frame(false, Opcode.Text, "one"), frame(false, Opcode.Text, "two"), frame(false, Opcode.Close, new Uint8Array([0x03, 0xe8]))]));
  try {
    const ws = await connect(`ws://127.0.0.1:${listener.port}/`, { network, pingInterval: 0, closeTimeout: 500 });
    const messages: unknown[] = [];
    for await (const message of ws) messages.push(message);
    assert.deepEqual(messages, ["one", "two"]);
    assert.equal((await within(ws.closed)).code, 1000);
  } finally {
    await listener.close();
  }
});

// --- the server ---

test("server: frames sent right behind the request reach the handlers after open, in order", async () => {
  const network = await runtimeNetwork();
  const seen: string[] = [];
  const done = deferred();
  const server = await serve({
    network,
    hostname: "127.0.0.1",
    port: 0,
    pingInterval: 0,
    protocols: [{
      name: "p",
      open: (ws) => seen.push(`open:${ws.readyState}`),
      message: (ws, m) => {
        seen.push(`message:${ws.readyState}:${m}`);
        ws.send(`re:${m}`);
      },
      close: (_ws, code) => {
        seen.push(`close:${code}`);
        done.resolve();
      },
    }],
  });
  try {
    const client = new ClientProtocol({ host: "x", path: "/" });
    const peer = await rawConnect(network, server.port);
    peer.transport.write([concat([bytesOf(client.dataToSend()), frame(true, Opcode.Text, "a"), frame(true, Opcode.Text, "b"), frame(true, Opcode.Close, new Uint8Array([0x03, 0xe8]))])]);
    await within(done.promise, 10000, "the close handler");
    await within(peer.ended, 10000, "the server's EOF");
    assert.deepEqual(seen, ["open:1", "message:1:a", "message:1:b", "close:1000"]);
    const events = client.receiveData(peer.received()).map((e) => (e.type === "text" ? e.data : e.type));
    assert.deepEqual(events, ["response", "re:a", "re:b", "close"]);
    peer.transport.destroy();
  } finally {
    await server.close();
  }
});

/**
 * A transport that received its chunks before anyone started it, as an
 * adopted socket may have: start() hands them over in one synchronous loop.
 */
class PreloadedTransport extends BaseTransport {
  readonly raw = null;
  readonly remoteAddress = "preloaded";
  readonly remotePort = 1;
  readonly localAddress = "local";
  readonly localPort = 2;
  readonly written: Uint8Array[] = [];
  readonly done = deferred();

  constructor(chunks: Uint8Array[], eof: boolean) {
    super();
    for (const chunk of chunks) this.received(chunk);
    if (eof) this.receivedEnd();
  }
  protected writeSome(chunk: Uint8Array): number {
    this.written.push(chunk.slice());
    return chunk.length;
  }
  protected shutdownWrite(): void {}
  protected stopReading(): void {}
  protected startReading(): void {}
  protected release(): void {
    this.done.resolve();
  }
}

for (const eof of [false, true]) {
  test(`server: chunks delivered in the same synchronous loop as the request are not lost${eof ? " (and the EOF behind them)" : ""}`, async () => {
    const seen: string[] = [];
    const closed = deferred();
    const server = createServer({
      pingInterval: 0,
      closeTimeout: 200,
      protocols: [{
        name: "p",
        open: () => seen.push("open"),
        message: (ws, m) => {
          seen.push(`message:${m}`);
          ws.send(`re:${m}`);
        },
        close: (_ws, code) => {
          seen.push(`close:${code}`);
          closed.resolve();
        },
      }],
    });
    const client = new ClientProtocol({ host: "x", path: "/" });
    const chunks = [bytesOf(client.dataToSend()), frame(true, Opcode.Text, "one"), frame(true, Opcode.Text, "two")];
    if (!eof) chunks.push(frame(true, Opcode.Close, new Uint8Array([0x03, 0xe8])));
    const transport = new PreloadedTransport(chunks, eof);
    server.adopt(transport);
    await within(closed.promise, 5000, "the close handler");
    assert.deepEqual(seen, ["open", "message:one", "message:two", eof ? "close:1006" : "close:1000"]);
    const replies = client.receiveData(concat(transport.written)).filter((e) => e.type === "text").map((e) => e.type === "text" && e.data);
    assert.deepEqual(replies, ["re:one", "re:two"]);
    await server.close();
  });
}
