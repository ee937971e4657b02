// Shared helpers for the tests (not a test file itself).
import assert from "node:assert/strict";
import { MemoryNetwork } from "../adapters/memory.ts";
import { concat } from "../src/core/bytes.ts";
import { type WebSocketProtocol, type OutgoingData, SEND_EOF } from "../src/core/protocol.ts";
import type { WsEvent } from "../src/core/events.ts";
import type { Network, Transport, TransportEvents } from "../src/transport/transport.ts";

/** Resolves with `promise`, or rejects after `ms` so a broken test fails instead of hanging. */
export function within<T>(promise: Promise<T>, ms = 5000, what = "event"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits until `check()` is true, polling on timers (never asserts on time). */
export async function until(check: () => boolean, what = "condition", ms = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A raw client: a transport with everything it receives collected. */
export interface RawPeer {
  transport: Transport;
  received(): Uint8Array;
  text(): string;
  ended: Promise<void>;
  closed: Promise<void>;
}

export async function rawConnect(network: Network, port: number, hostname = "127.0.0.1"): Promise<RawPeer> {
  const transport = await network.connect({ hostname, port });
  const chunks: Uint8Array[] = [];
  const ended = deferred();
  const closed = deferred();
  const events: TransportEvents = {
    data: (chunk) => void chunks.push(chunk.slice()),
    drain: () => {},
    end: () => {
      ended.resolve();
      transport.end(); // like a socket without allowHalfOpen
    },
    close: () => {
      ended.resolve();
      closed.resolve();
    },
  };
  transport.start(events);
  const received = () => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  };
  return { transport, received, text: () => new TextDecoder().decode(received()), ended: ended.promise, closed: closed.promise };
}

/** A memory network whose accepted transports count their write calls. */
export class CountingNetwork extends MemoryNetwork {
  writes: number[] = []; // bytes per write call, server side

  override listen(...args: Parameters<MemoryNetwork["listen"]>): ReturnType<MemoryNetwork["listen"]> {
    const [options, accept] = args;
    return super.listen(options, (transport) => {
      const write = transport.write.bind(transport);
      transport.write = (chunks) => {
        this.writes.push(chunks.reduce((n, c) => n + c.length, 0));
        write(chunks);
      };
      accept(transport);
    });
  }
}

export const enc = new TextEncoder();

/** Latin-1 text to bytes (an HTTP head as written on the wire). */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => {
    const code = ch.charCodeAt(0);
    if (code > 0xff) throw new Error("test helper: not Latin-1");
    return code;
  });
}

/** Bytes to Latin-1 text. */
export function asText(data: Uint8Array): string {
  return Array.from(data, (b) => String.fromCharCode(b)).join("");
}

/** Takes everything a sans-IO connection queued; SEND_EOF must be last and appear at most once. */
export function drain(conn: Pick<WebSocketProtocol, "dataToSend">): { bytes: Uint8Array; eof: boolean } {
  const out: OutgoingData[] = conn.dataToSend();
  const parts: Uint8Array[] = [];
  let eof = false;
  out.forEach((item, i) => {
    if (item === SEND_EOF) {
      assert.equal(i, out.length - 1, "SEND_EOF must be the last item queued");
      eof = true;
    } else {
      parts.push(item);
    }
  });
  return { bytes: concat(parts), eof };
}

/** The key of the RFC 6455 section 1.3 example. */
export const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

// RFC 6455 sections 1.3 / 4.2.1: the example opening handshake.
export const RFC_REQUEST_TEXT = "GET /chat HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
  "Origin: http://example.com\r\n" +
  "Sec-WebSocket-Protocol: chat, superchat\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";

/** Events as plain data (headers as arrays, bytes as numbers, errors as codes), for deepEqual. */
export function plain(events: readonly WsEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case "request":
        return { ...e, request: { ...e.request, head: { ...e.request.head, headers: [...e.request.head.headers] } } };
      case "response":
        return { ...e, response: { ...e.response, headers: [...e.response.headers] } };
      case "binary":
      case "ping":
      case "pong":
        return { type: e.type, data: Array.from(e.data) };
      case "error":
        return { type: e.type, code: e.error.code, closeCode: e.error.closeCode };
      case "handshake-error":
        return { type: e.type, code: e.error.code, status: e.error.status };
      default:
        return e;
    }
  });
}

/** Splits bytes at the given cut points (taken modulo length + 1), for any-split property tests. */
export function splitAt(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(data.subarray(start, p));
    start = p;
  }
  chunks.push(data.subarray(start));
  return chunks;
}
