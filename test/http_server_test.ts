// serve({ fetch }) as an HTTP/1.1 server: keep-alive, pipelining in order,
// errors (500) and a handler that never answers (503) without touching the
// connection's other work, per-route body limits (413 before reading),
// 100-continue, and every timeout (head, keep-alive, body), driven by a
// ManualClock over the memory network; graceful shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryNetwork } from "../adapters/memory.ts";
import { ManualClock } from "../src/services/clock.ts";
import { serve, type ServeOptions } from "../src/services/server.ts";
import type { Transport } from "../src/transport/transport.ts";
import { deferred, until, within } from "./helpers.ts";
import { HttpPeer } from "./http_peer.ts";

/** A memory network that counts the connections it accepts and the bytes the server reads. */
class CountingConnections extends MemoryNetwork {
  accepted: Transport[] = [];
  received = 0;
  override listen(...[options, accept]: Parameters<MemoryNetwork["listen"]>): ReturnType<MemoryNetwork["listen"]> {
    return super.listen(options, (transport) => {
      this.accepted.push(transport);
      const start = transport.start.bind(transport);
      transport.start = (events) =>
        start({
          data: (chunk) => {
            this.received += chunk.length;
            events.data(chunk);
          },
          drain: () => events.drain(),
          end: () => events.end(),
          close: (error) => events.close(error),
        });
      accept(transport);
    });
  }
}

async function setup(options: ServeOptions) {
  const network = new CountingConnections();
  const server = await serve({ network, pingInterval: 0, ...options });
  const peer = () => HttpPeer.connect(network, server.port);
  return { network, server, peer };
}

const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

test("keep-alive: several requests, one after another, over one connection", async () => {
  const { network, server, peer } = await setup({ fetch: (request) => new Response(`you asked for ${new URL(request.url).pathname}`) });
  const client = await peer();
  for (const path of ["/a", "/b", "/c"]) {
    client.send(GET(path));
    const answer = await client.response();
    assert.equal(answer.status, 200);
    assert.equal(answer.text, `you asked for ${path}`);
    assert.equal(answer.headers.get("content-length"), String(answer.text.length));
    assert.equal(answer.headers.get("connection"), undefined);
    assert.match(answer.headers.get("date") ?? "", /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  }
  assert.equal(network.accepted.length, 1);
  assert.equal(client.ended, false);
  await server.close();
});

test("pipelined requests are answered in order even when a later handler finishes first", async () => {
  const slow = deferred<void>();
  const finished: string[] = [];
  const { network, server, peer } = await setup({
    fetch: async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/slow") await slow.promise;
      finished.push(path);
      return new Response(path);
    },
  });
  const client = await peer();
  client.send(GET("/slow") + GET("/fast") + GET("/last", "Connection: close\r\n"));
  await until(() => finished.length === 0 && client.pending === 0 && server.connections.size === 0, "the first request to be handled");
  slow.resolve();
  assert.equal((await client.response()).text, "/slow");
  assert.equal((await client.response()).text, "/fast");
  const last = await client.response();
  assert.equal(last.text, "/last");
  assert.equal(last.headers.get("connection"), "close");
  await within(client.closed);
  assert.deepEqual(finished, ["/slow", "/fast", "/last"], "the next request is not read before the answer in progress ends");
  assert.equal(network.accepted.length, 1);
  await server.close();
});

test("a fetch that throws gets 500 and the connection goes on with the next request", async () => {
  const { server, peer } = await setup({
    fetch: (request) => {
      if (request.url.endsWith("/throw")) throw new Error("boom");
      if (request.url.endsWith("/reject")) return Promise.reject(new Error("boom"));
      if (request.url.endsWith("/not-a-response")) return "nope" as unknown as Response;
      return new Response("fine");
    },
  });
  const client = await peer();
  client.send(GET("/throw") + GET("/reject") + GET("/not-a-response") + GET("/ok"));
  for (let i = 0; i < 3; i++) {
    const answer = await client.response();
    assert.equal(answer.status, 500);
    assert.equal(answer.headers.get("connection"), undefined, "the connection is kept");
  }
  assert.equal((await client.response()).text, "fine");
  await server.close();
});

test("a Response that throws while it is read gets 500, and the connection goes on", async () => {
  class Broken extends Response {
    override get headers(): Headers {
      throw new Error("broken getter");
    }
  }
  const { server, peer } = await setup({ fetch: (request) => (request.url.endsWith("/broken") ? new Broken("x") : new Response("fine")) });
  const client = await peer();
  client.send(GET("/broken") + GET("/ok"));
  assert.equal((await client.response()).status, 500);
  assert.equal((await client.response()).text, "fine");
  await server.close();
});

test("fetch returning undefined gets 404", async () => {
  const { server, peer } = await setup({ fetch: () => undefined });
  const client = await peer();
  client.send(GET("/nothing"));
  assert.equal((await client.response()).status, 404);
  await server.close();
});

test("a handler that never answers gets 503 after fetchTimeout; its signal aborts with TimeoutError; the connection goes on", async () => {
  const clock = new ManualClock();
  const aborted = deferred<unknown>();
  const called = deferred<void>();
  const { server, peer } = await setup({
    clock,
    fetchTimeout: 1000,
    fetch: (request) => {
      if (request.url.endsWith("/never")) {
        request.signal.addEventListener("abort", () => aborted.resolve(request.signal.reason));
        called.resolve();
        return new Promise<Response>(() => {});
      }
      return new Response("after");
    },
  });
  const client = await peer();
  client.send(GET("/never"));
  await within(called.promise);
  clock.advance(999);
  assert.equal(client.pending, 0, "no answer before the timeout");
  clock.advance(1);
  const answer = await client.response();
  assert.equal(answer.status, 503);
  assert.equal(((await within(aborted.promise)) as Error).name, "TimeoutError");
  client.send(GET("/next"));
  assert.equal((await client.response()).text, "after");
  await server.close();
});

test("maxHttpBodySize per route: 413 before the body is read, and fetch never sees the request", async () => {
  const seen: string[] = [];
  const { server, peer } = await setup({
    maxHttpBodySize: (request) => (new URL(request.url).pathname === "/upload" ? 1000 : 10),
    fetch: async (request) => {
      seen.push(new URL(request.url).pathname);
      return new Response(`got ${(await request.arrayBuffer()).byteLength}`);
    },
  });
  const big = await peer();
  big.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + "x".repeat(100));
  assert.equal((await big.response()).text, "got 100");
  const small = await peer();
  small.send("POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
  const refused = await small.response();
  assert.equal(refused.status, 413);
  assert.equal(refused.headers.get("connection"), "close");
  await within(small.closed);
  // A chunked body over the limit is refused when it passes it.
  const chunked = await peer();
  chunked.send("POST /form HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  assert.equal((await chunked.response()).status, 413);
  await within(chunked.closed);
  assert.deepEqual(seen.filter((p) => p === "/upload"), ["/upload"]);
  await server.close();
});

test("Expect: 100-continue: 100 when the handler reads the body, none (and close) when it answers first", async () => {
  const { server, peer } = await setup({
    maxHttpBodySize: 100,
    fetch: async (request) => {
      if (request.url.endsWith("/deny")) return new Response("no", { status: 401 });
      return new Response(`echo ${await request.text()}`);
    },
  });
  const reading = await peer();
  reading.send("PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  const interim = await reading.head();
  assert.equal(interim.status, 100, "the client is told to go on before it sends the body");
  reading.send("hello");
  assert.equal((await reading.response()).text, "echo hello");

  const denied = await peer();
  denied.send("PUT /deny HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  const answer = await denied.response("PUT", 10000, true);
  assert.equal(answer.status, 401, "no 100 Continue before the final answer");
  assert.equal(answer.headers.get("connection"), "close");
  await within(denied.closed);

  const tooBig = await peer();
  tooBig.send("PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n");
  assert.equal((await tooBig.response("PUT", 10000, true)).status, 413);
  await server.close();
});

test("the keep-alive timeout closes an idle connection; maxRequestsPerConnection 1 closes after every answer", async () => {
  const clock = new ManualClock();
  const { server, peer } = await setup({ clock, keepAliveTimeout: 2000, fetch: () => new Response("ok") });
  const client = await peer();
  client.send(GET("/"));
  assert.equal((await client.response()).status, 200);
  await until(() => clock.pending > 0, "the keep-alive timer");
  clock.advance(1999);
  assert.equal(client.ended, false);
  clock.advance(1);
  await within(client.closed, 5000, "the idle connection to close");
  await server.close();

  const off = await setup({ maxRequestsPerConnection: 1, fetch: () => new Response("ok") });
  const once = await off.peer();
  once.send(GET("/"));
  assert.equal((await once.response()).headers.get("connection"), "close");
  await within(once.closed);
  await off.server.close();
});

test("the head timeout applies to every request of a kept-alive connection", async () => {
  const clock = new ManualClock();
  const { network, server, peer } = await setup({ clock, handshakeTimeout: 500, keepAliveTimeout: 60000, fetch: () => new Response("ok") });
  const client = await peer();
  client.send(GET("/"));
  await client.response();
  const before = network.received;
  client.send("GET /slow HTTP/1.1\r\nHo"); // the next head starts, and stalls
  await until(() => network.received > before, "the partial head to arrive");
  clock.advance(499);
  assert.equal(client.ended, false);
  clock.advance(1);
  await within(client.closed, 5000, "the stalled head to be cut off");
  await server.close();
});

test("the body timeout: a body that stalls gets 408 and the connection closes; the handler's read fails", async () => {
  const clock = new ManualClock();
  const readFailed = deferred<string>();
  const { network, server, peer } = await setup({
    clock,
    bodyTimeout: 3000,
    fetch: async (request) => {
      try {
        await request.text();
        return new Response("complete");
      } catch (error) {
        readFailed.resolve((error as Error).name);
        throw error;
      }
    },
  });
  const client = await peer();
  client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
  await until(() => network.received > 0, "the request");
  clock.advance(2999);
  const before = network.received;
  client.send("def"); // progress restarts the timer
  await until(() => network.received > before, "more of the body");
  clock.advance(2999);
  assert.equal(client.pending, 0);
  clock.advance(1);
  const answer = await client.response("POST");
  assert.equal(answer.status, 408);
  assert.equal(answer.headers.get("connection"), "close");
  assert.equal(await within(readFailed.promise), "TimeoutError");
  await within(client.closed);
  await server.close();
});

test("maxRequestsPerConnection: the answer to the last request closes the connection", async () => {
  const { server, peer } = await setup({ maxRequestsPerConnection: 2, fetch: () => new Response("ok") });
  const client = await peer();
  client.send(GET("/1") + GET("/2") + GET("/3"));
  assert.equal((await client.response()).headers.get("connection"), undefined);
  assert.equal((await client.response()).headers.get("connection"), "close");
  await within(client.closed);
  await server.close();
});

test("HTTP/1.0: closed after the answer unless keep-alive is asked; a streamed body is delimited by the close", async () => {
  const { server, peer } = await setup({
    fetch: (request) =>
      request.url.endsWith("/stream")
        ? new Response(new ReadableStream({ start: (c) => void c.enqueue(new TextEncoder().encode("streamed")) }).pipeThrough(new TransformStream()))
        : new Response("fixed"),
  });
  const kept = await peer();
  kept.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const first = await kept.response();
  assert.equal(first.headers.get("connection"), "keep-alive");
  assert.equal(first.text, "fixed");
  kept.send("GET /b HTTP/1.0\r\n\r\n");
  assert.equal((await kept.response()).headers.get("connection"), "close");
  await within(kept.closed);
  // A body of unknown length cannot be chunked to HTTP/1.0: it ends with the connection.
  const streamed = await peer();
  streamed.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const head = await streamed.head();
  assert.equal(head.headers.get("transfer-encoding"), undefined);
  assert.equal(head.headers.get("connection"), "close");
  streamed.transport.destroy(); // the body never ends: the client leaves
  await server.close();
});

test("server.close() closes idle kept-alive connections at once and lets an exchange in progress finish with Connection: close", async () => {
  const release = deferred<void>();
  const { server, peer } = await setup({
    fetch: async (request) => {
      if (request.url.endsWith("/busy")) await release.promise;
      return new Response("done");
    },
  });
  const idle = await peer();
  idle.send(GET("/"));
  await idle.response();
  const busy = await peer();
  busy.send(GET("/busy"));
  await new Promise((r) => setTimeout(r, 20));
  const closing = server.close();
  await within(idle.closed, 5000, "the idle connection to close");
  release.resolve();
  const answer = await busy.response();
  assert.equal(answer.text, "done");
  assert.equal(answer.headers.get("connection"), "close");
  await within(busy.closed);
  await within(closing, 10000, "server.close()");
});
