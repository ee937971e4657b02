// Drivers for interop peers that nobody on the team wrote: Python's
// `websockets` (Debian's python3-websockets, server and client) and the
// WebSocket of a real Chromium (via playwright-core). Each runs the same
// scripted exchange (see BROWSER_PAGE_HTML and the two .py files), so an
// end-to-end test can point a peer at wsport and compare the ExchangeResult.
//
// Only node:* modules that Node, Deno and Bun all provide are imported at the
// top level; playwright-core is imported lazily by runBrowserExchange so that
// a missing package only matters to the browser test.

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { portLine, tail, terminate, track, unrefAll } from "./children.ts";

/** Debian's interpreter: the one python3-websockets installs for. The
 * `python3` on PATH may be another one (e.g. pyenv) without the package. */
export const PYTHON = "/usr/bin/python3";
export const CHROMIUM = "/usr/bin/chromium";

/** What a client-side peer saw. Booleans are the checks; the close pairs are
 * what arrived, to be compared with [4000, "bye"] and [4001, "server bye"]. */
export interface ExchangeResult {
  protocol: string;
  text: boolean;
  binary: boolean;
  /** "n/a" where the peer cannot send pings (browsers). */
  ping: boolean | "n/a";
  closeA: [number, string];
  closeB: [number, string];
}

/** The problems in a result, [] when it matches the script. */
export function exchangeProblems(r: ExchangeResult): string[] {
  const problems: string[] = [];
  if (r.protocol !== "wsport-test") problems.push(`protocol ${JSON.stringify(r.protocol)}, expected "wsport-test"`);
  if (r.text !== true) problems.push("text echo mismatch");
  if (r.binary !== true) problems.push("binary echo mismatch");
  if (r.ping !== true && r.ping !== "n/a") problems.push("no matching pong");
  const close = (name: string, got: [number, string], code: number, reason: string) => {
    if (got?.[0] !== code || got?.[1] !== reason) {
      problems.push(`${name} ${JSON.stringify(got)}, expected ${JSON.stringify([code, reason])}`);
    }
  };
  close("closeA", r.closeA, 4000, "bye");
  close("closeB", r.closeB, 4001, "server bye");
  return problems;
}

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const SERVER_SCRIPT = here("./python_server.py");
const CLIENT_SCRIPT = here("./python_client.py");

// ---------------------------------------------------------------------------
// Child process bookkeeping: whatever a test does (throws, forgets stop(),
// times out), no Python or browser process may outlive the test process.

// ---------------------------------------------------------------------------
// Python `websockets`

/** undefined when /usr/bin/python3 can import websockets, else why not. */
export function pythonWebsocketsMissing(): string | undefined {
  const run = spawnSync(PYTHON, ["-c", "import websockets"], { encoding: "utf8", timeout: 15_000 });
  if (run.error) {
    return `${PYTHON} cannot be run (${run.error.message}); install the Debian package python3-websockets (apt-get install python3-websockets)`;
  }
  if (run.status !== 0) {
    return `${PYTHON} cannot import websockets; install the Debian package python3-websockets (apt-get install python3-websockets)`;
  }
  return undefined;
}

/** Starts test/peers/python_server.py on 127.0.0.1 and a free port. */
export async function startPythonServer(): Promise<{ port: number; stop(): Promise<void> }> {
  // stdin is a pipe we never write to: the server exits when it closes.
  const child = track(spawn(PYTHON, ["-u", SERVER_SCRIPT, "--port", "0"], { stdio: ["pipe", "pipe", "pipe"] }));
  const stderr = tail(child.stderr);
  // Server-side tracebacks are the only clue when a test fails on the
  // server's side, so they are passed on as well as kept for errors.
  child.stderr?.on("data", (chunk: string) => process.stderr.write(`[python_server] ${chunk}`));

  const port = await portLine(child, "python_server.py", stderr);

  // The exit hook and the stdin pipe end it if a test forgets stop().
  unrefAll(child);

  let stopping: Promise<void> | undefined;
  return {
    port,
    stop: () => (stopping ??= terminate(child)),
  };
}

/** Runs test/peers/python_client.py against `url`; rejects if it could not
 * run the exchange (e.g. could not connect), resolves with its verdict. */
export async function runPythonClient(url: string): Promise<ExchangeResult> {
  const child = track(spawn(PYTHON, ["-u", CLIENT_SCRIPT, url], { stdio: ["ignore", "pipe", "pipe"] }));
  const stdout = tail(child.stdout, 1 << 20);
  const stderr = tail(child.stderr);
  // The script bounds each wait by 10 s; this bounds the whole run.
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
    child.once("error", (e) => reject(new Error(`python_client.py could not start: ${e.message}`)));
    child.once("close", (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0) {
    throw new Error(`python_client.py failed (${signal ?? `exit ${code}`}) against ${url}:\n${stderr()}`);
  }
  const line = stdout().split("\n").filter(Boolean).pop() ?? "";
  try {
    return JSON.parse(line) as ExchangeResult;
  } catch {
    throw new Error(`python_client.py printed no JSON result: ${JSON.stringify(stdout())}\n${stderr()}`);
  }
}

// ---------------------------------------------------------------------------
// Chromium via playwright-core

/** undefined when runBrowserExchange can run here, else why not. (It runs
 * under Node, Deno and Bun alike: playwright-core works on all three.) */
export function chromiumMissing(): string | undefined {
  const problems: string[] = [];
  if (!existsSync(CHROMIUM)) problems.push(`${CHROMIUM} is missing: install the Debian package chromium (apt-get install chromium)`);
  try {
    createRequire(import.meta.url).resolve("playwright-core");
  } catch {
    problems.push("the npm package playwright-core is missing (npm install -D playwright-core)");
  }
  return problems.length ? problems.join("; ") : undefined;
}

// Flags for a root, headless, loopback-only machine. playwright-core brings its
// own temporary --user-data-dir and its own --no-sandbox when chromiumSandbox is
// off; these are the rest. The resolver rule makes every host name but the
// loopback ones fail, so nothing in Chromium can reach another host.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
];

/**
 * Headless Chromium (through playwright-core) with the flags above, plus
 * `extraArgs` (e.g. `--ignore-certificate-errors` for a page served with a
 * self-signed certificate); close it when done.
 */
export async function launchChromium(extraArgs: readonly string[] = []) {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true, timeout: 30_000 });
}

/**
 * Opens `pageUrl` in headless Chromium and returns what the page publishes
 * as `window.__result` (the page sets `window.__error` instead when it
 * cannot run). Console output goes into the error message on failure.
 *
 * @param timeoutMs How long the page may take to publish.
 */
export async function pageResult(pageUrl: string, timeoutMs: number): Promise<unknown> {
  const browser = await launchChromium();
  const pageLog: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("console", (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
    await page.goto(pageUrl, { timeout: 30_000 });
    try {
      await page.waitForFunction(() => {
        const w = window as unknown as { __result?: unknown; __error?: unknown };
        return w.__result !== undefined || w.__error !== undefined;
      }, undefined, { timeout: timeoutMs });
    } catch (e) {
      throw new Error(`the page set no window.__result within ${timeoutMs} ms (${(e as Error).message.split("\n")[0]})\n${pageLog.join("\n")}`);
    }
    const { result, error } = await page.evaluate(() => {
      const w = window as unknown as { __result?: unknown; __error?: string };
      return { result: w.__result, error: w.__error };
    });
    if (error !== undefined) throw new Error(`the page failed: ${error}\n${pageLog.join("\n")}`);
    return result;
  } finally {
    await browser.close();
  }
}

/** Opens `pageUrl` (a page serving BROWSER_PAGE_HTML, with the WebSocket
 * endpoint at /ws on the same host) in headless Chromium and returns the
 * page's window.__result. */
export async function runBrowserExchange(pageUrl: string): Promise<ExchangeResult> {
  return await pageResult(pageUrl, 20_000) as ExchangeResult;
}

/** The browser side of the exchange: serve it at any path of the server under
 * test; it connects to ws://<same host>/ws, sets window.__result (or
 * window.__error when a connection cannot open) and shows the result. */
export const BROWSER_PAGE_HTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>wsport browser interop</title></head>
<body>
<pre id="out">running…</pre>
<script>
"use strict";
// No template literals or \${} in here: this page is itself a JS template.
// Each wait is bounded so that even a silent server lets the page publish a
// result (with failed checks) inside runBrowserExchange's 20 s: six waits
// of at most 3 s each. Loopback echoes take milliseconds.
const TIMEOUT = 3000;
const url = "ws://" + location.host + "/ws";
const protocols = ["wsport-test", "other-proto"];

// Every event a socket delivers goes into a queue, so that a reply arriving
// before we wait for it is not lost; next() takes one, bounded by TIMEOUT.
function open(url) {
  return new Promise(function (resolve, reject) {
    const ws = new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    const queue = [];
    const waiters = [];
    function push(ev) {
      const w = waiters.shift();
      if (w) w(ev); else queue.push(ev);
    }
    ws.onmessage = function (e) { push({ type: "message", data: e.data }); };
    ws.onclose = function (e) { push({ type: "close", code: e.code, reason: e.reason }); };
    ws.next = function (what) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise(function (res, rej) {
        const t = setTimeout(function () {
          waiters.splice(waiters.indexOf(f), 1);
          rej(new Error("timed out waiting for " + what));
        }, TIMEOUT);
        function f(ev) { clearTimeout(t); res(ev); }
        waiters.push(f);
      });
    };
    const t = setTimeout(function () { reject(new Error("open timed out")); ws.close(); }, TIMEOUT);
    ws.onopen = function () { clearTimeout(t); resolve(ws); };
    ws.onerror = function () { clearTimeout(t); reject(new Error("could not connect to " + url)); };
  });
}

// Waits for the close event, skipping (and logging) any stray messages.
async function closed(ws, what) {
  for (;;) {
    const ev = await ws.next(what);
    if (ev.type === "close") return [ev.code, ev.reason];
    console.log(what + ": unexpected message before close: " + String(ev.data).slice(0, 80));
  }
}

async function step(name, fn, fallback) {
  try { return await fn(); } catch (e) { console.log(name + ": " + e.message); return fallback; }
}

async function run() {
  const result = {};

  // Connection A: the client drives everything and closes.
  let ws = await open(url);
  result.protocol = ws.protocol;

  result.text = await step("text", async function () {
    ws.send("hello ✓");
    const ev = await ws.next("text echo");
    return ev.type === "message" && typeof ev.data === "string" && ev.data === "hello ✓";
  }, false);

  result.binary = await step("binary", async function () {
    const sent = new Uint8Array(100000);
    for (let i = 0; i < sent.length; i++) sent[i] = i % 256;
    ws.send(sent);
    const ev = await ws.next("binary echo");
    if (ev.type !== "message" || !(ev.data instanceof ArrayBuffer)) return false;
    const got = new Uint8Array(ev.data);
    return got.length === sent.length && got.every(function (b, i) { return b === sent[i]; });
  }, false);

  // Browsers' WebSocket has no way to send a ping.
  result.ping = "n/a";

  result.closeA = await step("close A", function () {
    ws.close(4000, "bye");
    return closed(ws, "close A");
  }, [1006, ""]);

  // Connection B: the server closes.
  ws = await open(url);
  result.closeB = await step("close B", function () {
    ws.send("close-me");
    return closed(ws, "close B");
  }, [1006, ""]);
  if (ws.readyState !== WebSocket.CLOSED) ws.close();

  return result;
}

run().then(function (result) {
  document.getElementById("out").textContent = JSON.stringify(result, null, 2);
  window.__result = result;
}, function (e) {
  document.getElementById("out").textContent = "error: " + e.message;
  window.__error = e.message;
});
</script>
</body>
</html>
`;
