// Interop with libwebsockets' own test apps (Debian's libwebsockets-test-server
// package, 4.1.6 here): its test client against wsport's port of the test
// server (examples/test_server.ts), over ws and wss, and wsport's client
// against its test server. They are child processes, driven through their
// command lines and logs, on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { connect, type Message, type ServerTlsOptions, type WebSocketConnection } from "../mod.ts";
import { type DemoEvent, DUMB_INCREMENT_PROTOCOL, MIRROR_PROTOCOL, startTestServer } from "../examples/test_server.ts";
import { generateSelfSignedCertificate } from "../examples/test_server/certificate.ts";
import { until, within } from "./helpers.ts";
import { skipUnlessPeer } from "./peers/requirements.ts";
import { opensslMissing } from "./certificate.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
const LWS_CLIENT = "/usr/bin/libwebsockets-test-client";
const LWS_SERVER = "/usr/bin/libwebsockets-test-server";
/** Where the Debian package keeps the test server's page and files (its default resource path). */
const LWS_RESOURCES = "/usr/share/libwebsockets-test-server";
/** Each test runs child processes and moves thousands of messages: above bun test's 5 s default. */
const TIMEOUT = 120_000;
/** What the lws test client draws on lws-mirror-protocol: "c #RRGGBB x y radius;". */
const CIRCLE = /^c #[0-9A-F]{6} \d+ \d+ \d+;$/;

function lwsMissing(): string | undefined {
  const missing = [LWS_CLIENT, LWS_SERVER].filter((path) => !existsSync(path));
  if (missing.length === 0) return undefined;
  return `${missing.join(" and ")} not found: install the Debian package libwebsockets-test-server (apt-get install libwebsockets-test-server)`;
}
const LWS_MISSING = lwsMissing();

/** A libwebsockets test app's output, kept small: the numbers it printed and its notices and errors. */
interface LwsOutput {
  numbers: number[];
  notices: string[];
}

function watchOutput(child: ChildProcess): LwsOutput {
  const output: LwsOutput = { numbers: [], notices: [] };
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      // Log lines are "[date] L: text"; with -d 15 the info level adds one "rx <len> '<number>'" per number.
      const number = /\] I: rx \d+ '(\d+)'/.exec(line);
      if (number) output.numbers.push(Number(number[1]));
      else if (/\] [NEW]: /.test(line) && output.notices.length < 200) output.notices.push(line.replace(/^\[[^\]]*\] /, ""));
    });
  }
  return output;
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // SIGKILL: with connections open, 4.1.6's test apps were seen to ignore SIGTERM and SIGINT.
  child.kill("SIGKILL");
  return gone;
}

function assertCounting(numbers: number[], who: string): void {
  for (let i = 1; i < numbers.length; i++) {
    assert.equal(numbers[i], numbers[i - 1]! + 1, `${who}: ${numbers.slice(0, i + 1).join(" ")} does not count up by one`);
  }
}

/** libwebsockets-test-client against the wsport demo, checked from both ends. */
async function lwsClientAgainstDemo(tls: ServerTlsOptions | undefined, http2 = false): Promise<void> {
  const opened: DemoEvent[] = [];
  const incrementsTo = new Map<string, number[]>();
  const mirror = { received: new Map<string, number>(), notCircles: [] as string[], sentTo: new Map<string, number>() };
  const onEvent = (event: DemoEvent) => {
    if (event.type === "open") opened.push(event);
    else if (event.type === "increment") incrementsTo.set(event.remote, [...incrementsTo.get(event.remote) ?? [], event.value]);
    else if (event.type === "mirror-received") {
      mirror.received.set(event.remote, (mirror.received.get(event.remote) ?? 0) + 1);
      if (typeof event.message !== "string" || !CIRCLE.test(event.message)) mirror.notCircles.push(String(event.message).slice(0, 80));
    } else if (event.type === "mirror-sent") mirror.sentTo.set(event.remote, (mirror.sentTo.get(event.remote) ?? 0) + event.count);
  };
  const server = await startTestServer({ port: 0, hostname: "127.0.0.1", tls, http2, onEvent });
  const scheme = tls ? "wss" : "ws";
  // A wsport client watching the mirror too: what the server mirrors reaches others, not only the sender.
  const seenByObserver: Message[] = [];
  let observer: WebSocketConnection<undefined> | undefined;
  let client: ChildProcess | undefined;
  try {
    observer = await within(connect(`${scheme}://127.0.0.1:${server.port}/`, {
      protocols: [MIRROR_PROTOCOL],
      tls: tls ? { ca: tls.cert } : undefined,
      handlers: { message: (_ws, message) => void seenByObserver.push(message) },
    }), 10_000, "the observer's connection");
    const observerRemote = `127.0.0.1:${observer.transport.localPort}`;

    // --ssl: TLS, allowing a self-signed certificate and skipping the host name check.
    client = spawn(LWS_CLIENT, ["127.0.0.1", `--port=${server.port}`, "-d", "15", ...(tls ? ["--ssl"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    const output = watchOutput(client);
    const clientExited = new Promise<void>((resolve) => client!.once("exit", () => resolve()));
    const lwsRemote = (protocol: string) => opened.find((e) => e.type === "open" && e.protocol === protocol && e.remote !== observerRemote)?.remote;

    await until(() => output.numbers.length >= 10, `ten numbers printed by the lws client (notices: ${output.notices.join(" | ")})`, 30_000);
    await until(() => {
      const remote = lwsRemote(MIRROR_PROTOCOL);
      return remote !== undefined && (mirror.received.get(remote) ?? 0) >= 100 && (mirror.sentTo.get(remote) ?? 0) >= 100;
    }, "100 circles from the lws client, mirrored back to it", 30_000);
    await until(() => seenByObserver.length >= 100, "the circles at the observer", 30_000);

    // On an HTTP/2 port, the lws client still speaks HTTP/1.1 (each WebSocket its own TLS connection, no stream).
    if (http2) assert.ok(!lwsRemote(MIRROR_PROTOCOL)!.includes(" stream "), `${lwsRemote(MIRROR_PROTOCOL)} is an HTTP/1.1 connection`);
    // Numbers: the client printed 0, 1, 2... and they are the ones the server sent it from writable callbacks.
    assert.equal(output.numbers[0], 0);
    assertCounting(output.numbers, "the lws client");
    const sent = incrementsTo.get(lwsRemote(DUMB_INCREMENT_PROTOCOL)!) ?? [];
    assert.deepEqual(output.numbers.slice(0, 10), sent.slice(0, 10));
    // Mirror: everything the lws client drew was its circles, and the observer got them too.
    assert.deepEqual(mirror.notCircles, []);
    assert.ok(seenByObserver.slice(0, 100).every((m) => typeof m === "string" && CIRCLE.test(m)), "the observer got circles");
    assert.ok(output.notices.some((line) => line.includes("mirror: LWS_CALLBACK_CLIENT_ESTABLISHED")), output.notices.join("\n"));
    if (tls) assert.ok(output.notices.some((line) => line.includes("Using SSL")), output.notices.join("\n"));

    // A graceful shutdown reaches the lws client's mirror connection as a close.
    await server.close({ timeout: 3000 });
    await until(() => output.notices.some((line) => line.startsWith("N: mirror: LWS_CALLBACK_CLOSED")), "the lws client to see the close", 10_000);
    await killed(client);
    await clientExited;
  } finally {
    observer?.terminate();
    if (client) await killed(client);
    await server.close({ timeout: 1000 });
  }
}

test(`lws interop (${runtime}): libwebsockets-test-client → wsport test server (ws)`, { skip: skipUnlessPeer(LWS_MISSING), timeout: TIMEOUT }, async () => {
  await lwsClientAgainstDemo(undefined);
});

test(`lws interop (${runtime}): libwebsockets-test-client --ssl → wsport test server (wss, generated certificate)`, { skip: skipUnlessPeer(LWS_MISSING ?? opensslMissing()), timeout: TIMEOUT }, async () => {
  const certificate = generateSelfSignedCertificate();
  try {
    await lwsClientAgainstDemo({ cert: certificate.cert, key: certificate.key });
  } finally {
    certificate.remove();
  }
});

test(`lws interop (${runtime}): libwebsockets-test-client --ssl (HTTP/1.1) → wsport test server --ssl --http2, on the same port as HTTP/2`, { skip: skipUnlessPeer(LWS_MISSING ?? opensslMissing()), timeout: TIMEOUT }, async () => {
  const certificate = generateSelfSignedCertificate();
  try {
    await lwsClientAgainstDemo({ cert: certificate.cert, key: certificate.key }, true);
  } finally {
    certificate.remove();
  }
});

/** A port nobody listens on right now (the lws test server takes a port number, not 0). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Connects, retrying while the freshly started server is not listening yet. */
async function connectWhenUp(url: string, protocol: string, messages: Message[], lwsOutput: LwsOutput): Promise<WebSocketConnection<undefined>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await connect(url, { protocols: [protocol], handshakeTimeout: 3000, handlers: { message: (_ws, m) => void messages.push(m) } });
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`could not connect to the lws test server: ${(error as Error).message}\n${lwsOutput.notices.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

test(`lws interop (${runtime}): wsport client → libwebsockets-test-server`, { skip: skipUnlessPeer(LWS_MISSING), timeout: TIMEOUT }, async () => {
  const port = await freePort();
  const resources = existsSync(LWS_RESOURCES) ? ["-r", `${LWS_RESOURCES}/`] : [];
  const server = spawn(LWS_SERVER, [`--port=${port}`, ...resources], { stdio: ["ignore", "pipe", "pipe"] });
  const output = watchOutput(server);
  const connections: WebSocketConnection<undefined>[] = [];
  try {
    const url = `ws://127.0.0.1:${port}/`;
    const numbers: Message[] = [];
    const counter = await connectWhenUp(url, DUMB_INCREMENT_PROTOCOL, numbers, output);
    connections.push(counter);
    assert.equal(counter.protocol, DUMB_INCREMENT_PROTOCOL);
    await until(() => numbers.length >= 5, "five numbers from the lws test server", 10_000);
    assertCounting(numbers.map(Number), "the lws test server");

    // Its reset takes the newline-terminated command our demo accepts too.
    numbers.length = 0;
    counter.send("reset\n");
    await until(() => numbers.includes("0"), "the count to restart at 0", 10_000);

    const mirrored: Message[] = [];
    const mirror = await connectWhenUp(url, MIRROR_PROTOCOL, mirrored, output);
    connections.push(mirror);
    assert.equal(mirror.protocol, MIRROR_PROTOCOL);
    const stroke = "d #00aa00 10 20 110 120;";
    mirror.send(stroke);
    await until(() => mirrored.includes(stroke), "the stroke mirrored back", 10_000);

    for (const ws of connections) ws.close(1000);
    const closes = await within(Promise.all(connections.map((ws) => ws.closed)), 10_000, "the closing handshakes");
    assert.deepEqual(closes.map((c) => c.wasClean), [true, true]);
  } finally {
    for (const ws of connections) ws.terminate();
    await killed(server);
  }
});
