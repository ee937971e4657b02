/**
 * Deno adapter: `Deno.listen`/`Deno.listenTls` and `Deno.connect`/
 * `Deno.connectTls` connections as wsport transports.
 *
 * Not offered by Deno, so refused with an error rather than faked:
 * servers cannot request client certificates (`requestCert`,
 * denoland/deno#26825), and clients cannot skip certificate verification
 * (`rejectUnauthorized: false`; only the `--unsafely-ignore-certificate-errors`
 * flag does that). The node network (`node:tls`) on Deno covers both,
 * and reads peer certificates, which Deno's own TLS connections do not expose
 * (`DenoTransport.peerCertificate` is always undefined). These refusals are
 * {@link WebSocketError}s with the code `WS_ERR_TLS_UNSUPPORTED`.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { zlibCodec } from "./zlib.ts";
import process from "node:process";
import { isMainThread } from "node:worker_threads";
import { loadBufferutil } from "../src/transport/native_mask.ts";
import { sha1From } from "../src/transport/native_sha1.ts";
import { createHash } from "node:crypto";
import { preparePrivilegeDrop } from "../src/transport/privileges.ts";
import { WebSocketError } from "../src/core/errors.ts";
import { NO_WRITEV_COALESCE_LIMIT } from "../src/transport/write_queue.ts";
import { BaseTransport } from "../src/transport/base_transport.ts";
import type { ConnectOptions, Listener, ListenOptions, Network, ReusePortSupport, Transport } from "../src/transport/transport.ts";
import { nodeHttp2Support } from "./http2_support.ts";

// --- types (the part of the Deno namespace used here; `deno check` has the real one) ---

interface DenoAddr {
  hostname: string;
  port: number;
}
/** The `Deno.Conn` (`TcpConn` or `TlsConn`) members used here. */
export interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  readonly localAddr: DenoAddr;
  readonly remoteAddr: DenoAddr;
  setNoDelay?(noDelay?: boolean): void;
  handshake?(): Promise<unknown>;
}
interface DenoListener {
  accept(): Promise<DenoConn>;
  close(): void;
  readonly addr: DenoAddr;
}
interface DenoApi {
  listen(options: { hostname: string; port: number }): DenoListener;
  listenTls(options: { hostname: string; port: number; cert: string; key: string }): DenoListener;
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  connectTls(options: { hostname: string; port: number; caCerts?: string[]; cert?: string; key?: string }): Promise<DenoConn>;
  startTls(conn: DenoConn, options: { hostname: string; caCerts?: string[] }): Promise<DenoConn>;
  resolveDns(query: string, recordType: "PTR"): Promise<string[]>;
  /** Present only with the unstable "net" feature (`--unstable-net`, or `"unstable": ["net"]` in deno.json). */
  readonly listenDatagram?: unknown;
  hostname(): string;
  readonly build: { readonly os: string };
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

// --- transport ---


/**
 * `conn.read()` into a reused buffer, not `conn.readable`: on 127.0.0.1
 * ping-pong with 32-byte messages (Deno 2.9) `read` made ~32k round trips/s
 * and a `readable` reader ~10k. Each chunk is copied out (`slice`) because
 * the service keeps it. The buffer starts at 2 KiB and grows to 64 KiB
 * once a read fills it, so idle connections stay small.
 */
const MAX_READ = 64 * 1024;

/** A `Deno.Conn` as a {@link Transport}: the runtime glue of {@link BaseTransport}. */
export class DenoTransport extends BaseTransport {
  readonly raw: DenoConn;
  #buffer = new Uint8Array(2 * 1024);
  #looping = false;

  constructor(conn: DenoConn, secure = false) {
    // Each conn.write is an async op: a frame header and a payload up to this size leave as one.
    super({ secure, coalesceLimit: NO_WRITEV_COALESCE_LIMIT });
    this.raw = conn;
    conn.setNoDelay?.(true);
  }

  protected writeSome(chunk: Uint8Array): Promise<number> {
    return this.raw.write(chunk); // may take part of it; the rest stays queued, in order
  }

  protected shutdownWrite(): Promise<void> {
    return this.raw.closeWrite();
  }

  protected stopReading(): void {
    // The read loop stops after the read in flight (whose bytes are held).
  }

  protected startReading(): void {
    void this.#readLoop();
  }

  protected release(): void {
    this.raw.close();
  }

  async #readLoop(): Promise<void> {
    if (this.#looping) return;
    this.#looping = true;
    try {
      while (this.reading) {
        let n: number | null;
        try {
          n = await this.raw.read(this.#buffer);
        } catch (error) {
          return this.failed(error); // (only read errors: a handler's exception is not a socket error)
        }
        if (this.isClosed) return;
        if (n === null) return this.receivedEnd();
        const chunk = this.#buffer.slice(0, n);
        if (n === this.#buffer.length && n < MAX_READ) this.#buffer = new Uint8Array(MAX_READ);
        this.received(chunk);
      }
    } finally {
      this.#looping = false;
    }
  }

  get remoteAddress(): string {
    return this.raw.remoteAddr.hostname;
  }

  get remotePort(): number {
    return this.raw.remoteAddr.port;
  }

  get localAddress(): string {
    return this.raw.localAddr.hostname;
  }

  get localPort(): number {
    return this.raw.localAddr.port;
  }
}

// --- network ---

function listen(options: ListenOptions, accept: (transport: Transport) => void): Promise<Listener> {
  const { hostname, port, tls } = options;
  if (tls?.requestCert) {
    return Promise.reject(
      new WebSocketError(
        "WS_ERR_TLS_UNSUPPORTED",
        "Deno.listenTls cannot request client certificates (denoland/deno#26825): use the node network (node:tls) for requestCert",
      ),
    );
  }
  const shared = options.reusePort ? { reusePort: true } : {};
  let listener: DenoListener;
  try {
    listener = tls ? Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key, ...shared }) : Deno.listen({ hostname, port, ...shared });
  } catch (error) {
    return Promise.reject(error);
  }
  let open = true;
  const loop = (async () => {
    while (open) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch {
        if (!open) return;
        await new Promise((resolve) => setTimeout(resolve, 50)); // e.g. EMFILE: retry later, do not spin
        continue;
      }
      if (open) accept(new DenoTransport(conn, tls !== undefined));
      else conn.close();
    }
  })();
  return Promise.resolve({
    hostname: listener.addr.hostname,
    port: listener.addr.port,
    raw: listener,
    close: async () => {
      if (!open) return;
      open = false;
      listener.close();
      await loop;
    },
  });
}

async function connect(options: ConnectOptions): Promise<Transport> {
  const { hostname, port, tls } = options;
  if (!tls) return new DenoTransport(await Deno.connect({ hostname, port }));
  if (tls.rejectUnauthorized === false) {
    throw new WebSocketError(
      "WS_ERR_TLS_UNSUPPORTED",
      "Deno cannot skip TLS certificate verification per connection (rejectUnauthorized: false); " +
        "pass the server's certificate as `ca` instead (or run Deno with --unsafely-ignore-certificate-errors)",
    );
  }
  const caCerts = tls.ca === undefined ? undefined : [tls.ca].flat();
  const servername = tls.servername ?? hostname;
  let conn: DenoConn;
  if (servername === hostname) {
    conn = await Deno.connectTls({ hostname, port, caCerts, ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}) });
  } else if (tls.cert || tls.key) {
    throw new WebSocketError("WS_ERR_TLS_UNSUPPORTED", "Deno cannot combine a servername different from the host with a client certificate");
  } else {
    // Deno.connectTls has no separate server name; startTls verifies and sends SNI for `hostname`.
    conn = await Deno.startTls(await Deno.connect({ hostname, port }), { hostname: servername, caCerts });
  }
  try {
    await conn.handshake?.(); // fail here, as node:tls does, not on the first read
  } catch (error) {
    conn.close();
    throw error;
  }
  return new DenoTransport(conn, true);
}

/**
 * The Deno network: `Deno.listen(Tls)` / `Deno.connect(Tls)`, and the
 * `node:buffer` UTF-8 check (0.83 GB/s against 0.53 for a fatal TextDecoder
 * on 1 MiB of mixed UTF-8, Deno 2.9.6). `reusePort` needs `--unstable-net`
 * (Linux); reverse lookups ask the name servers (`Deno.resolveDns`, no
 * /etc/hosts); the uid/gid switch uses `node:process`, which has no
 * setgroups on Deno, so it is refused while supplementary groups remain.
 */
export const denoNetwork: Network = {
  name: "deno",
  get reusePort() {
    return denoReusePort();
  },
  listen,
  connect,
  sha1: sha1From(createHash),
  isUtf8,
  // below 512 bytes Deno's JIT masks faster than the native call.
  nativeMask: () => loadBufferutil(512),
  // Deno's node:zlib beat pako in every size and direction measured (bench/codec.md).
  deflateCodec: zlibCodec(),
  reverseLookup,
  hostname: () => Deno.hostname(),
  // node:process of Deno 2 has setgid/setuid but no setgroups: refused while supplementary groups remain.
  prepareDropPrivileges: (ids) => preparePrivilegeDrop(process, ids, "deno", isMainThread),
  // HTTP/2 (RFC 8441) through the runtime's node:http2 and node:tls, loaded on first use.
  ...nodeHttp2Support,
};

/** Linux only; and without the unstable "net" feature Deno exits the process on reusePort instead of throwing. */
function denoReusePort(): ReusePortSupport {
  if (Deno.build.os !== "linux") return { supported: false, reason: `Deno.listen's reusePort works on Linux only (Deno ignores it on ${Deno.build.os})` };
  if (Deno.listenDatagram === undefined) {
    return {
      supported: false,
      reason: "Deno.listen's reusePort is unstable: run Deno with --unstable-net (or use the node network, whose node:net has reusePort on Deno)",
    };
  }
  return { supported: true };
}

/** PTR names of an address, asked of the system's name servers (`Deno.resolveDns` reads no /etc/hosts). */
async function reverseLookup(address: string): Promise<string[]> {
  const names = await Deno.resolveDns(reverseName(address), "PTR");
  return names.map((name) => name.replace(/\.$/, ""));
}

/**
 * The DNS name of an address's PTR record (RFC 1035 3.5, RFC 3596 2.5):
 * `1.0.0.127.in-addr.arpa` for 127.0.0.1, one label per nibble under
 * `ip6.arpa` for IPv6.
 */
function reverseName(address: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(address);
  if (v4) return `${v4[4]}.${v4[3]}.${v4[2]}.${v4[1]}.in-addr.arpa`;
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, ""); // brackets and zone id are not part of the address
  const halves = bare.split("::");
  const groupsOf = (part: string | undefined) => (part ? part.split(":") : []);
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const missing = 8 - head.length - tail.length;
  const groups = halves.length === 2 ? [...head, ...Array(Math.max(0, missing)).fill("0"), ...tail] : head;
  if (halves.length > 2 || groups.length !== 8 || !groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) {
    throw new TypeError(`not an IP address: ${address}`);
  }
  const nibbles = groups.map((group) => group.padStart(4, "0")).join("").toLowerCase();
  return `${[...nibbles].reverse().join(".")}.ip6.arpa`;
}
