// What both load generators share (bench/loadgen.mjs over TCP, bench/h2_loadgen.mjs
// over TLS and HTTP/2): masked client frames built once, a reply counter that
// reads only frame headers, and the warm-up-then-rounds timer.
import { randomBytes } from "node:crypto";

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
  const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
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
