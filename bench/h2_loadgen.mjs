// Load generator for the HTTP/2 scenario of bench/run.mjs: the same WebSocket
// work over TLS, either as HTTP/1.1 upgrades (one TLS connection each) or as
// RFC 8441 extended CONNECT streams of a few HTTP/2 connections (node:http2,
// Node's native nghttp2). Frames are precomputed and masked once; replies are
// counted from frame headers only, as in bench/loadgen.mjs.
//
//   node bench/h2_loadgen.mjs handshake --port P --http 1|2 [--conns 32 --sessions 4]
//   node bench/h2_loadgen.mjs echo      --port P --http 1|2 [--conns 64 --depth 32 --size 32 --sessions 1]
// Timed modes take --warmup S --seconds S --rounds N. Output as bench/loadgen.mjs:
// {"event":"measure-start"}, then {"mode", "http", "rounds": [...], "cpu", ...}.
//
// handshake, HTTP/1.1: `conns` loops of TLS connect (a full handshake: no session
// resumption), upgrade request, 101, close. HTTP/2: `sessions` connections opened
// first, then `conns` loops over them of CONNECT stream, 200, RST_STREAM (CANCEL):
// what a page that already has its HTTP/2 connection pays for one more WebSocket.
import http2 from "node:http2";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import { FrameCounter, maskedFrame, roundTimer } from "./loadgen_common.mjs";

const [mode = "echo", ...rest] = process.argv.slice(2);
const opt = {};
for (let i = 0; i < rest.length; i++) if (rest[i].startsWith("--")) opt[rest[i].slice(2)] = rest[++i];
const port = Number(opt.port ?? 9001);
const host = opt.host ?? "127.0.0.1";
const version = Number(opt.http ?? 2);
const conns = Number(opt.conns ?? 64);
const sessionCount = Number(opt.sessions ?? 1);
const size = Number(opt.size ?? 32);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
const timedRounds = roundTimer({ warmup: Number(opt.warmup ?? 1), seconds: Number(opt.seconds ?? 2), rounds: Number(opt.rounds ?? 3), emit });

// --- HTTP/1.1 over TLS -------------------------------------------------------------

/** A TLS connection upgraded to WebSocket; resolves to the socket and the bytes after the 101 head. */
function openUpgrade() {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.pause();
      socket.off("error", reject);
      socket.on("error", () => {});
      if (!/^HTTP\/1\.1 101/.test(head.subarray(0, end).toString("latin1"))) return socket.destroy(), reject(new Error("upgrade refused"));
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.once("secureConnect", () => {
      socket.setNoDelay(true);
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}

// --- HTTP/2 ------------------------------------------------------------------------

function openSession() {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${host}:${port}`, { rejectUnauthorized: false, settings: { initialWindowSize: 1 << 20 } });
    session.once("error", reject);
    session.once("remoteSettings", (settings) => {
      session.off("error", reject);
      session.on("error", () => {});
      if (!settings.enableConnectProtocol) return reject(new Error("the server does not enable the extended CONNECT"));
      resolve(session);
    });
  });
}

const CONNECT = { ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https", ":path": "/", ":authority": `${host}:${port}`, "sec-websocket-version": "13" };

/** A WebSocket as a stream of `session`; resolves once the 200 arrived. */
function openStream(session) {
  return new Promise((resolve, reject) => {
    const stream = session.request(CONNECT, { endStream: false });
    stream.once("error", reject);
    stream.once("response", (headers) => {
      stream.off("error", reject);
      stream.on("error", () => {});
      if (headers[":status"] !== 200) return stream.close(http2.constants.NGHTTP2_CANCEL), reject(new Error(`status ${headers[":status"]}`));
      resolve(stream);
    });
  });
}

// --- modes -------------------------------------------------------------------------

async function handshake() {
  let done = 0;
  let failed = 0;
  let running = true;
  const sessions = version === 2 ? await Promise.all(Array.from({ length: sessionCount }, openSession)) : [];
  const once = version === 2
    ? async (i) => (await openStream(sessions[i % sessions.length])).close(http2.constants.NGHTTP2_CANCEL)
    // (TLS sockets cannot resetAndDestroy(): a plain close, so short runs keep TIME_WAIT in check.)
    : async () => (await openUpgrade()).socket.destroy();
  const loop = async (i) => {
    while (running) {
      try {
        await once(i);
        done++;
      } catch {
        failed++;
        await sleep(0.01);
      }
    }
  };
  const loops = Array.from({ length: conns }, (_, i) => loop(i));
  const result = await timedRounds(() => done);
  running = false;
  await Promise.all(loops);
  for (const session of sessions) session.destroy();
  emit({ mode: "handshake", http: version, sessions: sessions.length, failed, ...result });
}

/** Each WebSocket keeps `depth` messages in flight, refilled in batches of at least depth/2. */
async function echo() {
  const depth = Number(opt.depth ?? 32);
  const frame = maskedFrame(Buffer.alloc(size, 0x61), 1);
  const burst = Buffer.concat(Array.from({ length: depth }, () => frame));
  let total = 0;
  const sessions = version === 2 ? await Promise.all(Array.from({ length: sessionCount }, openSession)) : [];
  const pipes = [];
  for (let i = 0; i < conns; i++) {
    if (version === 2) {
      const stream = await openStream(sessions[i % sessions.length]);
      pipes.push({ readable: stream, write: (bytes) => stream.write(bytes), rest: Buffer.alloc(0) });
    } else {
      const { socket, rest } = await openUpgrade();
      pipes.push({ readable: socket, write: (bytes) => socket.write(bytes), rest });
    }
  }
  for (const pipe of pipes) {
    const counter = new FrameCounter();
    let inFlight = depth;
    const onData = (chunk) => {
      const n = counter.feed(chunk);
      total += n;
      inFlight -= n;
      if (inFlight <= depth / 2) {
        pipe.write(burst.subarray(0, (depth - inFlight) * frame.length));
        inFlight = depth;
      }
    };
    pipe.readable.on("data", onData);
    if (pipe.rest.length) onData(pipe.rest);
    pipe.readable.resume();
    pipe.write(burst);
  }
  const result = await timedRounds(() => total);
  emit({ mode: "echo", http: version, sessions: sessions.length, conns, size, ...result });
}

const modes = { handshake, echo };
if (!modes[mode] || (version !== 1 && version !== 2)) {
  console.error(`usage: h2_loadgen.mjs ${Object.keys(modes).join("|")} --port P --http 1|2`);
  process.exit(2);
}
try {
  await modes[mode]();
} catch (error) {
  emit({ event: "error", message: String(error?.message ?? error) });
  process.exit(1);
}
process.exit(0);
