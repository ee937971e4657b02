// The demo (examples/test_server.ts, the port of libwebsockets' test server),
// started in this process on a free port and driven with wsport's client,
// plus its command line in a child process of this same runtime, and its page
// in headless Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import process from "node:process";
import { connect, type Message, type Server, type WebSocketConnection } from "../mod.ts";
import {
  CLOSEME_REASON,
  DEFAULT_RING_SIZE,
  type DemoEvent,
  DUMB_INCREMENT_PROTOCOL,
  HIGH_WATER_MARK,
  MIRROR_PROTOCOL,
  startFromArguments,
  startTestServer,
  STATUS_PROTOCOL,
  type StatusMessage,
} from "../examples/test_server.ts";
import { generateSelfSignedCertificate } from "../examples/test_server/certificate.ts";
import { chromiumMissing, launchChromium } from "./peers/peers.ts";
import { opensslMissing } from "./certificate.ts";
import { deferred, until, within } from "./helpers.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
/** For tests that move megabytes or start a browser: more than bun test's 5 s default, on a busy 2-core machine. */
const LONG_TEST = 120_000;

/** A client connection that keeps every message it receives. */
interface Recorder {
  ws: WebSocketConnection<undefined>;
  messages: Message[];
}

async function record(url: string, protocol: string, extra: { drain?: () => void } = {}): Promise<Recorder> {
  const messages: Message[] = [];
  const ws = await within(connect(url, {
    protocols: [protocol],
    pingInterval: 0,
    handlers: { message: (_ws, message) => void messages.push(message), drain: extra.drain },
  }), 10_000, `a ${protocol} connection`);
  return { ws, messages };
}

async function withDemo(
  run: (server: Server, url: string, events: DemoEvent[]) => Promise<void>,
  watch: (event: DemoEvent) => void = () => {},
): Promise<void> {
  const events: DemoEvent[] = [];
  const onEvent = (event: DemoEvent) => {
    events.push(event);
    watch(event);
  };
  const server = await startTestServer({ port: 0, hostname: "127.0.0.1", onEvent });
  try {
    await run(server, `ws://127.0.0.1:${server.port}/`, events);
  } finally {
    await server.close({ timeout: 2000 });
  }
}

test(`demo (${runtime}): dumb-increment-protocol sends its own counter to each connection, from 0 up`, async () => {
  await withDemo(async (_server, url, events) => {
    const a = await record(url, DUMB_INCREMENT_PROTOCOL);
    const b = await record(url, DUMB_INCREMENT_PROTOCOL);
    await until(() => a.messages.length >= 5 && b.messages.length >= 5, "five numbers on each connection", 10_000);
    for (const { messages } of [a, b]) assert.deepEqual(messages.slice(0, 5), ["0", "1", "2", "3", "4"]);
    // Sent from writable callbacks: the server reports each number it sent.
    const sentToA = events.filter((e) => e.type === "increment" && e.remote === `127.0.0.1:${a.ws.transport.localPort}`);
    assert.ok(sentToA.length >= 5);
    a.ws.close();
    b.ws.close();
  });
});

test(`demo (${runtime}): "reset\\n" and "reset" set the counter back to 0`, async () => {
  await withDemo(async (_server, url) => {
    const { ws, messages } = await record(url, DUMB_INCREMENT_PROTOCOL);
    for (const command of ["reset\n", "reset"]) {
      await until(() => messages.length >= 3, "a few numbers", 10_000);
      messages.length = 0;
      ws.send(command);
      // Numbers already on their way may arrive first; then it starts again at 0.
      await until(() => messages.includes("0"), `0 after ${JSON.stringify(command)}`, 10_000);
      const restart = messages.indexOf("0");
      await until(() => messages.length >= restart + 3, "the count to go on", 10_000);
      assert.deepEqual(messages.slice(restart, restart + 3), ["0", "1", "2"]);
    }
    ws.close();
  });
});

test(`demo (${runtime}): "closeme\\n" makes the server close with 1001 and a reason`, async () => {
  await withDemo(async (_server, url) => {
    const { ws, messages } = await record(url, DUMB_INCREMENT_PROTOCOL);
    await until(() => messages.length >= 1, "a number", 10_000);
    ws.send("closeme\n");
    const closed = await within(ws.closed, 10_000, "the server's close");
    assert.deepEqual(closed, { code: 1001, reason: CLOSEME_REASON, wasClean: true });
  });
});

test(`demo (${runtime}): lws-mirror-protocol sends a client's messages to every client, the sender included, in order`, async () => {
  await withDemo(async (_server, url) => {
    const [a, b, c] = [await record(url, MIRROR_PROTOCOL), await record(url, MIRROR_PROTOCOL), await record(url, MIRROR_PROTOCOL)];
    const sent = Array.from({ length: 50 }, (_, i) => `d #ff0000 ${i} 0 ${i + 1} 1;`);
    for (const message of sent) a.ws.send(message);
    b.ws.send(new Uint8Array([1, 2, 3])); // binary is mirrored as binary
    await until(() => [a, b, c].every((r) => r.messages.length === sent.length + 1), "51 messages on each connection", 10_000);
    for (const r of [a, b, c]) {
      assert.deepEqual(r.messages.filter((m) => typeof m === "string"), sent);
      assert.deepEqual(r.messages.filter((m) => typeof m !== "string").map((m) => [...(m as Uint8Array)]), [[1, 2, 3]]);
    }
    // A connection that opens later starts at the head of the ring: no history.
    const late = await record(url, MIRROR_PROTOCOL);
    a.ws.send("after");
    await until(() => late.messages.length >= 1 && a.messages.length === sent.length + 2, "the late joiner's first message", 10_000);
    assert.deepEqual(late.messages, ["after"]);
    for (const r of [a, b, c, late]) r.ws.close();
  });
});

test(`demo (${runtime}): lws-mirror-protocol pauses a fast sender while a reader lags, loses nothing, and stays bounded`, { timeout: LONG_TEST }, async () => {
  const paused = deferred();
  let maxRingUsed = 0;
  let maxBacklog = 0;
  let received = 0;
  const watch = (event: DemoEvent) => {
    if (event.type === "mirror-received") {
      received++;
      maxRingUsed = Math.max(maxRingUsed, event.ringUsed);
      maxBacklog = Math.max(maxBacklog, event.backlog);
    } else if (event.type === "mirror-paused") {
      paused.resolve();
    }
  };
  await withDemo(async (server, url, events) => {
    // The lagging reader reads nothing: the server's writes to it pile up in TCP, then in its send buffer.
    const lagging = await record(url, MIRROR_PROTOCOL);
    lagging.ws.pause();
    let wake = () => {};
    const sender = await record(url, MIRROR_PROTOCOL, { drain: () => wake() });

    let isPaused = false;
    void paused.promise.then(() => (isPaused = true));
    const payload = "x".repeat(4000);
    const message = (i: number) => `${String(i).padStart(6, "0")} ${payload}`;
    let count = 0;
    let sentAfterPause = 0;
    while (sentAfterPause < 100) {
      if (count >= 20_000) assert.fail(`the sender was not paused after ${count} messages of 4 KB`);
      const result = sender.ws.send(message(count++));
      if (isPaused) sentAfterPause++; // more while paused: they wait in TCP and must not be lost
      else if (result === "backpressure") {
        const writable = new Promise<void>((resolve) => (wake = resolve));
        // As in the mirror: drain may not come when the flush goes straight to the OS, so ask again after it.
        queueMicrotask(() => sender.ws.requestWritable());
        await Promise.race([writable, paused.promise]);
      }
    }

    // While the reader lags, nothing on the server grows past the ring and the send buffers' high-water mark.
    assert.ok(maxRingUsed <= DEFAULT_RING_SIZE, `ring held ${maxRingUsed} entries`);
    for (const ws of server.connectionsOf(MIRROR_PROTOCOL)) {
      assert.ok(ws.bufferedAmount <= HIGH_WATER_MARK + 8 * 1024, `a connection buffers ${ws.bufferedAmount} bytes`);
    }

    lagging.ws.resume();
    for (const [name, r] of [["lagging reader", lagging], ["sender", sender]] as const) {
      await until(() => r.messages.length === count, `all ${count} messages at the ${name} (has ${r.messages.length})`, 60_000);
      const outOfOrder = r.messages.findIndex((m, i) => m !== message(i));
      assert.equal(outOfOrder, -1, `the ${name}'s message ${outOfOrder} is not the one sent`);
    }
    assert.equal(received, count);
    assert.ok(maxRingUsed <= DEFAULT_RING_SIZE, `ring held ${maxRingUsed} entries`);
    // Messages that were already read when the pause came wait per sender; a read is far below a ring.
    assert.ok(maxBacklog < DEFAULT_RING_SIZE, `a backlog of ${maxBacklog} messages`);
    assert.ok(events.some((e) => e.type === "mirror-resumed"), "the sender was resumed");
    lagging.ws.close();
    sender.ws.close();
  }, watch);
});

test(`demo (${runtime}): lws-status pushes the list of connections whenever it changes`, async () => {
  await withDemo(async (_server, url) => {
    const status = await record(url, STATUS_PROTOCOL);
    const lists = () => status.messages.map((m) => (JSON.parse(m as string) as StatusMessage).connections);
    await until(() => status.messages.length >= 1, "the first list", 10_000);
    assert.deepEqual(lists()[0]!.map((c) => c.protocol), [STATUS_PROTOCOL]);

    const counter = await record(url, DUMB_INCREMENT_PROTOCOL);
    await until(() => status.messages.length >= 2, "the list after a connection opened", 10_000);
    const list = lists()[1]!;
    assert.deepEqual(list.map((c) => c.protocol), [STATUS_PROTOCOL, DUMB_INCREMENT_PROTOCOL]);
    assert.equal(list[1]!.remote, `127.0.0.1:${counter.ws.transport.localPort}`);
    assert.ok(!Number.isNaN(Date.parse(list[1]!.connectedAt)));

    counter.ws.close();
    await until(() => status.messages.length >= 3, "the list after it closed", 10_000);
    assert.deepEqual(lists()[2]!.map((c) => c.protocol), [STATUS_PROTOCOL]);
    status.ws.close();
  });
});

test(`demo (${runtime}): the page is served at / as text/html, anything else is 404`, async () => {
  await withDemo(async (server) => {
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    for (const id of ["increment-value", "increment-reset", "increment-closeme", "mirror-canvas", "status-rows"]) {
      assert.ok(html.includes(`id="${id}"`), `the page has #${id}`);
    }
    const missing = await fetch(`http://127.0.0.1:${server.port}/test.html`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });
});

test(`demo (${runtime}): --ssl generates a self-signed certificate and serves wss; --cert and --key use given files`, { skip: skipUnlessPeer(opensslMissing()) }, async () => {
  const lines: string[] = [];
  const generated = await startFromArguments(["--port", "0", "--host", "127.0.0.1", "--ssl"], (line) => void lines.push(line));
  const certificate = generated.certificate!;
  try {
    assert.ok(certificate, "a certificate was generated");
    assert.match(lines.join("\n"), /generated a self-signed certificate/);
    assert.match(generated.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    // Deno cannot skip verification (no rejectUnauthorized: false); trusting the certificate works everywhere.
    const tls = { ca: certificate.cert };
    const ws = await within(connect(`wss://127.0.0.1:${generated.server.port}/`, { protocols: [DUMB_INCREMENT_PROTOCOL], tls }), 10_000, "a wss connection");
    const first = await within(ws[Symbol.asyncIterator]().next(), 10_000, "a number over wss");
    assert.equal(first.value, "0");
    ws.close();

    const given = await startFromArguments(
      ["--port", "0", "--host", "127.0.0.1", "--ssl", "--cert", certificate.certFile, "--key", certificate.keyFile],
      () => {},
    );
    try {
      assert.equal(given.certificate, undefined, "nothing generated when files are given");
      const mirror = await within(connect(`wss://127.0.0.1:${given.server.port}/`, { protocols: [MIRROR_PROTOCOL], tls }), 10_000, "a wss connection");
      mirror.send("over tls");
      assert.equal((await within(mirror[Symbol.asyncIterator]().next(), 10_000, "the mirrored message")).value, "over tls");
      mirror.close();
    } finally {
      await given.stop();
    }
  } finally {
    await generated.stop();
  }
});

test(`demo (${runtime}): the command line prints its URL and closes connections with 1001 on SIGTERM`, async () => {
  const runtimeArgs = g.Deno ? ["run", "-A", "examples/test_server.ts"] : g.Bun ? ["examples/test_server.ts"] : ["--import", "tsx", "examples/test_server.ts"];
  const child = spawn(process.execPath, [...runtimeArgs, "--port", "0", "--host", "127.0.0.1"], { stdio: ["ignore", "pipe", "inherit"] });
  // "close", not "exit": stdout has been read to its end by then.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => void output.push(line));
  try {
    await until(() => output.length >= 1, "the test server to start", 30_000);
    const url = /listening on (http:\/\/\S+)/.exec(output[0]!)?.[1];
    assert.ok(url, `unexpected first line ${JSON.stringify(output[0])}`);
    const { ws, messages } = await record(url.replace(/^http/, "ws"), DUMB_INCREMENT_PROTOCOL);
    await until(() => messages.length >= 2, "numbers from the child", 10_000);
    child.kill("SIGTERM");
    const closed = await within(ws.closed, 10_000, "the close on SIGTERM");
    assert.equal(closed.code, 1001);
    const code = await within(exited, 10_000, "the child to exit");
    assert.ok(output.some((line) => line.startsWith("SIGTERM: closing")), output.join("\n"));
    // Deno's node:child_process reports any child it sent a signal to as killed by it, whatever its exit status.
    if (!g.Deno) assert.equal(code, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

test(`demo (${runtime}): --http2 needs --ssl`, async () => {
  await assert.rejects(startFromArguments(["--port", "0", "--http2"], () => {}), /--http2 goes with --ssl/);
});

// --- the page in a real browser ---

test(`demo (${runtime}): --ssl --http2: headless Chromium gets the page and its three WebSockets over one HTTP/2 connection`, { skip: chromiumMissing() ?? false, timeout: LONG_TEST }, async () => {
  const certificate = generateSelfSignedCertificate();
  const events: DemoEvent[] = [];
  const server = await startTestServer({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: certificate.cert, key: certificate.key },
    http2: true,
    onEvent: (event) => void events.push(event),
  });
  const browser = await launchChromium(["--ignore-certificate-errors"]);
  try {
    const page = await browser.newPage({ ignoreHTTPSErrors: true });
    const wait = { timeout: 20_000 };
    await page.goto(`https://127.0.0.1:${server.port}/`, wait);
    for (const id of ["increment-status", "mirror-status", "status-status"]) await page.waitForSelector(`#${id}[data-state="open"]`, wait);
    assert.equal(await page.evaluate(`performance.getEntriesByType("navigation")[0].nextHopProtocol`), "h2");
    await page.waitForFunction(`Number(document.getElementById("increment-value").textContent) >= 3`, undefined, wait);
    // The server's view: the page, then three WebSockets, all on the connection that carried the page.
    const served = events.filter((e) => e.type === "page");
    assert.equal(served.length, 1);
    const connection = served[0]!.remote;
    const opens = events.filter((e): e is Extract<DemoEvent, { type: "open" }> => e.type === "open");
    assert.deepEqual(opens.map((e) => e.protocol).sort(), [DUMB_INCREMENT_PROTOCOL, MIRROR_PROTOCOL, STATUS_PROTOCOL].sort());
    for (const open of opens) assert.match(open.remote, new RegExp(`^${connection.replace(/[.[\]]/g, "\\$&")} stream \\d+$`));
    assert.equal(new Set(opens.map((e) => e.remote)).size, 3, "three streams");
    // The status list the page shows names the streams.
    await page.waitForFunction(`document.getElementById("status-rows").textContent.includes("stream")`, undefined, wait);
  } finally {
    await browser.close();
    await server.close({ timeout: 2000 });
    certificate.remove();
  }
});


test(`demo (${runtime}): headless Chromium shows the counter, and a stroke drawn in one tab appears in another`, { skip: skipUnlessPeer(chromiumMissing()), timeout: LONG_TEST }, async () => {
  await withDemo(async (server) => {
    const pageUrl = `http://127.0.0.1:${server.port}/`;
    const browser = await launchChromium();
    try {
      const context = await browser.newContext();
      const drawing = await context.newPage();
      const watching = await context.newPage();
      const wait = { timeout: 20_000 };
      for (const page of [drawing, watching]) {
        await page.goto(pageUrl, wait);
        for (const id of ["increment-status", "mirror-status", "status-status"]) await page.waitForSelector(`#${id}[data-state="open"]`, wait);
      }

      // The counter rises; the reset button starts it again.
      const counter = () => drawing.textContent("#increment-value").then(Number);
      const before = await counter();
      await drawing.waitForFunction(`Number(document.getElementById("increment-value").textContent) >= ${before + 3}`, undefined, wait);
      await drawing.click("#increment-reset");
      await drawing.waitForFunction(`Number(document.getElementById("increment-value").textContent) < ${before + 3}`, undefined, wait);

      // Both tabs' three connections are listed.
      await watching.waitForFunction(`Number(document.getElementById("status-count").textContent) === 6`, undefined, wait);

      // Draw in one tab with the mouse; the segments come back from the server to both tabs.
      const box = await drawing.locator("#mirror-canvas").boundingBox();
      assert.ok(box, "the canvas is visible");
      await drawing.mouse.move(box.x + 40, box.y + 40);
      await drawing.mouse.down();
      await drawing.mouse.move(box.x + 240, box.y + 160, { steps: 12 });
      await drawing.mouse.up();
      const segments = (page: typeof drawing) => page.getAttribute("#mirror-canvas", "data-segments").then(Number);
      await watching.waitForFunction(`Number(document.getElementById("mirror-canvas").dataset.segments) >= 10`, undefined, wait);
      await drawing.waitForFunction(`Number(document.getElementById("mirror-canvas").dataset.segments) >= 10`, undefined, wait);
      assert.equal(await segments(watching), await segments(drawing));
      const painted = await watching.evaluate(`(() => {
        const canvas = document.getElementById("mirror-canvas");
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
        return painted;
      })()`) as number;
      assert.ok(painted > 100, `the watching tab's canvas has ${painted} painted pixels`);

      // The closeme button: the server closes with 1001 and says why.
      await watching.click("#increment-closeme");
      await watching.waitForSelector(`#increment-status[data-state="closed"]`, wait);
      assert.match(await watching.textContent("#increment-status") ?? "", new RegExp(`1001 ${CLOSEME_REASON}`));
    } finally {
      await browser.close();
    }
  });
});
