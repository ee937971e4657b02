// A raw WebSocket server for the WHATWG WebSocket's tests (not a test file):
// it behaves as each path asks (echo, close first, break the protocol, drop
// the connection, never answer...) and records every frame it receives, as
// the events a server-side core makes of them.
import { concat } from "../src/core/bytes.ts";
import type { WsEvent } from "../src/core/events.ts";
import { encodeFrame, Opcode } from "../src/core/frame.ts";
import { acceptKey, type HandshakeRequest } from "../src/core/handshake.ts";
import { writeResponseHead } from "../src/core/http/head.ts";
import { type OutgoingData, SEND_EOF } from "../src/core/protocol.ts";
import { ServerProtocol } from "../src/core/server_protocol.ts";
import type { Listener, Network, Transport } from "../src/transport/transport.ts";
import { deferred, enc } from "./helpers.ts";

/** What the server saw of one connection. */
export interface Seen {
  path: string;
  request: HandshakeRequest;
  /** The client's frames, in order: `text:...`, `binary:1,2,3`, `close:1000:reason`, `ping`, `error:WS_ERR_...`. */
  frames: string[];
  /** Resolves when the connection's transport is closed. */
  closed: Promise<void>;
}

function frame(opcode: number, payload: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  return concat(encodeFrame(opcode, typeof payload === "string" ? enc.encode(payload) : payload));
}

function closeBody(code: number, reason = ""): Uint8Array {
  return concat([new Uint8Array([code >> 8, code & 0xff]), enc.encode(reason)]);
}

function bytesOf(items: OutgoingData[]): Uint8Array[] {
  return items.filter((item): item is Uint8Array => item !== SEND_EOF);
}

function describe(event: WsEvent): string {
  switch (event.type) {
    case "text":
      return `text:${event.data}`;
    case "binary":
      return `binary:${Array.from(event.data).join(",")}`;
    case "close":
      return `close:${event.code}:${event.reason}`;
    case "error":
      return `error:${event.error.code}`;
    default:
      return event.type;
  }
}

/**
 * The server. Paths: `/echo` (echo; the first offered subprotocol is
 * chosen), `/no-protocol`, `/bad-protocol` (chooses one not offered),
 * `/404`, `/sleep` (never answers), `/close?code=&reason=` (the server
 * closes first; no code: an empty close frame), `/msg-then-close`,
 * `/binary-on-open`, `/protocol-error?kind=opcode|utf8|close-1005|close-utf8`,
 * `/abrupt` (drops TCP after the handshake), `/passive-close-abort` (drops
 * TCP when the client's close arrives), `/cross` (answers the message
 * `"cross"` with its own close 4222 "remote").
 */
export class WhatwgTestServer {
  readonly seen: Seen[] = [];
  #listener: Listener | undefined;
  #waiters: { path: string; resolve: (seen: Seen) => void }[] = [];
  readonly #transports = new Set<Transport>();

  static async start(network: Network): Promise<WhatwgTestServer> {
    const server = new WhatwgTestServer();
    server.#listener = await network.listen({ hostname: "127.0.0.1", port: 0 }, (transport) => server.#accept(transport));
    return server;
  }

  get port(): number {
    return this.#listener!.port;
  }

  url(path: string): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** The next connection (from now on) whose path starts with `path`. */
  next(path: string): Promise<Seen> {
    return new Promise((resolve) => this.#waiters.push({ path, resolve }));
  }

  async close(): Promise<void> {
    for (const transport of this.#transports) transport.destroy();
    await this.#listener?.close();
  }

  #accept(transport: Transport): void {
    this.#transports.add(transport);
    const core = new ServerProtocol();
    const closed = deferred();
    let seen: Seen | undefined;
    // Writes what the core queued, and half-closes when it says so (after its close, as a server does).
    const flush = (extra: Uint8Array[] = []) => {
      const items = core.dataToSend();
      transport.write([...bytesOf(items), ...extra]);
      if (items.includes(SEND_EOF)) transport.end();
    };
    const onFrame = (event: WsEvent) => {
      seen!.frames.push(describe(event));
      const path = seen!.path;
      if (event.type === "text" || event.type === "binary") {
        if (path.startsWith("/cross") && event.data === "cross") core.sendClose(4222, "remote");
        else if (path.startsWith("/echo") && core.readyState === 1) core.send(event.data);
      } else if (event.type === "close" && path.startsWith("/passive-close-abort")) {
        transport.destroy();
      }
    };
    transport.start({
      data: (chunk) => {
        if (seen === undefined) {
          const [event] = core.receiveData(chunk);
          if (event?.type !== "request") return flush();
          seen = { path: event.request.path, request: event.request, frames: [], closed: closed.promise };
          this.seen.push(seen);
          for (const waiter of this.#waiters.filter((w) => seen!.path.startsWith(w.path))) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(seen);
          }
          return this.#answer(core, transport, event.request, flush);
        }
        if (core.readyState === 0) return; // never answered (/sleep)
        // One event at a time, so a close sent while handling a message precedes the echo of the client's.
        for (let events = core.receiveNext(chunk); events.length > 0; events = core.receiveNext()) events.forEach(onFrame);
        if (this.#transports.has(transport)) flush();
      },
      drain: () => {},
      end: () => {
        core.receiveEof();
        transport.end();
      },
      close: () => {
        this.#transports.delete(transport);
        closed.resolve();
      },
    });
  }

  #answer(core: ServerProtocol, transport: Transport, request: HandshakeRequest, flush: (extra?: Uint8Array[]) => void): void {
    const url = new URL(request.path, "http://x");
    const path = url.pathname;
    if (path === "/sleep") return;
    if (path === "/404") {
      core.reject(404, "no");
      return flush();
    }
    if (path === "/bad-protocol") {
      const headers: [string, string][] = [["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Accept", acceptKey(request.key)], ["Sec-WebSocket-Protocol", "notoffered"]];
      transport.write([writeResponseHead({ status: 101, reason: "Switching Protocols", headers })]);
      return;
    }
    const protocol = path === "/no-protocol" ? undefined : request.protocols[0];
    core.accept(protocol === undefined ? {} : { protocol });
    const raw: Uint8Array[] = []; // frames the core would refuse to send
    if (path === "/close") {
      const code = url.searchParams.get("code");
      core.sendClose(code === null ? undefined : Number(code), url.searchParams.get("reason") ?? "");
    } else if (path === "/msg-then-close") {
      core.send("a");
      core.send("b");
      core.sendClose(1000, "bye");
    } else if (path === "/binary-on-open") {
      core.send(new Uint8Array([7, 8, 9]));
    } else if (path === "/protocol-error") {
      core.send("test");
      const kind = url.searchParams.get("kind");
      if (kind === "opcode") raw.push(frame(3, "LOL"));
      else if (kind === "utf8") raw.push(frame(Opcode.Text, new Uint8Array([0xff, 0xfe])));
      else if (kind === "close-1005") raw.push(frame(Opcode.Close, closeBody(1005)));
      else raw.push(frame(Opcode.Close, concat([closeBody(1000), new Uint8Array([0xff])])));
    }
    flush(raw);
    if (path === "/abrupt") setTimeout(() => transport.destroy(), 20);
  }
}
