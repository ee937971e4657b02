// A wire tap for interop tests: wraps a Network so that every byte a
// transport writes or reads is also fed to a streaming scanner, which reads
// the HTTP head and then the WebSocket frame headers (payloads are skipped,
// never copied). What it records is evidence that does not depend on either
// endpoint's own account: the Sec-WebSocket-Extensions headers as sent, which
// data messages had RSV1 set on their first frame, and how many payload
// bytes each message took on the wire.
//
// Only plain (non-TLS) connections are readable this way, which is all the
// interop tests use.

import type { Network, Transport, TransportEvents } from "../../src/transport/transport.ts";

/** One data message as seen on the wire. */
export interface WireMessage {
  /** 1 text, 2 binary. */
  opcode: number;
  /** RSV1 on the first frame: permessage-deflate's "compressed" bit. */
  rsv1: boolean;
  /** Frames the message took. */
  frames: number;
  /** Payload bytes on the wire, over all its frames. */
  wireBytes: number;
  /** The payload (unmasked, frames joined), kept for compressed messages when the tap captures. */
  payload?: Uint8Array;
}

/** What one direction of one connection carried. */
export interface WireDirection {
  /** The HTTP head (request or response), as Latin-1 text, once complete. */
  head: string | undefined;
  /** Every byte that went this way, head included. */
  totalBytes: number;
  /** Completed data messages, in order. */
  messages: WireMessage[];
  /** Control frames (opcode >= 8), by opcode. */
  control: number[];
  /** Frames with RSV1 set (any frame, first or not). */
  rsv1Frames: number;
  /** RSV1 on a continuation frame or a control frame: a protocol error by RFC 7692 6.1. */
  rsv1Misplaced: number;
  /** Frames with RSV2 or RSV3 set. */
  otherRsvFrames: number;
}

/** Both directions of one connection, from the wsport side's point of view. */
export interface WireConnection {
  /** Bytes wsport wrote. */
  sent: WireDirection;
  /** Bytes wsport read. */
  received: WireDirection;
}

const CRLFCRLF = [13, 10, 13, 10];

/** A streaming reader of one direction: an HTTP head, then frames. */
export class WireScanner implements WireDirection {
  head: string | undefined;
  totalBytes = 0;
  messages: WireMessage[] = [];
  control: number[] = [];
  rsv1Frames = 0;
  rsv1Misplaced = 0;
  otherRsvFrames = 0;

  #headBytes: number[] = [];
  #matched = 0; // how much of CRLFCRLF has been seen
  #header: number[] = []; // the frame header being read
  #skip = 0; // payload bytes left to skip in the current frame
  #current: WireMessage | undefined; // a data message whose last frame has not been seen
  #pendingFin = false;
  #pendingControl = -1;
  #mask: number[] | undefined;
  #maskAt = 0;
  #parts: Uint8Array[] = [];

  /** @param capture Keep the payloads of compressed data messages (see WireMessage.payload). */
  constructor(readonly capture = false) {}

  feed(chunk: Uint8Array): void {
    this.totalBytes += chunk.length;
    let i = 0;
    while (i < chunk.length && this.head === undefined) {
      const b = chunk[i++]!;
      this.#headBytes.push(b);
      this.#matched = b === CRLFCRLF[this.#matched] ? this.#matched + 1 : b === 13 ? 1 : 0;
      if (this.#matched === 4) {
        this.head = String.fromCharCode(...this.#headBytes);
        this.#headBytes = [];
      }
    }
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        if (this.#current && this.#pendingControl < 0) {
          this.#current.wireBytes += n;
          if (this.capture && this.#current.rsv1) {
            const part = chunk.slice(i, i + n);
            const mask = this.#mask;
            if (mask) for (let k = 0; k < n; k++) part[k]! ^= mask[(this.#maskAt + k) & 3]!;
            this.#parts.push(part);
          }
        }
        this.#maskAt += n;
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#frameDone();
        continue;
      }
      this.#header.push(chunk[i++]!);
      this.#tryHeader();
    }
  }

  /** The header field `name` of the head, or undefined. */
  header(name: string): string | undefined {
    return headerOf(this.head, name);
  }

  #tryHeader(): void {
    const h = this.#header;
    if (h.length < 2) return;
    const masked = (h[1]! & 0x80) !== 0;
    const len7 = h[1]! & 0x7f;
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const need = 2 + extra + (masked ? 4 : 0);
    if (h.length < need) return;
    let length = len7;
    if (len7 === 126) length = (h[2]! << 8) | h[3]!;
    if (len7 === 127) {
      length = 0;
      for (let k = 2; k < 10; k++) length = length * 256 + h[k]!;
    }
    this.#mask = masked ? h.slice(need - 4, need) : undefined;
    this.#maskAt = 0;
    const fin = (h[0]! & 0x80) !== 0;
    const rsv1 = (h[0]! & 0x40) !== 0;
    const opcode = h[0]! & 0x0f;
    this.#header = [];
    if (rsv1) this.rsv1Frames++;
    if ((h[0]! & 0x30) !== 0) this.otherRsvFrames++;
    if (opcode >= 8) {
      if (rsv1) this.rsv1Misplaced++;
      this.#pendingControl = opcode;
    } else {
      this.#pendingControl = -1;
      if (opcode === 0) {
        if (rsv1) this.rsv1Misplaced++;
        if (this.#current) this.#current.frames++;
      } else {
        this.#current = { opcode, rsv1, frames: 1, wireBytes: 0 };
        this.#parts = [];
      }
    }
    this.#pendingFin = fin;
    this.#skip = length;
    if (length === 0) this.#frameDone();
  }

  #frameDone(): void {
    if (this.#pendingControl >= 0) {
      this.control.push(this.#pendingControl);
      this.#pendingControl = -1;
      return;
    }
    if (this.#pendingFin && this.#current) {
      if (this.capture && this.#current.rsv1) {
        const payload = new Uint8Array(this.#current.wireBytes);
        let at = 0;
        for (const part of this.#parts) {
          payload.set(part, at);
          at += part.length;
        }
        this.#current.payload = payload;
        this.#parts = [];
      }
      this.messages.push(this.#current);
      this.#current = undefined;
    }
  }
}

/** The value of header `name` in an HTTP head (several lines joined by ", "), or undefined. */
export function headerOf(head: string | undefined, name: string): string | undefined {
  if (head === undefined) return undefined;
  const values: string[] = [];
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) values.push(line.slice(colon + 1).trim());
  }
  return values.length ? values.join(", ") : undefined;
}

function tapTransport(transport: Transport, record: WireConnection): Transport {
  const sent = record.sent as WireScanner;
  const received = record.received as WireScanner;
  return new Proxy(transport, {
    get(target, prop) {
      if (prop === "start") {
        return (events: TransportEvents) =>
          target.start({
            data: (chunk) => {
              received.feed(chunk);
              events.data(chunk);
            },
            drain: () => events.drain(),
            end: () => events.end(),
            close: (error) => events.close(error),
          });
      }
      if (prop === "write") {
        return (chunks: readonly Uint8Array[]) => {
          for (const c of chunks) sent.feed(c);
          target.write(chunks);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A network whose every connection (accepted or opened) is recorded in `connections`, in order. */
export interface TappedNetwork extends Network {
  readonly connections: WireConnection[];
}

/**
 * Wraps `inner` so that each transport it accepts or opens is tapped.
 *
 * @param inner The runtime's network.
 * @param options `capture`: keep compressed payloads (for {@link WireMessage.payload}).
 * @returns The same network, recording.
 */
export function tapNetwork(inner: Network, options: { capture?: boolean } = {}): TappedNetwork {
  const connections: WireConnection[] = [];
  const record = () => {
    const c: WireConnection = { sent: new WireScanner(options.capture), received: new WireScanner(options.capture) };
    connections.push(c);
    return c;
  };
  return {
    name: inner.name,
    isUtf8: inner.isUtf8,
    connections,
    listen: (options, accept) => inner.listen(options, (transport) => accept(tapTransport(transport, record()))),
    connect: async (options) => tapTransport(await inner.connect(options), record()),
  };
}
