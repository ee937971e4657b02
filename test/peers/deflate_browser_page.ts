// The browser side of the permessage-deflate interop test: a page, served by
// the wsport server under test, that opens a WebSocket to /deflate on the
// same host (subprotocol "wsport-deflate"), sends text and binary messages
// of 10 B to 1 MiB, compressible and random, one at a time and then as a
// burst, checks every echo byte for byte, and publishes
//
//   window.__result = { extensions, protocol, results: [{ name, ok }], sent }
//
// (or window.__error when the socket cannot open); runDeflateBrowserPage
// loads it in headless Chromium (through playwright-core, as peers.ts does,
// with more time: MiB messages on a loaded 2-core machine) and returns that
// object. The browser negotiates permessage-deflate on its own; the page
// only reports what `ws.extensions` says.

import { pageResult } from "./peers.ts";

/** What the page reports. */
export interface DeflateBrowserResult {
  extensions: string;
  protocol: string;
  results: { name: string; ok: boolean }[];
  sent: number;
}

/**
 * Opens `pageUrl` (serving DEFLATE_BROWSER_PAGE_HTML) in headless Chromium
 * and returns the page's result.
 *
 * @param timeoutMs How long the page may take.
 */
export async function runDeflateBrowserPage(pageUrl: string, timeoutMs = 90_000): Promise<DeflateBrowserResult> {
  return await pageResult(pageUrl, timeoutMs) as DeflateBrowserResult;
}

export const DEFLATE_BROWSER_PAGE_HTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>wsport permessage-deflate interop</title></head>
<body>
<pre id="out">running…</pre>
<script>
"use strict";
// No template literals in here: this page is itself a JS template.
const TIMEOUT = 30000;

function prng(seed) {
  let x = seed >>> 0 || 1;
  return function () {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
}
function randomBytes(n, seed) {
  const r = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r() & 0xff;
  return out;
}
function compressibleBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (((i >> 5) % 37) * 7) & 0xff;
  return out;
}
function compressibleText(n, tag) {
  const line = tag + ": " + "=".repeat(40) + " the quick brown fox jumps over the lazy dog\\n";
  return line.repeat(Math.ceil(n / line.length) + 1).slice(0, n);
}
function randomText(n, seed) {
  // Code points of 1 to 4 UTF-8 bytes, then ASCII up to exactly n bytes.
  const r = prng(seed);
  const ranges = [[0x20, 0x7e], [0xa0, 0x7ff], [0x800, 0xd7ff], [0x10000, 0x10ffff]];
  const parts = [];
  let size = 0;
  while (size < n - 4) {
    const range = ranges[r() % 4];
    const cp = range[0] + (r() % (range[1] - range[0] + 1));
    parts.push(String.fromCodePoint(cp));
    size += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  while (size < n) { parts.push("Z"); size++; }
  return parts.join("");
}

function messages() {
  const again = compressibleText(2048, "again");
  return [
    ["text 10 B", "ten bytes!"],
    ["binary 10 B random", randomBytes(10, 1)],
    ["text 2 KiB compressible", again],
    ["binary 2 KiB random", randomBytes(2048, 2)],
    ["text 2 KiB compressible, second time", again],
    ["text 100 KiB compressible", compressibleText(100 * 1024, "text")],
    ["text 100 KiB random UTF-8", randomText(100 * 1024, 3)],
    ["binary 100 KiB compressible", compressibleBytes(100 * 1024)],
    ["binary 100 KiB random", randomBytes(100 * 1024, 4)],
    ["binary 1 MiB compressible", compressibleBytes(1024 * 1024)],
    ["binary 1 MiB random", randomBytes(1024 * 1024, 5)],
    ["text 1 MiB compressible", compressibleText(1024 * 1024, "mebi")],
    ["text 2 KiB compressible, third time", again],
  ];
}
function burst() {
  const out = [];
  for (let i = 0; i < 8; i++) {
    out.push(["burst " + i, i % 2 === 0 ? compressibleText(1500 + 100 * i, "burst " + i) : randomBytes(1500 + 100 * i, 10 + i)]);
  }
  return out;
}

function same(got, sent) {
  if (typeof sent === "string") return typeof got === "string" && got === sent;
  if (!(got instanceof ArrayBuffer)) return false;
  const bytes = new Uint8Array(got);
  if (bytes.length !== sent.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== sent[i]) return false;
  return true;
}

function open(url) {
  return new Promise(function (resolve, reject) {
    const ws = new WebSocket(url, ["wsport-deflate"]);
    ws.binaryType = "arraybuffer";
    const queue = [];
    const waiters = [];
    ws.onmessage = function (e) {
      const w = waiters.shift();
      if (w) w(e.data); else queue.push(e.data);
    };
    ws.next = function (what) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise(function (res, rej) {
        const t = setTimeout(function () {
          waiters.splice(waiters.indexOf(f), 1);
          rej(new Error("timed out waiting for " + what));
        }, TIMEOUT);
        function f(data) { clearTimeout(t); res(data); }
        waiters.push(f);
      });
    };
    const t = setTimeout(function () { reject(new Error("open timed out")); ws.close(); }, TIMEOUT);
    ws.onopen = function () { clearTimeout(t); resolve(ws); };
    ws.onerror = function () { clearTimeout(t); reject(new Error("could not connect to " + url)); };
  });
}

async function run() {
  const ws = await open("ws://" + location.host + "/deflate");
  const result = { extensions: ws.extensions, protocol: ws.protocol, results: [], sent: 0 };
  for (const [name, data] of messages()) {
    let ok = false;
    try {
      ws.send(data);
      result.sent++;
      ok = same(await ws.next(name), data);
    } catch (e) { console.log(name + ": " + e.message); }
    result.results.push({ name: name, ok: ok });
  }
  const list = burst();
  for (const [, data] of list) { ws.send(data); result.sent++; }
  for (const [name, data] of list) {
    let ok = false;
    try { ok = same(await ws.next(name), data); } catch (e) { console.log(name + ": " + e.message); }
    result.results.push({ name: name, ok: ok });
  }
  ws.close(1000, "done");
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
