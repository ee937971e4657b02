/**
 * The client half of the HTTP/2 adapter: one TLS connection per origin
 * (and TLS options), negotiated by ALPN, whose HTTP/2 session carries every
 * WebSocket opened to that origin as an extended CONNECT stream (RFC 8441).
 * A session with no open stream does not keep the process alive.
 *
 * @module
 */

import http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { HandshakeError, WebSocketError } from "../src/core/errors.ts";
import type { Http2ConnectOptions, Http2Opening } from "../src/transport/http2.ts";
import { NodeTransport, tlsConnectOptions } from "./node.ts";
import { type Connection, connectionOf, NodeHttp2StreamTransport, toFields, toHeaderObject } from "./node_http2_stream.ts";

/** An HTTP/2 session in the pool, with its count of open streams. */
interface Pooled {
  session: http2.ClientHttp2Session;
  connection: Connection;
  open: number;
}

/** What a new TLS connection turned out to speak. */
type Established = { kind: "h2"; pooled: Pooled } | { kind: "http/1.1"; socket: tls.TLSSocket; taken: boolean };

const pool = new Map<string, Promise<Established>>();

function keyOf(options: Http2ConnectOptions): string {
  const t = options.tls;
  return JSON.stringify([options.hostname, options.port, t.servername ?? null, t.rejectUnauthorized ?? true, t.ca ?? null, t.cert ?? null, t.key ?? null]);
}

/** Opens a TLS connection offering h2 and http/1.1; for h2, waits for the server's first SETTINGS. */
function establish(options: Http2ConnectOptions): Promise<Established> {
  return new Promise((resolve, reject) => {
    // Half-open allowed, as the Node network's own connections, for an HTTP/1.1 fallback.
    const socket = tls.connect({ ...tlsConnectOptions(options.hostname, options.port, options.tls), ALPNProtocols: ["h2", "http/1.1"] });
    let session: http2.ClientHttp2Session | undefined;
    const fail = (error: Error) => {
      clearTimeout(timer);
      session?.destroy();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new HandshakeError(0, "WS_ERR_HANDSHAKE_TIMEOUT", `no HTTP/2 SETTINGS within ${options.timeout} ms`)), options.timeout);
    socket.once("error", fail);
    socket.once("secureConnect", () => {
      if (socket.alpnProtocol !== "h2") {
        clearTimeout(timer);
        socket.off("error", fail);
        resolve({ kind: "http/1.1", socket, taken: false });
        return;
      }
      socket.allowHalfOpen = false; // kept for an HTTP/1.1 fallback only: the session must see the server's EOF as the end
      const host = net.isIPv6(options.hostname) ? `[${options.hostname}]` : options.hostname;
      const started = http2.connect(`https://${host}:${options.port}`, { createConnection: () => socket });
      session = started;
      started.once("error", fail);
      started.once("remoteSettings", () => {
        clearTimeout(timer);
        socket.off("error", fail);
        started.off("error", fail);
        started.on("error", () => {}); // its streams report it; the session leaves the pool on 'close'
        const pooled: Pooled = { session: started, connection: connectionOf(socket), open: 0 };
        started.unref(); // no stream yet: an idle session must not keep the process alive
        resolve({ kind: "h2", pooled });
      });
    });
  });
}

/** The pooled connection to an origin, made on first use; a closed or closing session leaves the pool. */
function sessionFor(options: Http2ConnectOptions): Promise<Established> {
  const key = keyOf(options);
  let entry = pool.get(key);
  if (entry === undefined) {
    const made = establish(options);
    entry = made;
    pool.set(key, made);
    const forget = () => {
      if (pool.get(key) === made) pool.delete(key);
    };
    made.then((established) => {
      if (established.kind !== "h2") return forget();
      established.pooled.session.once("close", forget);
      established.pooled.session.once("goaway", forget);
    }, forget);
  }
  return entry;
}

/**
 * Opens a WebSocket as an HTTP/2 stream: sends the extended CONNECT on the
 * origin's pooled session (opening it on first use) and resolves with the
 * answered stream, or with the TLS connection when the server chose
 * HTTP/1.1, or says that the server's HTTP/2 does not enable extended
 * CONNECT.
 *
 * @param options Host, port, TLS options, the request's fields, a timeout.
 * @returns What came of it.
 */
export async function openHttp2Stream(options: Http2ConnectOptions): Promise<Http2Opening> {
  let established = await sessionFor(options);
  if (established.kind === "http/1.1") {
    // Concurrent openings may share a pending connection; only the first gets its socket.
    if (established.taken) established = await establish(options);
    if (established.kind === "http/1.1") {
      established.taken = true;
      return { kind: "http/1.1", transport: new NodeTransport(established.socket), reason: "the server chose HTTP/1.1 (ALPN)" };
    }
  }
  const pooled = established.pooled;
  const session = pooled.session;
  if (session.closed || session.destroyed) throw new WebSocketError("WS_ERR_HTTP2_SESSION_CLOSED", "the HTTP/2 connection closed before the stream could open");
  if (!session.remoteSettings.enableConnectProtocol) {
    if (pooled.open === 0) session.close();
    return { kind: "unavailable", reason: "the server's HTTP/2 SETTINGS do not enable the extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 section 3)" };
  }
  const stream = session.request(toHeaderObject(options.fields), { endStream: false });
  pooled.open++;
  session.ref();
  stream.once("close", () => {
    if (--pooled.open === 0 && !session.destroyed) session.unref();
  });
  return await new Promise<Http2Opening>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new HandshakeError(0, "WS_ERR_HANDSHAKE_TIMEOUT", `no response to the extended CONNECT within ${options.timeout} ms`));
    }, options.timeout);
    const early = (error?: Error) => {
      clearTimeout(timer);
      const code = stream.rstCode ?? 0;
      reject(new HandshakeError(0, "WS_ERR_HANDSHAKE_EOF", `the stream closed before the response${code ? ` (RST_STREAM code ${code})` : ""}${error ? `: ${error.message}` : ""}`));
    };
    stream.once("error", early);
    stream.once("close", early);
    stream.once("response", (headers: http2.IncomingHttpHeaders) => {
      clearTimeout(timer);
      stream.off("error", early);
      stream.off("close", early);
      const transport = new NodeHttp2StreamTransport(stream, toFields(headers), pooled.connection, true);
      resolve({ kind: "stream", status: Number(headers[":status"]), transport });
    });
  });
}

/**
 * Closes every pooled HTTP/2 connection of this process (GOAWAY; streams
 * still open finish first).
 *
 * @returns Resolves when they are closed.
 * @example
 * ```ts
 * await closeHttp2Sessions(); // e.g. at the end of a test
 * ```
 */
export async function closeHttp2Sessions(): Promise<void> {
  const entries = [...pool.values()];
  pool.clear();
  await Promise.all(entries.map(async (entry) => {
    const established = await entry.catch(() => undefined);
    if (established?.kind === "http/1.1" && !established.taken) established.socket.destroy();
    if (established?.kind !== "h2") return;
    const session = established.pooled.session;
    if (session.closed || session.destroyed) return;
    await new Promise<void>((resolve) => {
      session.once("close", () => resolve());
      session.ref(); // until it is closed
      session.close();
    });
  }));
}
