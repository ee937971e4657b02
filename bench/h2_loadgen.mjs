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
// first, then `conns` loops over them of CONNECT stream, 200, END_STREAM, and the
// server's END_STREAM: what a page that already has its HTTP/2 connection pays for
// one more WebSocket (and its end).
import http2 from "node:http2";
import tls from "node:tls";
import { emit, keepEchoing, maskedFrame, parseCommandLine, readUpgradeHead, runMode, sleep, upgradeRequest } from "./loadgen_common.mjs";

const { mode, opt, port, host, conns, size, timedRounds } = parseCommandLine(process.argv.slice(2));
const version = Number(opt.http ?? 2);
const sessionCount = Number(opt.sessions ?? 1);

// --- HTTP/1.1 over TLS -------------------------------------------------------------

/** A TLS connection upgraded to WebSocket; resolves to the socket and the bytes after the 101 head. */
async function openUpgrade() {
  const socket = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
  socket.once("secureConnect", () => {
    socket.setNoDelay(true);
    socket.write(upgradeRequest(host, port));
  });
  const { rest } = await readUpgradeHead(socket);
  return { socket, rest };
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
    ? async (i) => {
      // END_STREAM, then wait for the server's: resetting thousands of streams at once would trip
      // the servers' HTTP/2 rapid-reset defence (CVE-2023-44487: Node answers with GOAWAY).
      const stream = await openStream(sessions[i % sessions.length]);
      const closed = new Promise((resolve) => stream.once("close", resolve));
      stream.end();
      stream.resume();
      await closed;
    }
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
  for (const pipe of pipes) keepEchoing(pipe, frame, depth, (n) => (total += n));
  const result = await timedRounds(() => total);
  emit({ mode: "echo", http: version, sessions: sessions.length, conns, size, ...result });
}

if (version !== 1 && version !== 2) throw new Error("--http must be 1 or 2");
await runMode({ handshake, echo }, mode, "usage: h2_loadgen.mjs handshake|echo --port P --http 1|2");
