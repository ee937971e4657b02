// A raw RFC 6455 server (node:net, no wsport code) with the behaviours the
// WebSocketStream tests need from a peer: an echo, closes with and without
// a body, a cut connection, a protocol error, a handshake that never comes,
// a closing handshake answered late or not at all, and a flood whose
// progress tells whether the client stops reading. It runs in the test
// process on Node, Deno and Bun alike; a client in another process (Deno's
// native WebSocketStream) uses it too.
//
// Paths:
//   /echo               echoes text and binary; the text "Goodbye" makes it close with 1000
//   /protocol           picks the first subprotocol offered and sends its name as a message
//   /no-protocol        answers without Sec-WebSocket-Protocol whatever was offered
//   /404, /sleep        a 404; no answer at all
//   /slow-handshake     answers after 300 ms
//   /remote-close?code=&reason=&abrupt=1&unread=1&after=data
//                       closes at once (no body without code), or after=data when the first
//                       bytes from the client arrive; abrupt: cuts TCP instead;
//                       unread: stops reading and cuts TCP 200 ms after its close frame
//   /protocol-error     a text frame "test", then a frame with reserved opcode 3
//   /msg-then-close     "a", "b" and Close 1000 "bye" in one write
//   /delayed-passive-close  answers the client's close frame 300 ms late
//   /passive-close-abort    cuts TCP when the client's close frame arrives
//   /flood?id=&count=&size=  sends `count` binary messages of `size` bytes as fast as TCP takes them
//   /stats?id=          once the flood `id` has stopped making progress (or finished), sends
//                       {"flushed":bytes handed to the kernel,"total":bytes} as text, then closes
//   /sink?id=           reads nothing until /release?id= is opened, then echoes the byte count of each message
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const enc = new TextEncoder();

/** A frame from the server (unmasked). */
export function serverFrame(opcode: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const length = payload.length;
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + length);
  frame[0] = 0x80 | opcode;
  if (head === 2) frame[1] = length;
  else if (head === 4) {
    frame[1] = 126;
    new DataView(frame.buffer).setUint16(2, length);
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  frame.set(payload, head);
  return frame;
}

function closePayload(code: number | undefined, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = enc.encode(reason);
  const payload = new Uint8Array(2 + text.length);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(text, 2);
  return payload;
}

interface Frame {
  opcode: number;
  payload: Uint8Array;
}

/** Reads masked client frames; the bytes of a frame are joined once, when all have arrived. */
class FrameParser {
  #chunks: Uint8Array[] = [];
  #length = 0;

  push(chunk: Uint8Array): Frame[] {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      const size = this.#frameSize();
      if (size === undefined || this.#length < size) break;
      const b = this.#take(size);
      const length = b[1]! & 0x7f;
      const at = length === 126 ? 4 : length === 127 ? 10 : 2;
      const masked = (b[1]! & 0x80) !== 0;
      const payload = b.slice(at + (masked ? 4 : 0));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= b[at + (i & 3)]!;
      frames.push({ opcode: b[0]! & 0x0f, payload });
    }
    return frames;
  }

  /** The size of the frame at the front, once its header is in. */
  #frameSize(): number | undefined {
    const b = this.#peek(Math.min(this.#length, 10));
    if (b.length < 2) return undefined;
    const masks = (b[1]! & 0x80) !== 0 ? 4 : 0;
    const length = b[1]! & 0x7f;
    if (length < 126) return 2 + masks + length;
    if (length === 126) return b.length < 4 ? undefined : 4 + masks + new DataView(b.buffer, b.byteOffset).getUint16(2);
    return b.length < 10 ? undefined : 10 + masks + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(2));
  }

  #peek(n: number): Uint8Array {
    const first: Uint8Array[] = [];
    for (let have = 0, i = 0; have < n; i++) {
      first.push(this.#chunks[i]!);
      have += this.#chunks[i]!.length;
    }
    return concat(...first).subarray(0, n);
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, part), at);
      at += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.#length -= n;
    return out;
  }
}

interface Flood {
  flushed: number;
  total: number;
  lastProgress: number;
}

/** The server; `url` is `ws://127.0.0.1:<port>`. */
export interface StreamPeerServer {
  url: string;
  close(): Promise<void>;
}

export async function startStreamPeerServer(): Promise<StreamPeerServer> {
  const floods = new Map<string, Flood>();
  const sinks = new Map<string, () => void>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    handle(socket, floods, sinks);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function handle(socket: Socket, floods: Map<string, Flood>, sinks: Map<string, () => void>): void {
  let received: Uint8Array = new Uint8Array(0);
  const parser = new FrameParser();
  let upgraded = false;
  let closeSent = false;
  let dataSeen = false; // a byte after the handshake
  let onFirstData: (() => void) | undefined;
  let url: URL;
  const send = (opcode: number, payload?: Uint8Array) => socket.write(serverFrame(opcode, payload));
  const sendClose = (code?: number, reason?: string) => {
    closeSent = true;
    send(8, closePayload(code, reason));
  };

  const onFrames = (frames: Frame[]) => {
    for (const { opcode, payload } of frames) {
      const path = url.pathname;
      if (opcode === 8) {
        if (path === "/passive-close-abort") return void socket.destroy();
        if (path === "/delayed-passive-close") return void setTimeout(() => socket.end(serverFrame(8, payload)), 300);
        // The echo of the client's close frame: its code and reason, or no body.
        if (!closeSent) {
          closeSent = true;
          send(8, payload);
        }
        socket.end();
        return;
      }
      if (opcode === 9) send(10, payload);
      else if (path === "/echo" && (opcode === 1 || opcode === 2)) {
        send(opcode, payload);
        if (opcode === 1 && new TextDecoder().decode(payload) === "Goodbye") sendClose(1000);
      } else if (path === "/sink" && (opcode === 1 || opcode === 2)) send(1, enc.encode(String(payload.length)));
    }
  };

  const afterHandshake = () => {
    const path = url.pathname;
    const q = url.searchParams;
    if (path === "/protocol-error") socket.write(concat(serverFrame(1, enc.encode("test")), serverFrame(3, enc.encode("x"))));
    if (path === "/msg-then-close") {
      closeSent = true;
      socket.write(concat(serverFrame(1, enc.encode("a")), serverFrame(1, enc.encode("b")), serverFrame(8, closePayload(1000, "bye"))));
    }
    if (path === "/remote-close") {
      if (q.has("abrupt")) return void setTimeout(() => socket.destroy(), 50);
      if (q.get("after") === "data" && !dataSeen) return void (onFirstData = afterHandshake);
      sendClose(q.has("code") ? Number(q.get("code")) : undefined, q.get("reason") ?? "");
      if (q.has("unread")) {
        socket.pause();
        setTimeout(() => socket.destroy(), 200);
      }
    }
    if (path === "/flood") flood(socket, floods, q);
    if (path === "/stats") reportWhenStalled(floods.get(q.get("id") ?? ""), socket);
    if (path === "/sink") {
      socket.pause();
      sinks.set(q.get("id") ?? "", () => socket.resume());
    }
    if (path === "/release") {
      sinks.get(q.get("id") ?? "")?.();
      sendClose(1000);
    }
  };

  socket.on("data", (chunk: Uint8Array) => {
    if (upgraded && !dataSeen) {
      dataSeen = true;
      onFirstData?.();
    }
    if (upgraded) return onFrames(parser.push(chunk));
    received = concat(received, chunk);
    const head = new TextDecoder("latin1").decode(received); // one character per byte
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    const rest = received.subarray(end + 4); // frames sent right behind the request
    const [requestLine, ...lines] = head.slice(0, end).split("\r\n");
    const headers = new Map(lines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
    }));
    url = new URL(requestLine!.split(" ")[1]!, "http://peer");
    if (url.pathname === "/404") return void socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    if (url.pathname === "/sleep") return;
    const accept = createHash("sha1").update(headers.get("sec-websocket-key") + GUID).digest("base64");
    const offered = (headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    let response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`;
    if (offered.length > 0 && url.pathname !== "/no-protocol") response += `Sec-WebSocket-Protocol: ${offered[0]}\r\n`;
    const answer = () => {
      if (socket.destroyed) return;
      socket.write(response + "\r\n");
      upgraded = true;
      if (url.pathname === "/protocol") send(1, enc.encode(offered[0] ?? ""));
      afterHandshake();
      if (rest.length > 0) onFrames(parser.push(rest));
    };
    if (url.pathname === "/slow-handshake") setTimeout(answer, 300);
    else answer();
  });
}

/** A TCP server that never answers: it counts connections and notices when each one closes. */
export interface SilentServer {
  url: string;
  sockets: Socket[];
  /** One per connection: resolves when it closes. */
  closed: Promise<void>[];
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets: Socket[] = [];
  const closed: Promise<void>[] = [];
  const tcp = createServer((socket) => {
    sockets.push(socket);
    closed.push(new Promise((resolve) => socket.once("close", () => resolve())));
    socket.on("error", () => {});
    socket.resume(); // reads (and drops) the request, so the client's FIN is seen
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${(tcp.address() as AddressInfo).port}/`,
    sockets,
    closed,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

function flood(socket: Socket, floods: Map<string, Flood>, q: URLSearchParams): void {
  const count = Number(q.get("count") ?? 64);
  const size = Number(q.get("size") ?? 1024 * 1024);
  const frame = serverFrame(2, new Uint8Array(size).fill(0x5a));
  const state: Flood = { flushed: 0, total: count * frame.length, lastProgress: Date.now() };
  floods.set(q.get("id") ?? "", state);
  let sent = 0;
  const pump = () => {
    while (sent < count) {
      sent++;
      const more = socket.write(frame, () => {
        state.flushed += frame.length;
        state.lastProgress = Date.now();
      });
      if (!more) return void socket.once("drain", pump);
    }
  };
  pump();
}

/** Waits until the flood has finished or made no progress for 500 ms (a flood held back by its reader stays stuck). */
function reportWhenStalled(state: Flood | undefined, socket: Socket): void {
  if (state === undefined) return void socket.end(serverFrame(8, closePayload(4404, "no such flood")));
  const check = () => {
    if (state.flushed < state.total && Date.now() - state.lastProgress < 500) return void setTimeout(check, 50);
    socket.write(serverFrame(1, enc.encode(JSON.stringify({ flushed: state.flushed, total: state.total }))));
    socket.write(serverFrame(8, closePayload(1000)));
  };
  check();
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
