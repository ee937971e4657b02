// Bodies stream both ways with backpressure: a request body reaches fetch
// as it arrives and the socket pauses while the handler does not read; a
// response body is written as it is produced (chunked when its length is
// unknown), the producer is not read while the socket is backed up, and it
// is cancelled when the client goes away, with request.signal aborted. A
// never-ending server-sent-events response over real sockets, read by this
// runtime's fetch(), stops cleanly when the client leaves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryNetwork } from "../adapters/memory.ts";
import { runtimeNetwork, serve } from "../mod.ts";
import { type ServeOptions } from "../src/services/server.ts";
import type { Transport } from "../src/transport/transport.ts";
import { deferred, until, within } from "./helpers.ts";
import { HttpPeer } from "./http_peer.ts";

const enc = new TextEncoder();

/** A memory network whose server side reports pauses and the bytes read. */
class ObservedNetwork extends MemoryNetwork {
  received = 0;
  paused = false;
  pauses = 0;
  server: Transport | undefined;
  override listen(...[options, accept]: Parameters<MemoryNetwork["listen"]>): ReturnType<MemoryNetwork["listen"]> {
    return super.listen(options, (transport) => {
      this.server = transport;
      const { pause, resume, start } = { pause: transport.pause.bind(transport), resume: transport.resume.bind(transport), start: transport.start.bind(transport) };
      transport.pause = () => {
        this.paused = true;
        this.pauses++;
        pause();
      };
      transport.resume = () => {
        this.paused = false;
        resume();
      };
      transport.start = (events) =>
        start({ ...events, data: (chunk) => {
          this.received += chunk.length;
          events.data(chunk);
        }, drain: () => events.drain(), end: () => events.end(), close: (e) => events.close(e) });
      accept(transport);
    });
  }
}

async function setup(options: ServeOptions) {
  const network = new ObservedNetwork();
  const server = await serve({ network, pingInterval: 0, ...options });
  return { network, server, peer: () => HttpPeer.connect(network, server.port) };
}

test("a request body reaches fetch as it arrives, before the client has sent it all", async () => {
  const parts: string[] = [];
  const gotPart = [deferred<void>(), deferred<void>(), deferred<void>()];
  const { server, peer } = await setup({
    fetch: async (request) => {
      const reader = request.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(decoder.decode(value));
        gotPart[parts.length - 1]?.resolve();
      }
      return new Response(`read ${parts.join("|")}`);
    },
  });
  const client = await peer();
  client.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
  await within(gotPart[0]!.promise, 5000, "the first part, while the rest is not sent");
  client.send("6\r\nsecond\r\n");
  await within(gotPart[1]!.promise, 5000, "the second part");
  client.send("5\r\nthird\r\n0\r\n\r\n");
  const answer = await client.response();
  assert.equal(answer.text, "read first|second|third");
  await server.close();
});

test("a handler that does not read pauses the socket: the body waits in the client, not in the server", async () => {
  const startReading = deferred<void>();
  const size = 4 * 1024 * 1024;
  const { network, server, peer } = await setup({
    maxHttpBodySize: size,
    fetch: async (request) => {
      await startReading.promise;
      return new Response(`read ${(await request.arrayBuffer()).byteLength}`);
    },
  });
  const client = await peer();
  client.send(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
  client.send(new Uint8Array(size));
  await until(() => network.paused, "the server to pause reading", 10000);
  const heldByServer = network.received;
  assert.ok(heldByServer < 512 * 1024, `the server read ${heldByServer} bytes before pausing`);
  assert.ok(client.transport.bufferedAmount > size - 1024 * 1024, "the rest waits on the client's side");
  startReading.resolve();
  const answer = await client.response("POST", 20000);
  assert.equal(answer.text, `read ${size}`);
  assert.ok(network.received >= size, "all of it read in the end");
  await server.close();
});

test("a response body is written as produced, chunked; the producer is not read while the client does not read", async () => {
  let pulls = 0;
  const cancelled = deferred<unknown>();
  const aborted = deferred<void>();
  const piece = new Uint8Array(64 * 1024).fill(0x61);
  const { network, server, peer } = await setup({
    highWaterMark: 256 * 1024,
    fetch: (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      return new Response(new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(piece);
        },
        cancel: (reason) => cancelled.resolve(reason),
      }, { highWaterMark: 0 }));
    },
  });
  const client = await peer();
  client.transport.pause(); // the client stops reading
  client.send("GET /forever HTTP/1.1\r\nHost: t\r\n\r\n");
  await until(() => pulls >= 4, "the first pieces");
  // Let the server run as far as it would; a producer read without limit would run away here.
  for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 2));
  const pulledWhileStalled = pulls;
  assert.ok(pulledWhileStalled <= 12, `${pulledWhileStalled} pieces of 64 KiB were pulled for a client that reads nothing`);
  assert.ok(network.server!.bufferedAmount <= 256 * 1024 + 2 * piece.length);
  client.transport.resume();
  const head = await client.head();
  assert.equal(head.headers.get("transfer-encoding"), "chunked");
  for (let i = 0; i < 20; i++) assert.equal((await client.chunk())?.length, piece.length);
  assert.ok(pulls > pulledWhileStalled, "reading again resumes the producer");
  client.transport.destroy();
  await within(cancelled.promise, 5000, "the response stream to be cancelled");
  await within(aborted.promise, 5000, "request.signal to abort");
  await server.close();
});

test("request.signal aborts when the client leaves while the handler works", async () => {
  const aborted = deferred<string>();
  const started = deferred<void>();
  const { server, peer } = await setup({
    fetch: (request) => {
      started.resolve();
      return new Promise<Response>((resolve) => {
        request.signal.addEventListener("abort", () => {
          aborted.resolve((request.signal.reason as Error).name);
          resolve(new Response("too late"));
        });
      });
    },
  });
  const client = await peer();
  client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  await within(started.promise);
  client.transport.destroy();
  assert.equal(await within(aborted.promise), "AbortError");
  await server.close();
});

test("a response body that fails midway cuts the chunked answer and closes the connection; others are unaffected", async () => {
  const { server, peer } = await setup({
    fetch: (request) => {
      if (request.url.endsWith("/ok")) return new Response("fine");
      let sent = false;
      return new Response(new ReadableStream({
        pull(controller) {
          if (sent) return void controller.error(new Error("disk on fire"));
          sent = true;
          controller.enqueue(enc.encode("partial"));
          return new Promise((r) => setTimeout(r, 5)); // a stream that is still producing
        },
      }));
    },
  });
  const broken = await peer();
  broken.send("GET /broken HTTP/1.1\r\nHost: t\r\n\r\n");
  const head = await broken.head();
  assert.equal(head.headers.get("transfer-encoding"), "chunked");
  assert.equal(await broken.chunk(), "partial");
  await within(broken.closed, 5000, "the connection to be cut");
  await assert.rejects(broken.chunk(), "no terminating chunk");
  const other = await peer();
  other.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
  assert.equal((await other.response()).text, "fine");
  await server.close();
});

test("a body that ends at once is sent with its Content-Length; HEAD and 304 send none", async () => {
  const { server, peer } = await setup({
    fetch: (request) => {
      if (request.url.endsWith("/304")) return new Response(null, { status: 304, headers: { etag: '"x"' } });
      return new Response(new ReadableStream({
        start(c) {
          c.enqueue(enc.encode("two "));
          c.enqueue(enc.encode("chunks"));
          c.close();
        },
      }));
    },
  });
  const client = await peer();
  client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\nHEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /304 HTTP/1.1\r\nHost: t\r\n\r\n");
  const get = await client.response();
  assert.equal(get.headers.get("content-length"), "10");
  assert.equal(get.chunks, undefined);
  assert.equal(get.text, "two chunks");
  const head = await client.response("HEAD");
  assert.equal(head.headers.get("content-length"), "10");
  const notModified = await client.response();
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body.length, 0);
  client.send("GET /304 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  await client.response();
  await within(client.closed);
  assert.equal(client.pending, 0, "nothing after the answers");
  await server.close();
});

test("server-sent events over real sockets: each event reaches this runtime's fetch() as it is sent; leaving stops the stream", async () => {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let interval: ReturnType<typeof setInterval> | undefined;
  let tickedAfterCancel = false;
  let cancelled = false;
  const cancel = deferred<void>();
  const aborted = deferred<void>();
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    network: await runtimeNetwork(),
    fetch: (request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      return new Response(new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          // A never-ending heartbeat, as a real event source has.
          interval = setInterval(() => {
            if (cancelled) tickedAfterCancel = true;
            else c.enqueue(enc.encode(": heartbeat\n\n"));
          }, 20);
        },
        cancel() {
          cancelled = true;
          clearInterval(interval);
          cancel.resolve();
        },
      }), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
  });
  try {
    const leave = new AbortController();
    const response = await fetch(`http://127.0.0.1:${server.port}/events`, { signal: leave.signal });
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { done, value } = await within(reader.read(), 10000, `the event ${needle}`);
        if (done) throw new Error("the stream ended");
        text += decoder.decode(value, { stream: true });
      }
    };
    for (const n of [1, 2, 3]) {
      controller.enqueue(enc.encode(`data: event ${n}\n\n`));
      await until(`data: event ${n}\n\n`); // received before the next one is even produced
    }
    leave.abort();
    await reader.cancel().catch(() => {});
    await within(cancel.promise, 10000, "the event stream to be cancelled");
    await within(aborted.promise, 10000, "request.signal to abort");
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(tickedAfterCancel, false, "nothing runs after the client left");
  } finally {
    clearInterval(interval);
    await within(server.close(), 10000, "server.close()");
  }
});

test("a request body streams from this runtime's fetch() to the handler over real sockets", async () => {
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    network: await runtimeNetwork(),
    maxHttpBodySize: 8 * 1024 * 1024,
    fetch: async (request) => {
      let total = 0;
      let parts = 0;
      for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        parts++;
      }
      return Response.json({ total, parts, type: request.headers.get("content-type") });
    },
  });
  try {
    const size = 3 * 1024 * 1024 + 17;
    const body = new Uint8Array(size).map((_, i) => i & 0xff);
    const response = await fetch(`http://127.0.0.1:${server.port}/upload`, { method: "POST", body, headers: { "content-type": "application/octet-stream" } });
    const result = await response.json() as { total: number; parts: number; type: string };
    assert.equal(result.total, size);
    assert.equal(result.type, "application/octet-stream");
    assert.ok(result.parts > 1, "the body arrived in parts, not buffered whole");
  } finally {
    await server.close();
  }
});
