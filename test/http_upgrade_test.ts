// The WebSocket upgrade as one request of an HTTP/1.1 connection: after
// plain requests on a kept-alive connection, and with frames right behind
// the request. Bytes that arrive in the same read as the request, while the
// handshake is being decided, or at any microtask around the moment the
// connection opens must reach the handlers after `open`, in order, and
// never be lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryNetwork } from "../adapters/memory.ts";
import { serve, type Subprotocol } from "../src/services/server.ts";
import type { TransportEvents } from "../src/transport/transport.ts";
import { concat } from "../src/core/bytes.ts";
import { deferred, latin1, until, within } from "./helpers.ts";
import { HttpPeer } from "./http_peer.ts";

/** A memory network that keeps the events object of each server transport, to deliver bytes at chosen moments. */
class TappedNetwork extends MemoryNetwork {
  events: TransportEvents[] = [];
  override listen(...[options, accept]: Parameters<MemoryNetwork["listen"]>): ReturnType<MemoryNetwork["listen"]> {
    return super.listen(options, (transport) => {
      const start = transport.start.bind(transport);
      transport.start = (events) => {
        this.events.push(events);
        start(events);
      };
      accept(transport);
    });
  }
}

const UPGRADE = "GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A masked client text frame. */
function frame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const key = [1, 2, 3, 4];
  const out = new Uint8Array(6 + payload.length);
  out.set([0x81, 0x80 | payload.length, ...key]);
  payload.forEach((b, i) => (out[6 + i] = b ^ key[i % 4]!));
  return out;
}

function recorder(): { log: string[]; protocol: Subprotocol } {
  const log: string[] = [];
  return {
    log,
    protocol: {
      name: "chat",
      open: () => void log.push("open"),
      message: (ws, message) => {
        log.push(String(message));
        ws.send(`echo ${String(message)}`);
      },
    },
  };
}

test("the upgrade on a kept-alive connection that already served plain requests", async () => {
  const { log, protocol } = recorder();
  const network = new MemoryNetwork();
  const server = await serve({ network, pingInterval: 0, protocols: [protocol], fetch: (r) => new Response(`page ${new URL(r.url).pathname}`) });
  const client = await HttpPeer.connect(network, server.port);
  client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
  assert.equal((await client.response()).text, "page /a");
  assert.equal((await client.response()).text, "page /b");
  client.send(UPGRADE);
  const head = await client.head();
  assert.equal(head.status, 101);
  assert.equal(head.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  client.send(frame("hello"));
  await until(() => log.length === 2, "the message");
  assert.deepEqual(log, ["open", "hello"]);
  assert.equal(server.connections.size, 1);
  await server.close({ timeout: 0 });
});

test("frames in the same read as the request reach the handlers after open, in order", async () => {
  const { log, protocol } = recorder();
  const network = new MemoryNetwork();
  const server = await serve({ network, pingInterval: 0, protocols: [protocol] });
  const client = await HttpPeer.connect(network, server.port);
  client.send(concat([latin1(UPGRADE), frame("one"), frame("two"), frame("three")]));
  await until(() => log.length === 4, "three messages");
  assert.deepEqual(log, ["open", "one", "two", "three"]);
  await server.close({ timeout: 0 });
});

test("frames that arrive while filterHandshake decides wait, then follow open in order", async () => {
  const { log, protocol } = recorder();
  const network = new TappedNetwork();
  const decide = deferred<void>();
  const deciding = deferred<void>();
  const server = await serve({
    network,
    pingInterval: 0,
    protocols: [protocol],
    filterHandshake: async () => {
      deciding.resolve();
      await decide.promise;
      return undefined;
    },
  });
  const client = await HttpPeer.connect(network, server.port);
  client.send(concat([latin1(UPGRADE), frame("behind the request")]));
  await within(deciding.promise);
  client.send(frame("while deciding"));
  client.send(frame("still deciding"));
  await new Promise((r) => setTimeout(r, 10)); // let them arrive at the server
  assert.deepEqual(log, [], "nothing before the decision");
  decide.resolve();
  await until(() => log.length === 4, "the messages");
  client.send(frame("after open"));
  await until(() => log.length === 5, "the last message");
  assert.deepEqual(log, ["open", "behind the request", "while deciding", "still deciding", "after open"]);
  await server.close({ timeout: 0 });
});

test("bytes delivered at any microtask around the opening are never lost nor ahead of open", async () => {
  // The window that lost frames: between accept() in the core and the transport's events reaching
  // the connection. Deliver a frame directly from the transport at every microtask depth around it.
  for (let depth = 0; depth <= 12; depth++) {
    const { log, protocol } = recorder();
    const network = new TappedNetwork();
    let inject: (() => void) | undefined;
    const server = await serve({
      network,
      pingInterval: 0,
      protocols: [protocol],
      filterHandshake: () => {
        inject?.();
        return Promise.resolve(undefined);
      },
    });
    const client = await HttpPeer.connect(network, server.port);
    inject = () => {
      const events = network.events[0]!;
      let hops = depth;
      const hop = (): void => {
        if (hops-- > 0) queueMicrotask(hop);
        else events.data(frame(`at depth ${depth}`));
      };
      queueMicrotask(hop);
    };
    client.send(concat([latin1(UPGRADE), frame("first")]));
    await until(() => log.length === 3, `the messages at depth ${depth}`);
    assert.deepEqual(log, ["open", "first", `at depth ${depth}`], `depth ${depth}`);
    await server.close({ timeout: 0 });
  }
});
