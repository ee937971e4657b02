// What both load generators share (bench/loadgen.mjs over TCP, bench/h2_loadgen.mjs
// over TLS and HTTP/2): masked client frames built once, a reply counter that
// reads only frame headers, and the warm-up-then-rounds timer.
import { randomBytes } from "node:crypto";

/** Waits `s` seconds. */
export const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

/** Prints one JSON line on stdout: what the driver (bench/run.mjs) reads. */
export const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

/**
 * `MODE --name value ...` from the command line: the mode, the options as
 * strings (`opt`), the ones every mode reads (port, host, conns, size) and
 * the round timer made from --warmup, --seconds and --rounds.
 */
export function parseCommandLine(argv) {
  const [mode = "echo", ...rest] = argv;
  const opt = {};
  for (let i = 0; i < rest.length; i++) if (rest[i].startsWith("--")) opt[rest[i].slice(2)] = rest[++i];
  return {
    mode,
    opt,
    port: Number(opt.port ?? 9001),
    host: opt.host ?? "127.0.0.1",
    conns: Number(opt.conns ?? 64),
    size: Number(opt.size ?? 32),
    timedRounds: roundTimer({ warmup: Number(opt.warmup ?? 1), seconds: Number(opt.seconds ?? 2), rounds: Number(opt.rounds ?? 3), emit }),
  };
}

/**
 * Runs `modes[mode]`, reporting a failure as {"event":"error"}; exits when it
 * is done unless `stay` (a mode that holds its connections until told).
 */
export async function runMode(modes, mode, usage, stay = false) {
  if (!modes[mode]) {
    console.error(`unknown mode ${mode}; ${usage}`);
    process.exit(2);
  }
  try {
    await modes[mode]();
  } catch (error) {
    emit({ event: "error", message: String(error?.message ?? error) });
    process.exit(1);
  }
  if (!stay) process.exit(0);
}

/** An HTTP/1.1 upgrade request with a fresh key; `extra` is more header lines, each ending in CRLF. */
export function upgradeRequest(host, port, extra = "") {
  return `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/**
 * Reads a socket's 101 response head after an upgrade request. Resolves with
 * the head's text and the bytes after it; the socket is then paused until
 * the mode attaches its reader (a stream left flowing without a "data"
 * listener drops what arrives meanwhile, e.g. a keepalive ping while other
 * connections are still being opened). Rejects, destroying the socket, on an
 * error or another status.
 */
export function readUpgradeHead(socket) {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.pause();
      socket.off("error", reject);
      socket.on("error", () => {}); // a reset before the mode takes over must not end the process
      const text = head.subarray(0, end).toString("latin1");
      if (!/^HTTP\/1\.1 101/.test(text)) return socket.destroy(), reject(new Error(`handshake refused: ${text.split("\r\n")[0]}`));
      resolve({ text, rest: head.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.on("error", reject);
  });
}

/**
 * Keeps `depth` copies of `frame` in flight on one WebSocket, refilled in
 * batches of at least depth/2; `onReplies(n)` is told of each batch of
 * replies counted. `pipe` is `{ readable, write(bytes), rest }` (`rest`: bytes
 * that came with the handshake). Returns the pipe's FrameCounter.
 */
export function keepEchoing(pipe, frame, depth, onReplies) {
  const burst = Buffer.concat(Array.from({ length: depth }, () => frame));
  const counter = new FrameCounter();
  let inFlight = depth;
  const onData = (chunk) => {
    const n = counter.feed(chunk);
    onReplies(n);
    inFlight -= n;
    if (inFlight <= depth / 2) {
      pipe.write(burst.subarray(0, (depth - inFlight) * frame.length));
      inFlight = depth;
    }
  };
  pipe.readable.on("data", onData);
  pipe.readable.on("error", () => {});
  if (pipe.rest.length) onData(pipe.rest);
  pipe.readable.resume();
  pipe.write(burst);
  return counter;
}

/** One masked client frame (FIN set) around `payload`. */
export function maskedFrame(payload, opcode, rsv1 = false) {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const frame = Buffer.alloc(2 + ext + 4 + n);
  frame[0] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (ext === 0) frame[1] = 0x80 | n;
  else if (ext === 2) { frame[1] = 0x80 | 126; frame.writeUInt16BE(n, 2); }
  else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(n), 2); }
  const key = randomBytes(4);
  key.copy(frame, 2 + ext);
  const at = 6 + ext;
  for (let i = 0; i < n; i++) frame[at + i] = payload[i] ^ key[i & 3];
  return frame;
}

/**
 * Counts complete data messages in a stream of server frames without copying
 * payloads: only headers are read, payload bytes are skipped.
 */
export class FrameCounter {
  skip = 0; // payload bytes of the current frame still to come
  countCurrent = false; // whether the frame being skipped ends a data message
  head = null; // a header split across chunks
  compressed = 0; // data messages whose first frame had RSV1 set (permessage-deflate)

  /** @returns how many data messages ended in this chunk */
  feed(chunk) {
    if (this.head !== null) {
      chunk = Buffer.concat([this.head, chunk]);
      this.head = null;
    }
    let at = 0;
    let n = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, end - at);
        this.skip -= take;
        at += take;
        if (this.skip === 0 && this.countCurrent) n++;
        continue;
      }
      if (end - at < 2) { this.head = Buffer.from(chunk.subarray(at)); break; }
      const b0 = chunk[at];
      const b1 = chunk[at + 1];
      const len7 = b1 & 0x7f;
      const headLength = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
      if (end - at < headLength) { this.head = Buffer.from(chunk.subarray(at)); break; }
      const length = len7 < 126 ? len7 : len7 === 126 ? chunk.readUInt16BE(at + 2) : Number(chunk.readBigUInt64BE(at + 2));
      at += headLength;
      // A data message ends with a FIN frame whose opcode is not a control opcode.
      const counts = (b0 & 0x80) !== 0 && (b0 & 0x08) === 0;
      if ((b0 & 0x40) !== 0 && (b0 & 0x0f) !== 0 && (b0 & 0x08) === 0) this.compressed++;
      if (length === 0) { if (counts) n++; }
      else { this.skip = length; this.countCurrent = counts; }
    }
    return n;
  }
}

/**
 * Makes the timer: it runs the warm-up, emits {"event":"measure-start"}, then
 * `rounds` timed rounds; `read()` returns the running total.
 */
export function roundTimer({ warmup, seconds, rounds, emit }) {
  return async function timedRounds(read) {
    await sleep(warmup);
    emit({ event: "measure-start" });
    const cpuStart = process.cpuUsage();
    const t0 = performance.now();
    const perRound = [];
    for (let r = 0; r < rounds; r++) {
      const before = read();
      const start = performance.now();
      await sleep(seconds);
      perRound.push((read() - before) / ((performance.now() - start) / 1000));
    }
    const cpu = process.cpuUsage(cpuStart);
    const elapsed = (performance.now() - t0) / 1000;
    return { rounds: perRound.map(Math.round), cpu: +((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(2) };
  };
}

/**
 * Broadcasts sent by one connection and received, in order, by `receivers`
 * connections: message k is fully delivered once every receiver has
 * received k + 1 messages. Keeps `window` messages outstanding.
 */
export class BroadcastWindow {
  window = 1;
  sent = 0;
  fullyDelivered = 0;
  deliveries = 0;
  #complete = []; // #complete[k]: receivers that have message k
  #onFull = null;

  /**
   * @param {number} receivers
   * @param {(count: number) => void} send sends `count` more messages
   */
  constructor(receivers, send) {
    this.receivers = receivers;
    this.send = send;
  }

  /** Sends as many as the window has room for. */
  pump() {
    const room = this.window - (this.sent - this.fullyDelivered);
    if (room <= 0) return;
    this.send(room);
    this.sent += room;
  }

  /** A receiver got its message number `k` (counting from 0). */
  received(k) {
    this.deliveries++;
    const c = (this.#complete[k] ?? 0) + 1;
    this.#complete[k] = c;
    if (c !== this.receivers) return;
    this.fullyDelivered++;
    this.#complete[k] = undefined;
    if (this.#onFull) this.#onFull();
    else this.pump();
  }

  /**
   * Makes a connection one of the receivers: its messages are counted from
   * frame headers, or by `read(chunk, got)`, which calls `got()` per message.
   */
  listenTo(socket, rest, read = undefined) {
    let received = 0;
    const got = () => this.received(received++);
    const counter = new FrameCounter();
    const onData = read ? (chunk) => read(chunk, got) : (chunk) => {
      const n = counter.feed(chunk);
      for (let i = 0; i < n; i++) got();
    };
    socket.on("data", onData);
    socket.on("error", () => {});
    if (rest.length) onData(rest);
    socket.resume();
  }

  /** Sends one message (nothing else outstanding) and resolves with the ms until every receiver has it. */
  async one() {
    const t = performance.now();
    await new Promise((resolve) => {
      this.#onFull = () => {
        this.#onFull = null;
        resolve();
      };
      this.pump();
    });
    return performance.now() - t;
  }
}
