// Load generator for bench/run.mjs: raw TCP (node:net), plain JS, so it costs
// the same whatever server it measures. Frames are precomputed and masked
// once; replies are counted by parsing only frame headers and lengths.
//
//   node bench/loadgen.mjs echo      --port P [--conns 64 --depth 32 --size 32 --binary 0 --deflate 0]
//   node bench/loadgen.mjs handshake --port P [--conns 32]
//   node bench/loadgen.mjs idle      --port P [--conns 10000] [--deflate 1 --size 4096 --offer cnct|browser]
//   node bench/loadgen.mjs broadcast --port P [--conns 5000 --size 100 --window 16 --fanouts 7]
//   node bench/loadgen.mjs http      --port P [--conns 64 --depth 1]   (HTTP/1.1 keep-alive; loadgen_http.mjs)
//   node bench/loadgen.mjs idle-http --port P [--conns 10000]
// Timed modes take --warmup S --seconds S --rounds N: one warm-up period (not
// counted), then N rounds of S seconds each.
//
// Output, one JSON object per line on stdout:
//   {"event":"measure-start"} when the timed part begins (the caller samples the server's CPU),
//   then the result: {"mode", "rounds": [rate per round...], "cpu": share of one core, ...}.
// "idle" prints {"event":"ready", "open": n, ...} and holds the connections
// until stdin says "close" (or ends); the stdin line "stats" prints
// {"event":"stats", "pings": n, "pingedConns": n} (pings answered so far). Idle
// connections answer every ping with a pong. With --deflate 1 each connection
// first sends one compressed --size text message and waits for its echo, so the
// server has used both its compressor and its decompressor before the hold.
//
// --deflate 1 offers permessage-deflate, by default with client_no_context_takeover
// (--offer cnct); --offer browser sends what browsers and the ws client send
// ("permessage-deflate; client_max_window_bits"). Either way the client's messages
// are one precomputed frame compressed from a fresh state: valid with or without
// context takeover, since it refers back only into itself. It is compressed with
// a 15-bit window for cnct (the offer leaves the client's window unconstrained) and
// a 12-bit one for browser; a server that answers client_max_window_bits below that
// is refused. The server's replies are not inflated, only counted (and whether
// they had RSV1 set). Results and "ready" carry the server's Sec-WebSocket-Extensions.
import net from "node:net";
import { randomBytes } from "node:crypto";
import { deflateRawSync, constants as zlib } from "node:zlib";
import { BroadcastWindow, emit, FrameCounter, keepEchoing, maskedFrame, parseCommandLine, readUpgradeHead, runMode, sleep, upgradeRequest } from "./loadgen_common.mjs";
import { httpModes } from "./loadgen_http.mjs";

const { mode, opt, port, host, conns, size, timedRounds } = parseCommandLine(process.argv.slice(2));
const binary = opt.binary === "1";
const deflate = opt.deflate === "1";
const offer = opt.offer ?? "cnct";

// --- frames -----------------------------------------------------------------

function textPayload(n) {
  // JSON-looking text, so permessage-deflate has something realistic to squeeze.
  let s = "";
  for (let i = 0; s.length < n; i++) s += `{"id":${i},"user":"user-${i % 97}","tags":["a","b"],"ok":true},`;
  return Buffer.from(s.slice(0, n));
}


function messageFrame(n) {
  if (binary) return maskedFrame(randomBytes(n), 2);
  const payload = textPayload(n);
  if (!deflate) return maskedFrame(payload, 1);
  // permessage-deflate with client_no_context_takeover: every message is compressed alone,
  // so one precomputed frame is valid on every connection, any number of times.
  // finishFlush: end on a sync flush (00 00 ff ff, cut below as RFC 7692 7.2.1 says), not on a final block.
  const z = deflateRawSync(payload, { finishFlush: zlib.Z_SYNC_FLUSH, windowBits: CLIENT_WINDOW_BITS });
  if (z.readUInt32BE(z.length - 4) !== 0x0000ffff) throw new Error("deflate output does not end with a sync flush");
  return maskedFrame(z.subarray(0, z.length - 4), 1, true);
}


// --- connections ------------------------------------------------------------

const OFFERS = { cnct: "permessage-deflate; client_no_context_takeover", browser: "permessage-deflate; client_max_window_bits" };
if (deflate && !OFFERS[offer]) throw new Error(`--offer must be one of ${Object.keys(OFFERS).join(", ")}`);
const extensionHeader = deflate ? `Sec-WebSocket-Extensions: ${OFFERS[offer]}\r\n` : "";
const CLIENT_WINDOW_BITS = offer === "browser" ? 12 : 15;

/** Opens a TCP connection and does the opening handshake. Resolves to the socket and any bytes after the 101 head. */
async function openWebSocket() {
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  socket.write(upgradeRequest(host, port, extensionHeader));
  const { text, rest } = await readUpgradeHead(socket);
  const extensions = /^sec-websocket-extensions:[ \t]*(.*)$/im.exec(text)?.[1]?.trim() ?? "";
  if (deflate && !/permessage-deflate/i.test(extensions)) throw (socket.destroy(), new Error("server did not accept permessage-deflate"));
  const window = /client_max_window_bits=(\d+)/i.exec(extensions);
  if (deflate && window && Number(window[1]) < CLIENT_WINDOW_BITS) {
    throw (socket.destroy(), new Error(`server asked for client_max_window_bits=${window[1]}; the precomputed frame uses ${CLIENT_WINDOW_BITS}`));
  }
  return { socket, rest, extensions };
}

/** Opens `count` connections with `open` (WebSocket handshakes by default), at most `parallel` at a time. */
async function openMany(count, open = openWebSocket, parallel = 200) {
  const out = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await open();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return out;
}

// --- modes ------------------------------------------------------------------

/** Each connection keeps `depth` messages in flight, refilled in batches of at least depth/2. */
async function echo() {
  const depth = Number(opt.depth ?? 32);
  const frame = messageFrame(size);
  let total = 0;
  const opened = await openMany(conns);
  const counters = opened.map(({ socket, rest }) => keepEchoing({ readable: socket, write: (bytes) => socket.write(bytes), rest }, frame, depth, (n) => (total += n)));
  const result = await timedRounds(() => total);
  const compressed = counters.reduce((sum, c) => sum + c.compressed, 0);
  emit({ mode: "echo", size, frameBytes: frame.length, negotiated: opened[0]?.extensions, replies: total, compressedReplies: compressed, ...result });
}

/** `conns` loops of connect, handshake, reset (RST: no TIME_WAIT piles up on the client ports). */
async function handshake() {
  let done = 0;
  let failed = 0;
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        const { socket } = await openWebSocket();
        done++;
        socket.resetAndDestroy();
      } catch {
        failed++;
        await sleep(0.01);
      }
    }
  };
  const loops = Array.from({ length: conns }, loop);
  const result = await timedRounds(() => done);
  running = false;
  await Promise.all(loops);
  emit({ mode: "handshake", failed, ...result });
}

/**
 * Reads one connection's server frames whole (idle traffic is tiny): answers
 * pings with pongs and calls `onMessage(compressed)` at the end of each data message.
 */
function idleReader(socket, onMessage, stats) {
  let buffered = Buffer.alloc(0);
  let firstRsv1 = false;
  let pinged = false;
  return (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (;;) {
      if (buffered.length < 2) return;
      const b0 = buffered[0];
      const len7 = buffered[1] & 0x7f;
      const headLength = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (buffered.length < headLength) return;
      const length = len7 < 126 ? len7 : len7 === 126 ? buffered.readUInt16BE(2) : Number(buffered.readBigUInt64BE(2));
      if (buffered.length < headLength + length) return;
      const payload = buffered.subarray(headLength, headLength + length);
      buffered = buffered.subarray(headLength + length);
      const opcode = b0 & 0x0f;
      if (opcode === 0x9) {
        socket.write(maskedFrame(payload, 0xa));
        stats.pings++;
        if (!pinged) { pinged = true; stats.pingedConns++; }
      } else if ((b0 & 0x08) === 0) {
        if (opcode !== 0) firstRsv1 = (b0 & 0x40) !== 0;
        if (b0 & 0x80) onMessage(firstRsv1);
      }
    }
  };
}

/**
 * Opens `conns` connections and holds them until told to close. With
 * --deflate 1, each first sends one compressed message and waits for the echo.
 */
async function idle() {
  const start = performance.now();
  const stats = { pings: 0, pingedConns: 0 };
  let opened;
  let echoed = 0;
  let compressedEchoes = 0;
  try {
    opened = await openMany(conns);
    const frame = deflate ? messageFrame(size) : null;
    await Promise.all(opened.map(({ socket, rest }) => new Promise((resolve, reject) => {
      socket.on("error", () => {});
      socket.once("close", () => reject(new Error("server closed an idle connection")));
      const read = idleReader(socket, (compressed) => {
        echoed++;
        if (compressed) compressedEchoes++;
        resolve();
      }, stats);
      socket.on("data", read);
      if (rest.length) read(rest);
      socket.resume();
      if (frame) socket.write(frame);
      else resolve();
    })));
  } catch (error) {
    emit({ event: "error", message: String(error?.message ?? error) });
    process.exit(1);
  }
  for (const { socket } of opened) socket.removeAllListeners("close");
  emit({ event: "ready", open: opened.length, negotiated: opened[0]?.extensions, frameBytes: deflate ? messageFrame(size).length : undefined, echoed, compressedEchoes, seconds: +((performance.now() - start) / 1000).toFixed(2) });
  process.stdin.setEncoding("utf8");
  const close = () => {
    for (const { socket } of opened) socket.destroy();
    emit({ mode: "idle", open: opened.length });
    process.exit(0);
  };
  process.stdin.on("data", (text) => {
    if (text.includes("stats")) emit({ event: "stats", ...stats });
    if (text.includes("close")) close();
  });
  process.stdin.on("end", close);
}

/**
 * `conns` connections all receive every broadcast; connection 0 also sends
 * the trigger messages ("#b..."). Message k is fully delivered when every
 * connection has received k+1 messages (TCP keeps each connection's order).
 * First `fanouts` single messages time a full fan-out; then up to `window`
 * broadcasts are kept outstanding to measure deliveries/s.
 */
async function broadcast() {
  const windowSize = Number(opt.window ?? 16);
  const fanouts = Number(opt.fanouts ?? 7);
  const payload = Buffer.from("#b" + "x".repeat(Math.max(0, size - 2)));
  const trigger = maskedFrame(payload, 1);
  const opened = await openMany(conns);
  const sender = opened[0].socket;
  const broadcasts = new BroadcastWindow(opened.length, (room) => sender.write(room === 1 ? trigger : Buffer.concat(Array.from({ length: room }, () => trigger))));
  for (const { socket, rest } of opened) broadcasts.listenTo(socket, rest);
  // Full fan-out time: one message at a time (first one is warm-up).
  const fanoutMs = [];
  for (let i = 0; i <= fanouts; i++) {
    const ms = await broadcasts.one();
    if (i > 0) fanoutMs.push(+ms.toFixed(2));
  }
  // Throughput: keep `window` broadcasts outstanding.
  broadcasts.window = windowSize;
  broadcasts.pump();
  const result = await timedRounds(() => broadcasts.deliveries);
  emit({ mode: "broadcast", conns: opened.length, fanoutMs, ...result });
}

const modes = { echo, handshake, idle, broadcast, ...httpModes({ opt, host, port, conns, emit, timedRounds, openMany }) };
await runMode(modes, mode, `one of ${Object.keys(modes).join(", ")}`, mode === "idle" || mode === "idle-http");
