// Client frames and server-frame counting for the load generators
// (loadgen.mjs, cluster_loadgen.mjs): raw bytes, no WebSocket library.
import { randomBytes } from "node:crypto";

/**
 * Builds a client frame.
 *
 * @param {Buffer} payload
 * @param {number} opcode
 * @param {boolean} [rsv1]
 * @returns {Buffer}
 */
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
