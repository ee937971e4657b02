/**
 * An HTTP/2 stream of `node:http2` as a wsport transport, and the header
 * conversions the HTTP/2 adapter's server and client share. Runs on Node,
 * Deno and Bun.
 *
 * @module
 */

import http2 from "node:http2";
import type * as net from "node:net";
import * as tls from "node:tls";
import { WebSocketError } from "../src/core/errors.ts";
import { BaseTransport, type ReleaseReason } from "../src/transport/base_transport.ts";
import type { HeaderFields, Http2ResponseHead, Http2StreamTransport } from "../src/transport/http2.ts";
import type { PeerCertificate } from "../src/transport/transport.ts";
import { peerCertificateOf } from "./node.ts";

/** The TCP+TLS connection a stream travels on, read once per session. */
export interface Connection {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  peerCertificate: PeerCertificate | undefined;
}

/** For a stream whose session has no socket any more (it is closing): nothing known. */
export const NO_CONNECTION: Connection = { remoteAddress: "", remotePort: 0, localAddress: "", localPort: 0, peerCertificate: undefined };

/** What the streams of a session report about its connection, read once from its socket. */
export function connectionOf(socket: net.Socket): Connection {
  const secure = socket instanceof tls.TLSSocket;
  return {
    remoteAddress: socket.remoteAddress ?? "",
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? "",
    localPort: socket.localPort ?? 0,
    peerCertificate: secure ? peerCertificateOf(socket as tls.TLSSocket) : undefined,
  };
}

/** Node's header object (arrays for repeated fields) as ordered pairs. */
export function toFields(headers: http2.IncomingHttpHeaders): [string, string][] {
  const fields: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const item of value) fields.push([name, item]);
    else if (value !== undefined) fields.push([name, String(value)]);
  }
  return fields;
}

/** Pairs as Node's header object (repeated names become arrays). */
export function toHeaderObject(fields: HeaderFields): http2.OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of fields) {
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else out[name] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

const RST_NAMES: Record<number, string> = { 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 5: "STREAM_CLOSED", 7: "REFUSED_STREAM", 8: "CANCEL", 11: "ENHANCE_YOUR_CALM" };

/**
 * An HTTP/2 stream as a {@link Transport}. DATA is the byte stream,
 * END_STREAM the half-close; a RST_STREAM from the peer (any code) closes
 * the transport with an error, so a WebSocket on it ends with 1006, and
 * `destroy()` resets the stream with CANCEL, as RFC 8441 section 5 maps a
 * TCP reset. Backpressure: a write the stream cannot take (its buffer is
 * full while the peer's flow-control window is shut) stays counted in
 * `bufferedAmount` until the stream drains; `pause()` stops reading, so
 * HTTP/2 flow control reaches the peer once the stream's window is used.
 */
export class NodeHttp2StreamTransport extends BaseTransport implements Http2StreamTransport {
  readonly kind = "http2-stream";
  readonly raw: http2.Http2Stream;
  readonly headers: HeaderFields;
  readonly streamId: number;
  readonly session: unknown;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly peerCertificate: PeerCertificate | undefined;
  #responded: boolean;
  #reading = false;
  #error: Error | undefined;
  #onResponded: (() => void) | undefined;

  /**
   * @param stream The stream.
   * @param headers The request's fields (server) or the response's (client).
   * @param connection The connection it travels on.
   * @param responded False on the server until {@link respond}; true on the client.
   */
  constructor(stream: http2.Http2Stream, headers: HeaderFields, connection: Connection, responded: boolean) {
    super({ secure: true });
    this.raw = stream;
    this.headers = headers;
    this.streamId = stream.id ?? 0;
    this.session = stream.session;
    this.remoteAddress = connection.remoteAddress;
    this.remotePort = connection.remotePort;
    this.localAddress = connection.localAddress;
    this.localPort = connection.localPort;
    this.peerCertificate = connection.peerCertificate;
    this.#responded = responded;
    stream.on("error", (error: Error) => (this.#error ??= error));
    stream.on("aborted", () => this.#reset());
    stream.on("end", () => this.receivedEnd());
    stream.on("close", () => {
      if (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) this.#reset();
      else this.closedByRuntime(this.#error);
    });
  }

  /** A RST_STREAM: never a clean end, even where the runtime also reports 'end' (Node does). */
  #reset(): void {
    const code = this.raw.rstCode ?? 0;
    const name = RST_NAMES[code] ?? `code ${code}`;
    this.failed(this.#error ?? new WebSocketError("WS_ERR_STREAM_RESET", `HTTP/2 stream ${this.streamId} was reset (RST_STREAM ${name})`));
  }

  respond(head: Http2ResponseHead): void {
    if (this.#responded || this.isClosed) return;
    this.#responded = true;
    (this.raw as http2.ServerHttp2Stream).respond({ ...toHeaderObject(head.headers), ":status": head.status });
    this.writable();
    this.#onResponded?.();
  }

  protected writeSome(chunk: Uint8Array): number | Promise<number> {
    if (!this.#responded) return 0; // respond() calls writable()
    if (this.raw.write(chunk)) return chunk.length;
    // The stream's buffer is full (the peer's window is shut): the chunk counts as buffered until it drains.
    return new Promise((resolve) => this.raw.once("drain", () => resolve(chunk.length)));
  }

  protected shutdownWrite(): void | Promise<void> {
    // Ending a server stream before its response head would make the runtime send a default one.
    if (!this.#responded) return new Promise<void>((resolve) => (this.#onResponded = resolve)).then(() => this.shutdownWrite());
    if (!this.raw.writableEnded) this.raw.end();
  }

  protected stopReading(): void {
    this.raw.pause();
  }

  protected startReading(): void {
    if (!this.#reading) {
      this.#reading = true;
      this.raw.on("data", (chunk: Uint8Array) => this.received(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    }
    this.raw.resume();
  }

  protected release(reason: ReleaseReason): void {
    const stream = this.raw;
    // Both sides sent END_STREAM: the stream closes by itself (resetting it now could overtake our END_STREAM).
    if (reason === "done" || stream.closed || stream.destroyed) return;
    // RFC 8441 5: "RST exceptions represent RST_STREAM frames with the CANCEL error code".
    stream.close(http2.constants.NGHTTP2_CANCEL);
    // A stream with unread DATA does not close (nor free its slot in the session) until it is read.
    stream.resume();
  }
}
