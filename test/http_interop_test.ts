// wsport's HTTP/1.1 side against clients nobody here wrote, over real
// sockets on 127.0.0.1 with this runtime's network: curl (keep-alive with
// --next, chunked and 100-continue uploads, server-sent events, ranges),
// Python's http.client (one kept-alive connection for everything),
// pipelining from a raw socket, this runtime's own fetch(), and headless
// Chromium loading the demo page and its assets. Every test counts the TCP
// connections on the server's side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeNetwork, type Server, serve, type ServeOptions } from "../mod.ts";
import type { Network, Transport } from "../src/transport/transport.ts";
import { startTestServer } from "../examples/test_server.ts";
import { chromiumMissing, launchChromium } from "./peers/peers.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { within } from "./helpers.ts";
import { HttpPeer } from "./http_peer.ts";

const PYTHON = "/usr/bin/python3";
const CURL = "/usr/bin/curl";
const LONG = { timeout: 120_000 };

function curlMissing(): string | undefined {
  const run = spawnSync(CURL, ["--version"], { encoding: "utf8", timeout: 15_000 });
  return run.status === 0 ? undefined : `${CURL} cannot be run; install the Debian package curl (apt-get install curl)`;
}
function pythonMissing(): string | undefined {
  const run = spawnSync(PYTHON, ["-c", "import http.client"], { encoding: "utf8", timeout: 15_000 });
  return run.status === 0 ? undefined : `${PYTHON} cannot import http.client; install the Debian package python3 (apt-get install python3)`;
}

/** Runs a command to its end; resolves with its output (spawn, not spawnSync: the server runs in this process). */
function run(command: string, args: string[], input?: Uint8Array): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("latin1").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("latin1").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? new Uint8Array(0));
  });
}

/** A server on 127.0.0.1 that counts the TCP connections it accepts. */
async function countingServer(options: ServeOptions): Promise<{ server: Server; connections: () => number; origin: string }> {
  let connections = 0;
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    network: await runtimeNetwork(),
    filterConnection: () => {
      connections++;
      return true;
    },
    ...options,
  });
  return { server, connections: () => connections, origin: `http://127.0.0.1:${server.port}` };
}

const enc = new TextEncoder();

/** The application the clients talk to. */
async function app(request: Request): Promise<Response | undefined> {
  const path = new URL(request.url).pathname;
  if (path === "/hello") return new Response("hello there", { headers: { "content-type": "text/plain" } });
  if (path === "/echo") {
    const body = new Uint8Array(await request.arrayBuffer());
    return new Response(`${request.method} ${body.length} ${new TextDecoder().decode(body.subarray(0, 40))}`);
  }
  if (path === "/stream" || path === "/events") {
    let n = 0;
    return new Response(new ReadableStream({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 5));
        if (n === 3) return controller.close();
        controller.enqueue(enc.encode(path === "/events" ? `data: event ${n++}\n\n` : `piece ${n++};`));
      },
    }), { headers: { "content-type": path === "/events" ? "text/event-stream" : "text/plain" } });
  }
  return undefined;
}

test("curl: --next requests share one kept-alive connection; chunked and 100-continue uploads; SSE; a range", { skip: skipUnlessPeer(curlMissing()), ...LONG }, async () => {
  const { server, connections, origin } = await countingServer({ fetch: app, maxHttpBodySize: 4 * 1024 * 1024 });
  const dir = await mkdtemp(join(tmpdir(), "wsport-curl-"));
  try {
    const keptAlive = await run(CURL, ["-sv", `${origin}/hello`, "--next", `${origin}/hello`, "--next", `${origin}/missing`, "--next", "-X", "POST", "--data-binary", "abc", `${origin}/echo`]);
    assert.equal(keptAlive.code, 0, keptAlive.stderr);
    assert.equal(keptAlive.stdout, "hello therehello thereNot FoundPOST 3 abc");
    assert.equal(keptAlive.stderr.match(/Re-using existing connection/g)?.length, 3, keptAlive.stderr);
    assert.equal(connections(), 1, "four requests, one TCP connection");

    // A body from stdin goes chunked; a 2 MiB file makes curl send Expect: 100-continue.
    const chunked = await run(CURL, ["-s", "-T", "-", "-X", "POST", `${origin}/echo`], enc.encode("from stdin, chunked"));
    assert.equal(chunked.stdout, "POST 19 from stdin, chunked");
    const file = join(dir, "upload.bin");
    await writeFile(file, new Uint8Array(2 * 1024 * 1024).fill(0x41));
    const expecting = await run(CURL, ["-sv", "--data-binary", `@${file}`, `${origin}/echo`]);
    assert.match(expecting.stderr, /> Expect: 100-continue/);
    assert.match(expecting.stderr, /< HTTP\/1\.1 100 Continue/);
    assert.match(expecting.stdout, /^POST 2097152 AAAA/);

    const events = await run(CURL, ["-sN", `${origin}/events`]);
    assert.equal(events.stdout, "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n");

    const ranged = await run(CURL, ["-s", "-r", "6-10", "-w", " %{http_code}", `${origin}/hello`]);
    assert.equal(ranged.stdout, "hello there 200", "a dynamic answer ignores Range (only files have ranges)");
    const http10 = await run(CURL, ["-s0", "-w", " %{http_code}", `${origin}/stream`]);
    assert.equal(http10.stdout, "piece 0;piece 1;piece 2; 200", "HTTP/1.0: the body ends with the connection");
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("Python's http.client: GET, POST, chunked upload, a streamed answer, HEAD and 404 over one connection", { skip: skipUnlessPeer(pythonMissing()), ...LONG }, async () => {
  const { server, connections } = await countingServer({ fetch: app });
  try {
    const script = fileURLToPath(new URL("./peers/http_client.py", import.meta.url));
    const result = await run(PYTHON, [script, String(server.port)]);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.deepEqual(out.get, [200, "hello there", "11"]);
    assert.deepEqual(out.post, [200, `POST 100000 ${"x".repeat(40)}`]);
    assert.deepEqual(out.chunked_upload, [200, "PUT 35 part 0;part 1;part 2;part 3;part 4;"]);
    assert.deepEqual(out.stream, [200, "chunked", "piece 0;piece 1;piece 2;"]);
    assert.deepEqual(out.head, [200, "", "11"]);
    assert.deepEqual(out.missing, [404, 9]);
    assert.equal(connections(), 1, "http.client kept its one connection for all six requests");
  } finally {
    await server.close();
  }
});

test("pipelining from a raw socket: ten requests in one write, ten answers in order, one connection", LONG, async () => {
  const { server, connections } = await countingServer({ fetch: async (request) => {
    const n = Number(new URL(request.url).searchParams.get("n"));
    await new Promise((r) => setTimeout(r, (10 - n) % 3)); // later ones may finish first
    return new Response(`answer ${n}`);
  } });
  try {
    const client = await HttpPeer.connect(await runtimeNetwork(), server.port);
    let requests = "";
    for (let n = 0; n < 10; n++) requests += `GET /?n=${n} HTTP/1.1\r\nHost: t\r\n${n === 9 ? "Connection: close\r\n" : ""}\r\n`;
    client.send(requests);
    for (let n = 0; n < 10; n++) assert.equal((await client.response()).text, `answer ${n}`);
    await within(client.closed);
    assert.equal(connections(), 1);
  } finally {
    await server.close();
  }
});

test("this runtime's fetch(): sequential requests reuse the connection; a streamed upload and download", LONG, async () => {
  const { server, connections, origin } = await countingServer({ fetch: app });
  try {
    for (let i = 0; i < 6; i++) assert.equal(await (await fetch(`${origin}/hello`)).text(), "hello there");
    // Node's fetch (undici) alternates between two pooled connections, as it does against node:http.
    assert.ok(connections() <= 2, `six requests over ${connections()} connections`);
    const posted = await fetch(`${origin}/echo`, { method: "POST", body: "sent by fetch" });
    assert.equal(await posted.text(), "POST 13 sent by fetch");
    const streamed = await fetch(`${origin}/stream`);
    assert.equal(await streamed.text(), "piece 0;piece 1;piece 2;");
  } finally {
    await server.close();
  }
});

/** A network that records, per accepted connection, how many plain requests and upgrades it carried. */
function watchedNetwork(base: Network): { network: Network; connections: { plain: number; upgrades: number }[] } {
  const connections: { plain: number; upgrades: number }[] = [];
  const network: Network = Object.create(base);
  network.listen = (options, accept) =>
    base.listen(options, (transport: Transport) => {
      const seen = { plain: 0, upgrades: 0 };
      connections.push(seen);
      const start = transport.start.bind(transport);
      transport.start = (events) =>
        start({
          data: (chunk) => {
            // Request heads arrive whole on loopback; count their request lines.
            const text = new TextDecoder("latin1").decode(chunk);
            for (const head of text.split("\r\n\r\n")) {
              if (!/^(GET|HEAD|POST) \S+ HTTP\/1\.1\r\n/.test(head)) continue;
              if (/\r\nupgrade: websocket/i.test(head)) seen.upgrades++;
              else seen.plain++;
            }
            events.data(chunk);
          },
          drain: () => events.drain(),
          end: () => events.end(),
          close: (error) => events.close(error),
        });
      accept(transport);
    });
  return { network, connections };
}

test("headless Chromium loads the demo page and its assets over kept-alive connections; a reload rides them", { skip: skipUnlessPeer(chromiumMissing()), ...LONG }, async () => {
  const { network, connections } = watchedNetwork(await runtimeNetwork());
  const server = await startTestServer({ port: 0, hostname: "127.0.0.1", network });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (r) => void requested.push(new URL(r.url()).pathname));
    const ready = () => page.waitForFunction(`document.getElementById("status-count")?.textContent === "3"`, undefined, { timeout: 30_000 });
    await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 30_000 });
    await ready();
    const assets = ["/", "/test_server.css", "/test_server.js", "/logo.svg", "/favicon.svg"];
    for (const asset of assets) assert.ok(requested.includes(asset), `the page loaded ${asset}`);
    const plain = () => connections.filter((c) => c.plain > 0);
    const requests = () => plain().reduce((n, c) => n + c.plain, 0);
    assert.equal(requests(), requested.length);
    // Chromium fetches assets in parallel (up to six connections per host), so the first load may open a few;
    // each carries several requests, and none is closed after one.
    assert.ok(plain().length < requests(), `${requests()} requests over ${plain().length} connections`);
    const before = connections.length;
    const servedBefore = connections.map((c) => c.plain);
    requested.length = 0;
    await page.reload({ timeout: 30_000 });
    await ready();
    const opened = connections.slice(before);
    assert.ok(requested.length >= 4, `the reload requested ${requested.join(", ")}`);
    // Chromium opens a new connection only when its kept-alive ones are all busy (on a loaded machine a
    // parallel asset request may find them so): the reload must mostly ride the connections already open.
    const reused = servedBefore.reduce((n, count, i) => n + connections[i]!.plain - count, 0);
    const fresh = opened.filter((c) => c.plain > 0);
    assert.ok(reused > fresh.length, `the reload's page and assets came mostly over kept-alive connections (${reused} requests on old ones, ${fresh.length} new)`);
    assert.equal(opened.filter((c) => c.upgrades === 1).length, 3, "the three WebSockets are new connections");
  } finally {
    await browser.close();
    await server.close({ timeout: 2000 });
  }
});
