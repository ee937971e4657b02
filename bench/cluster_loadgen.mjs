// Load generator of the "cluster" scenario (bench/run.mjs --scenarios cluster):
// `conns` WebSocket clients spread over the servers' ports, one of them (on the
// first port) also the publisher. Speaks plain wsport/RFC 6455 (`--proto
// wsport`: the server broadcasts text starting with "#b") or Engine.IO 4 /
// Socket.IO 4 over a WebSocket (`--proto socketio`: open packet "0{...}",
// namespace connect "40", events `42["m", data]` that the server emits to all).
//
//   node bench/cluster_loadgen.mjs --ports P1,P2 --proto wsport|socketio
//        [--conns 5000 --size 100 --window 16 --paced 30 --sample 50 --warmup S --seconds S --rounds N]
//
// Two phases: `paced` messages one at a time (the next once every client has
// the previous one): publish-to-delivery latency without queueing; then
// `window` messages kept outstanding: deliveries/s (and the latency under
// that load). Latency is read on every `sample`-th connection, from the
// send time the payload carries (one clock: this process). Prints one JSON
// line: {"mode":"cluster", "rounds":[deliveries/s...], "latency":{p50,p99,n}, "loadedLatency":{...}, "cpu"}.
import net from "node:net";
import { randomBytes } from "node:crypto";
import { BroadcastWindow, maskedFrame } from "./loadgen_common.mjs";

const opt = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) if (argv[i].startsWith("--")) opt[argv[i].slice(2)] = argv[++i];
const ports = String(opt.ports).split(",").map(Number);
const proto = opt.proto ?? "wsport";
const conns = Number(opt.conns ?? 5000);
const size = Number(opt.size ?? 100);
const windowSize = Number(opt.window ?? 16);
const paced = Number(opt.paced ?? 30);
const sample = Number(opt.sample ?? 50);
const [warmup, seconds, rounds] = [Number(opt.warmup ?? 1), Number(opt.seconds ?? 2), Number(opt.rounds ?? 3)];
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
const socketio = proto === "socketio";
const PATH = socketio ? "/socket.io/?EIO=4&transport=websocket" : "/";

/** Text payloads of whole, unfragmented server frames (handshake and sampled connections only). */
class TextReader {
  buffer = Buffer.alloc(0);
  feed(chunk, onText) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const len7 = b[1] & 0x7f;
      const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (b.length < head) return;
      const length = len7 < 126 ? len7 : len7 === 126 ? b.readUInt16BE(2) : Number(b.readBigUInt64BE(2));
      if (b.length < head + length) return;
      const payload = b.subarray(head, head + length);
      this.buffer = b.subarray(head + length);
      if ((b[0] & 0x0f) === 1) onText(payload.toString("latin1"));
    }
  }
}

function openClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    const reader = new TextReader();
    const onData = (chunk) => {
      if (head !== null) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        const text = head.subarray(0, end).toString("latin1");
        if (!/^HTTP\/1\.1 101/.test(text)) return socket.destroy(), reject(new Error(`handshake refused: ${text.split("\r\n")[0]}`));
        chunk = head.subarray(end + 4);
        head = null;
        if (!socketio) return finish(chunk);
      }
      // Engine.IO open packet "0{...}", then our namespace connect "40", answered by "40{...}".
      reader.feed(chunk, (text) => {
        if (text.startsWith("0{")) socket.write(maskedFrame(Buffer.from("40"), 1));
        else if (text.startsWith("40")) finish(reader.buffer);
      });
    };
    const finish = (rest) => {
      socket.off("data", onData);
      socket.pause();
      resolve({ socket, rest });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(`GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

async function openAll() {
  const out = new Array(conns);
  let next = 0;
  const worker = async () => {
    while (next < conns) {
      const i = next++;
      out[i] = await openClient(ports[i % ports.length]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, conns) }, worker));
  return out;
}

/** The publication: "#b<send time>|" padded to `size` bytes of data. */
function trigger() {
  const stamp = `#b${performance.now().toFixed(3)}|`;
  const data = stamp + "x".repeat(Math.max(0, size - stamp.length));
  return maskedFrame(Buffer.from(socketio ? `42["m","${data}"]` : data), 1);
}

const quantile = (xs, q) => {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  return +s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(3);
};

const opened = await openAll();
const sender = opened[0].socket;
let latencies = [];
const broadcasts = new BroadcastWindow(opened.length, (room) => {
  for (let i = 0; i < room; i++) sender.write(trigger());
});
opened.forEach(({ socket, rest }, index) => {
  if (index % sample !== 0) return broadcasts.listenTo(socket, rest);
  // A sampled client reads its messages whole, for the send time they carry.
  const reader = new TextReader();
  broadcasts.listenTo(socket, rest, (chunk, got) => reader.feed(chunk, (text) => {
    const at = text.indexOf("#b");
    if (at < 0) return;
    latencies.push(performance.now() - Number(text.slice(at + 2, text.indexOf("|", at))));
    got();
  }));
});

// Phase 1: one message at a time.
const fanoutMs = [];
for (let i = 0; i <= paced; i++) {
  if (i === 1) latencies = []; // the first one warms up
  const ms = await broadcasts.one();
  if (i > 0) fanoutMs.push(ms);
  await sleep(0.005);
}
const latency = { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length };

// Phase 2: `window` messages outstanding.
broadcasts.window = windowSize;
broadcasts.pump();
await sleep(warmup);
latencies = [];
emit({ event: "measure-start" });
const cpuStart = process.cpuUsage();
const t0 = performance.now();
const perRound = [];
for (let r = 0; r < rounds; r++) {
  const before = broadcasts.deliveries;
  const start = performance.now();
  await sleep(seconds);
  perRound.push(Math.round((broadcasts.deliveries - before) / ((performance.now() - start) / 1000)));
}
const cpu = process.cpuUsage(cpuStart);
const loadedLatency = { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length };
emit({
  mode: "cluster",
  proto,
  conns: opened.length,
  ports: ports.length,
  rounds: perRound,
  cpu: +((cpu.user + cpu.system) / 1e6 / ((performance.now() - t0) / 1000)).toFixed(2),
  latency,
  loadedLatency,
  fanoutMs: { p50: quantile(fanoutMs, 0.5) },
});
process.exit(0);
