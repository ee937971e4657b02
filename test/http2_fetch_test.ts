// Plain HTTP/2 requests on the WebSocket port: `fetch` answers them, with
// request and response bodies streamed under the stream's backpressure, and
// the right status when it cannot. The client is the runtime's node:http2.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { createHash } from "node:crypto";
import { deferred, until, within } from "./helpers.ts";
import { h2Server, rawRequest, rawSession, runtime, skipWithoutOpenssl as skip, stop } from "./http2_helpers.ts";

const get = (port: number, path: string, extra: Record<string, string | string[]> = {}) => ({
  ":method": "GET",
  ":scheme": "https",
  ":path": path,
  ":authority": `127.0.0.1:${port}`,
  ...extra,
});

test(`http2 fetch (${runtime}): GET, HEAD and the answers fetch gives, with cookies and statuses`, { skip: skip() }, async () => {
  const seen: { url: string; cookie: string | null; host: string | null }[] = [];
  const server = await h2Server({
    fetch: (request) => {
      const url = new URL(request.url);
      seen.push({ url: request.url, cookie: request.headers.get("cookie"), host: request.headers.get("host") });
      if (url.pathname === "/missing") return undefined;
      if (url.pathname === "/throws") throw new Error("handler bug");
      const headers = new Headers({ "content-type": "text/plain", "x-path": url.pathname, connection: "keep-alive" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response(`hello ${url.search}`, { status: 203, headers });
    },
  });
  const session = await rawSession(server.port);
  try {
    const page = await rawRequest(session, get(server.port, "/page?x=1", { cookie: ["a=1", "b=2"] }));
    assert.deepEqual([page.status, page.body], [203, "hello ?x=1"]);
    assert.equal(page.headers["x-path"], "/page");
    assert.deepEqual(page.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(page.headers["connection"], undefined, "connection-specific fields are not sent over HTTP/2");
    assert.deepEqual(seen[0], { url: `https://127.0.0.1:${server.port}/page?x=1`, cookie: "a=1; b=2", host: `127.0.0.1:${server.port}` });
    const head = await rawRequest(session, { ...get(server.port, "/page"), ":method": "HEAD" });
    assert.deepEqual([head.status, head.body, head.headers["x-path"]], [203, "", "/page"]);
    assert.equal((await rawRequest(session, get(server.port, "/missing"))).status, 404);
    assert.equal((await rawRequest(session, get(server.port, "/throws"))).status, 500);
    const plainConnect = await rawRequest(session, { ":method": "CONNECT", ":authority": "example.com:443" });
    assert.equal(plainConnect.status, 405);
  } finally {
    session.close();
    await stop(server);
  }
  // Without fetch: 404 with a reason.
  const bare = await h2Server();
  const bareSession = await rawSession(bare.port);
  try {
    const answer = await rawRequest(bareSession, get(bare.port, "/"));
    assert.deepEqual([answer.status, answer.body], [404, "no HTTP handler here"]);
  } finally {
    bareSession.close();
    await stop(bare);
  }
});

test(`http2 fetch (${runtime}): request bodies stream in (the handler answers before the body ends) and are limited`, { skip: skip() }, async () => {
  const server = await h2Server({
    maxHttpBodySize: 4 * 1024 * 1024,
    fetch: async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/first") {
        // Answers with the first chunk while the client is still sending.
        const reader = request.body!.getReader();
        const { value } = await reader.read();
        return new Response(`first ${new TextDecoder().decode(value)}`);
      }
      const bytes = new Uint8Array(await request.arrayBuffer());
      return new Response(`${bytes.length} ${createHash("sha256").update(bytes).digest("hex")}`);
    },
  });
  const session = await rawSession(server.port);
  try {
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const posted = await rawRequest(session, { ...get(server.port, "/sum"), ":method": "POST" }, body);
    assert.deepEqual([posted.status, posted.body], [200, `${body.length} ${createHash("sha256").update(body).digest("hex")}`]);

    const stream = session.request({ ...get(server.port, "/first"), ":method": "POST" }, { endStream: false });
    stream.write("partial");
    const response = deferred<string>();
    let text = "";
    stream.on("data", (chunk: Uint8Array) => (text += new TextDecoder().decode(chunk)));
    stream.on("end", () => response.resolve(text));
    assert.equal(await within(response.promise, 10_000, "the answer before the body ended"), "first partial");
    stream.end("the rest");
    await new Promise((resolve) => stream.once("close", resolve));

    // A declared length over the limit is refused at once, before any byte of the body.
    const declared = session.request({ ...get(server.port, "/sum"), ":method": "POST", "content-length": String(5 * 1024 * 1024) }, { endStream: false });
    declared.on("error", () => {});
    const status = await within(new Promise((resolve) => declared.once("response", (h) => resolve(h[":status"]))), 10_000, "the 413");
    assert.equal(status, 413);
    declared.close();
    const streamedTooBig = await rawRequest(session, { ...get(server.port, "/sum"), ":method": "POST" }, new Uint8Array(5 * 1024 * 1024));
    assert.equal(streamedTooBig.status, 413);
  } finally {
    session.close();
    await stop(server);
  }
});

test(`http2 fetch (${runtime}): a response body streams out only as fast as the client reads`, { skip: skip() }, async () => {
  const CHUNK = 64 * 1024;
  const TOTAL = 256; // 16 MiB
  let pulled = 0;
  const server = await h2Server({
    fetch: () => new Response(new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === TOTAL) return controller.close();
        controller.enqueue(new Uint8Array(CHUNK).fill(pulled & 0xff));
        pulled++;
      },
    }, { highWaterMark: 0 })),
  });
  const session = await rawSession(server.port);
  try {
    const stream = session.request(get(server.port, "/big"), { endStream: true });
    let received = 0;
    let intact = true;
    stream.on("data", (chunk: Uint8Array) => {
      for (let i = 0; i < chunk.length; i += 4096) if (chunk[i] !== (Math.floor((received + i) / CHUNK) & 0xff)) intact = false;
      received += chunk.length;
    });
    await until(() => received > 0, "the first bytes");
    stream.pause();
    // While the client does not read, the server stops pulling: flow control and the write queue hold it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const whilePaused = pulled;
    assert.ok(whilePaused < TOTAL / 4, `the server pulled ${whilePaused} of ${TOTAL} chunks for a paused client`);
    const ended = new Promise((resolve) => stream.once("end", resolve));
    stream.resume();
    await within(ended, 60_000, "the whole body");
    assert.equal(received, CHUNK * TOTAL);
    assert.ok(intact, "the bytes arrived in order");
  } finally {
    session.close();
    await stop(server);
  }
});

test(`http2 fetch (${runtime}): a client that resets mid-response stops the body`, { skip: skip() }, async () => {
  let cancelled = false;
  let pulled = 0;
  const server = await h2Server({
    fetch: () => new Response(new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
      cancel() {
        cancelled = true;
      },
    }, { highWaterMark: 0 })),
  });
  const session = await rawSession(server.port);
  try {
    const stream = session.request(get(server.port, "/endless"), { endStream: true });
    stream.on("error", () => {});
    stream.once("data", () => stream.close(http2.constants.NGHTTP2_CANCEL));
    await until(() => cancelled, "the response body to be cancelled", 10_000);
    assert.ok(pulled > 0);
  } finally {
    session.close();
    await stop(server);
  }
});
