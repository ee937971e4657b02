/**
 * The behaviour every {@link Network} and its transports must show, as
 * functions a test file runs against each adapter (memory, node, deno,
 * bun) over real connections on 127.0.0.1. Nothing here asserts a
 * duration: events are awaited with generous timeouts, and the only waits
 * are there to give an event the chance to happen when it must not.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ClientTlsOptions, Network, ServerTlsOptions, Transport, TransportEvents } from "../src/transport/transport.ts";

/** What to run the contract against. */
export interface ContractTarget {
  network: Network;
  /** Listen with this network instead (a cross-adapter pair); `network` connects. */
  listenNetwork?: Network;
  /** Real sockets: addresses are IPs and the ports are the listener's. */
  real: boolean;
  /** TLS for the listener and the client (both or neither). */
  tls?: { server: ServerTlsOptions; client: ClientTlsOptions };
}

const TIMEOUT = 30_000;
const QUIET = 300; // how long "nothing happens" is watched for

/** Rejects when `promise` takes longer than {@link TIMEOUT}. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Deterministic bytes: the stream position decides the value, so order and completeness are checkable. */
export function pattern(offset: number, length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = ((offset + i) * 7 + seed) % 251;
  return bytes;
}

/** Records what a transport reports and checks the event order rules as it goes. */
export class Recorder implements TransportEvents {
  received = 0;
  mismatchAt = -1; // first stream offset whose byte differs from pattern(seed)
  dataEvents = 0;
  drains = 0;
  ends = 0;
  closes = 0;
  closeError: Error | undefined;
  readonly violations: string[] = [];
  readonly text: string[] = [];
  #waiters: { ready: () => boolean; resolve: () => void }[] = [];

  constructor(readonly seed = 0, readonly onData?: (chunk: Uint8Array) => void) {}

  data(chunk: Uint8Array): void {
    if (this.closes > 0) this.violations.push("data after close");
    if (this.ends > 0) this.violations.push("data after end");
    this.dataEvents++;
    if (this.mismatchAt < 0) {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== ((this.received + i) * 7 + this.seed) % 251) {
          this.mismatchAt = this.received + i;
          break;
        }
      }
    }
    this.received += chunk.length;
    this.onData?.(chunk);
    this.#check();
  }

  drain(): void {
    if (this.closes > 0) this.violations.push("drain after close");
    this.drains++;
    this.#check();
  }

  end(): void {
    if (this.closes > 0) this.violations.push("end after close");
    if (this.ends > 0) this.violations.push("end twice");
    this.ends++;
    this.#check();
  }

  close(error?: Error): void {
    this.closes++;
    if (this.closes > 1) this.violations.push("close twice");
    this.closeError ??= error;
    this.#check();
  }

  /** Resolves once `ready()` holds (checked after every event). */
  until(ready: () => boolean, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.#waiters.push({ ready, resolve })), what);
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => (w.ready() ? (w.resolve(), false) : true));
  }

  /** Fails on any order violation or corrupted byte seen so far. */
  assertClean(who: string): void {
    assert.deepEqual(this.violations, [], `${who}: event order`);
    assert.equal(this.mismatchAt, -1, `${who}: bytes differ from the sent pattern at offset ${this.mismatchAt}`);
  }
}

/** A connected pair: the client transport and the transport the listener accepted. */
export interface Pair {
  client: Transport;
  server: Transport;
  listenerPort: number;
}

/**
 * Listens on port 0, connects, runs `body` with the pair (neither side
 * started: `body` starts them), then destroys both and closes the listener.
 */
export async function withPair(target: ContractTarget, body: (pair: Pair) => Promise<void>): Promise<void> {
  const accepted: Transport[] = [];
  let onAccept: (() => void) | undefined;
  const listener = await (target.listenNetwork ?? target.network).listen(
    { hostname: "127.0.0.1", port: 0, tls: target.tls?.server },
    (transport) => {
      accepted.push(transport);
      onAccept?.();
    },
  );
  let client: Transport | undefined;
  try {
    client = await within(target.network.connect({ hostname: "127.0.0.1", port: listener.port, tls: target.tls?.client }), "connect");
    if (accepted.length === 0) await within(new Promise<void>((resolve) => (onAccept = resolve)), "accept");
    await body({ client, server: accepted[0]!, listenerPort: listener.port });
  } finally {
    client?.destroy();
    for (const transport of accepted) transport.destroy();
    await listener.close();
  }
}

/** Many small writes in one tick, both ways at once, arrive complete and in order. */
export async function bytesBothWays(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atClient = new Recorder(2);
    const atServer = new Recorder(1);
    client.start(atClient);
    server.start(atServer);
    const send = (transport: Transport, seed: number): number => {
      let offset = 0;
      for (let i = 0; i < 3000; i++) {
        const length = 1 + ((i * 37) % 200);
        if (i % 5 === 0) {
          const half = length >> 1;
          transport.write([pattern(offset, half, seed), pattern(offset + half, length - half, seed)]);
        } else {
          transport.write([pattern(offset, length, seed)]);
        }
        offset += length;
      }
      return offset;
    };
    const toServer = send(client, 1);
    const toClient = send(server, 2);
    await atServer.until(() => atServer.received >= toServer, "bytes at the server");
    await atClient.until(() => atClient.received >= toClient, "bytes at the client");
    assert.equal(atServer.received, toServer);
    assert.equal(atClient.received, toClient);
    atServer.assertClean("server");
    atClient.assertClean("client");
    assert.equal(atServer.closes + atClient.closes, 0, "nothing closed");
    if (target.tls) assert.ok(client.secure && server.secure, "both ends report TLS");
    else assert.ok(!client.secure && !server.secure, "neither end reports TLS");
  });
}

/** One 4 MiB write arrives intact. */
export async function largeWrite(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atServer = new Recorder(3);
    client.start(new Recorder());
    server.start(atServer);
    const size = 4 * 1024 * 1024;
    client.write([pattern(0, size, 3)]);
    await atServer.until(() => atServer.received >= size, "4 MiB at the server");
    assert.equal(atServer.received, size);
    atServer.assertClean("server");
  });
}

/** `write([a, b, c])` arrives as a + b + c, also with empty and large parts. */
export async function multiChunkWrite(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atServer = new Recorder(4);
    client.start(new Recorder());
    server.start(atServer);
    const sizes = [3, 0, 70_000, 1, 20_000, 5];
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const size of sizes) {
      chunks.push(pattern(offset, size, 4));
      offset += size;
    }
    client.write(chunks.slice(0, 3));
    client.write(chunks.slice(3));
    await atServer.until(() => atServer.received >= offset, "the chunks at the server");
    assert.equal(atServer.received, offset);
    atServer.assertClean("server");
  });
}

/** A paused reader makes the writer buffer; `drain` follows `resume()`; nothing is lost. */
export async function backpressure(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atClient = new Recorder();
    const atServer = new Recorder(5);
    server.pause(); // before start: no byte may be delivered
    server.start(atServer);
    client.start(atClient);
    const piece = 256 * 1024;
    const total = 32 * 1024 * 1024; // more than loopback socket buffers hold
    for (let offset = 0; offset < total; offset += piece) client.write([pattern(offset, piece, 5)]);
    assert.ok(client.bufferedAmount > 0, "bufferedAmount counts what the OS did not take");
    await sleep(QUIET);
    assert.equal(atServer.dataEvents, 0, "no data event while paused");
    assert.ok(client.bufferedAmount > 0, "the writer is still backed up while the reader is paused");
    assert.equal(atClient.drains, 0, "no drain while the peer is paused");
    server.resume();
    await atClient.until(() => atClient.drains > 0, "drain after resume");
    await atServer.until(() => atServer.received >= total, "all bytes after resume");
    assert.equal(client.bufferedAmount, 0);
    assert.equal(atServer.received, total);
    atServer.assertClean("server");
    atClient.assertClean("client");
  });
}

/**
 * For a runtime whose writer does not reliably push back (its
 * `bufferedAmount` may drop to 0 while the reader is paused, the bytes
 * waiting in the runtime's own buffer): the pause still holds, and nothing
 * is lost after resume.
 */
export async function pausedReaderLosesNothing(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atServer = new Recorder(5);
    server.pause();
    server.start(atServer);
    client.start(new Recorder());
    const piece = 256 * 1024;
    const total = 32 * 1024 * 1024;
    for (let offset = 0; offset < total; offset += piece) client.write([pattern(offset, piece, 5)]);
    await sleep(QUIET);
    assert.equal(atServer.dataEvents, 0, "no data event while paused");
    server.resume();
    await atServer.until(() => atServer.received >= total, "all bytes after resume");
    atServer.assertClean("server");
  });
}

/** `pause()` stops `data` events until `resume()`, from outside or inside a handler, and nothing is lost. */
export async function pauseStopsDelivery(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    let pauseInHandler = false;
    let eventsAtPause = 0;
    const atServer = new Recorder(6, () => {
      if (!pauseInHandler) return;
      pauseInHandler = false;
      server.pause();
      eventsAtPause = atServer.dataEvents;
    });
    client.start(new Recorder());
    server.start(atServer);
    let offset = 0;
    const send = (pieces: number) => {
      for (let i = 0; i < pieces; i++) {
        client.write([pattern(offset, 5000, 6)]);
        offset += 5000;
      }
    };
    send(1);
    await atServer.until(() => atServer.received >= offset, "the first bytes");
    await sleep(10); // the reader is idle: a read may be in flight
    server.pause();
    eventsAtPause = atServer.dataEvents;
    send(50);
    await sleep(QUIET);
    assert.equal(atServer.dataEvents, eventsAtPause, "no data event while paused (paused from outside)");
    server.resume();
    await atServer.until(() => atServer.received >= offset, "the rest after resume");
    pauseInHandler = true;
    send(50);
    await atServer.until(() => !pauseInHandler, "the pausing chunk");
    await sleep(QUIET);
    assert.equal(atServer.dataEvents, eventsAtPause, "no data event while paused (paused in a data handler)");
    server.resume();
    await atServer.until(() => atServer.received >= offset, "the rest after the second resume");
    assert.equal(atServer.received, offset);
    atServer.assertClean("server");
  });
}

/** `end()` on one side: the other gets the bytes, then `end`; it ends too; both close once, cleanly. */
export async function endThenClose(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atClient = new Recorder();
    const atServer = new Recorder(8);
    client.start(atClient);
    server.start({
      ...bind(atServer),
      end: () => {
        atServer.end();
        server.end();
      },
    });
    client.write([pattern(0, 100_000, 8)]);
    client.end();
    await atServer.until(() => atServer.ends > 0, "end at the server");
    assert.equal(atServer.received, 100_000, "every byte before end");
    await atServer.until(() => atServer.closes > 0, "close at the server");
    await atClient.until(() => atClient.closes > 0, "close at the client");
    await sleep(50);
    assert.equal(atServer.closes, 1);
    assert.equal(atClient.closes, 1);
    assert.equal(atServer.closeError, undefined, "server closed without error");
    assert.equal(atClient.closeError, undefined, "client closed without error");
    atServer.assertClean("server");
    atClient.assertClean("client");
  });
}

/** After the peer's `end`, this side can still write (half-open) before ending in turn. */
export async function halfClose(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atClient = new Recorder(9);
    const atServer = new Recorder();
    client.start(atClient);
    server.start({
      ...bind(atServer),
      end: () => {
        atServer.end();
        setTimeout(() => {
          server.write([pattern(0, 200_000, 9)]); // a reply after the peer's FIN
          server.end();
        }, 20);
      },
    });
    client.write([pattern(0, 5)]);
    client.end();
    await atClient.until(() => atClient.closes > 0, "close at the client");
    assert.equal(atClient.received, 200_000, "the reply written after the peer's FIN arrives");
    assert.equal(atClient.ends, 1, "the client saw the server's FIN");
    await atServer.until(() => atServer.closes > 0, "close at the server");
    assert.equal(atServer.closeError, undefined);
    assert.equal(atClient.closeError, undefined);
    atClient.assertClean("client");
    atServer.assertClean("server");
  });
}

/**
 * `destroy()` closes both sides, once each. Over TCP the peer may see the
 * close as a FIN (`end`), as any half-close: it answers with `end()`, as the
 * services do, and then closes.
 */
export async function destroyCloses(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atClient = new Recorder();
    const atServer = new Recorder();
    client.start({ ...bind(atClient), end: () => (atClient.end(), client.end()) });
    server.start(atServer);
    client.write([pattern(0, 1000)]);
    await atServer.until(() => atServer.received >= 1000, "bytes before destroy");
    server.write([pattern(0, 8 * 1024 * 1024)]); // pending writes are dropped
    server.destroy();
    await atServer.until(() => atServer.closes > 0, "close at the destroyed side");
    await atClient.until(() => atClient.closes > 0, "close at the peer");
    server.destroy();
    await sleep(50);
    assert.equal(atServer.closes, 1);
    assert.equal(atClient.closes, 1);
    assert.equal(server.bufferedAmount, 0, "pending writes dropped");
    assert.deepEqual(atServer.violations, []);
    assert.deepEqual(atClient.violations, []);
  });
}

/** Addresses and ports of both ends match each other and the listener. */
export async function addresses(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server, listenerPort }) => {
    assert.equal(server.remotePort, client.localPort, "server's remote port is the client's local port");
    assert.equal(client.remotePort, server.localPort, "client's remote port is the server's local port");
    assert.equal(server.remoteAddress, client.localAddress);
    assert.equal(client.remoteAddress, server.localAddress);
    if (target.real) {
      assert.equal(client.remoteAddress, "127.0.0.1");
      assert.equal(server.remoteAddress, "127.0.0.1");
      assert.equal(client.remotePort, listenerPort);
      assert.ok(listenerPort > 0, "port 0 was replaced by the bound port");
      assert.ok(client.raw !== null && client.raw !== undefined, "raw is the runtime's socket");
    }
  });
}

/** After `Listener.close()`, connecting fails; connections already accepted keep working. */
export async function listenerClose(target: ContractTarget): Promise<void> {
  const accepted: Transport[] = [];
  const listener = await target.network.listen({ hostname: "127.0.0.1", port: 0, tls: target.tls?.server }, (t) => accepted.push(t));
  const client = await within(target.network.connect({ hostname: "127.0.0.1", port: listener.port, tls: target.tls?.client }), "connect");
  try {
    const atClient = new Recorder(10);
    client.start(atClient);
    await within((async () => { while (accepted.length === 0) await sleep(5); })(), "accept");
    // Not awaited yet: node:net's server.close() resolves only once every connection has closed.
    const closing = listener.close();
    await assert.rejects(
      within(target.network.connect({ hostname: "127.0.0.1", port: listener.port, tls: target.tls?.client }), "connect after close"),
      "connect after Listener.close() fails",
    );
    const server = accepted[0]!;
    server.start(new Recorder());
    server.write([pattern(0, 1000, 10)]);
    await atClient.until(() => atClient.received >= 1000, "bytes on the earlier connection");
    atClient.assertClean("client");
    client.destroy();
    server.destroy();
    await within(closing, "Listener.close()");
  } finally {
    client.destroy();
    for (const t of accepted) t.destroy();
  }
}

/** `write()` after `end()` is ignored: the bytes before it and the end still arrive, nothing fails. */
export async function writeAfterEnd(target: ContractTarget): Promise<void> {
  await withPair(target, async ({ client, server }) => {
    const atClient = new Recorder();
    const atServer = new Recorder(11);
    client.start(atClient);
    server.start(atServer);
    client.write([pattern(0, 1000, 11)]);
    client.end();
    client.write([pattern(1000, 1000, 11)]);
    await atServer.until(() => atServer.ends > 0, "end at the server");
    assert.equal(atServer.received, 1000, "only the bytes written before end()");
    server.end();
    await atClient.until(() => atClient.closes > 0, "close at the client");
    assert.equal(atClient.closeError, undefined, "no error from the ignored write");
    atServer.assertClean("server");
  });
}

/** `connect` rejects (e.g. an untrusted certificate), matching `message`. */
export async function connectRejects(target: ContractTarget, client: ClientTlsOptions, message: RegExp): Promise<void> {
  const accepted: Transport[] = [];
  const listener = await target.network.listen({ hostname: "127.0.0.1", port: 0, tls: target.tls?.server }, (t) => {
    accepted.push(t);
    t.start(new Recorder());
  });
  try {
    await assert.rejects(within(target.network.connect({ hostname: "127.0.0.1", port: listener.port, tls: client }), "connect"), message);
  } finally {
    for (const t of accepted) t.destroy();
    await listener.close();
  }
}

/** Binds a recorder's methods, to spread it into an events object with one override. */
function bind(recorder: Recorder): TransportEvents {
  return {
    data: (chunk) => recorder.data(chunk),
    drain: () => recorder.drain(),
    end: () => recorder.end(),
    close: (error) => recorder.close(error),
  };
}

/**
 * A server with `requestCert` refuses a client that has no certificate:
 * `connect` rejects, or (TLS 1.3, where the client finishes first) the
 * connection closes; the server never sees the client's bytes.
 */
export async function missingClientCert(target: ContractTarget): Promise<void> {
  const atServer = new Recorder();
  const accepted: Transport[] = [];
  const listener = await (target.listenNetwork ?? target.network).listen({ hostname: "127.0.0.1", port: 0, tls: target.tls?.server }, (t) => {
    accepted.push(t);
    t.start(atServer);
  });
  try {
    let client: Transport | undefined;
    try {
      client = await within(target.network.connect({ hostname: "127.0.0.1", port: listener.port, tls: target.tls?.client }), "connect");
    } catch {
      return; // refused during the handshake
    }
    const atClient = new Recorder();
    client.start(atClient);
    client.write([pattern(0, 100)]);
    // Transports are half-open: after the server's refusal (EOF) the client ends its side too.
    await atClient.until(() => atClient.ends > 0 || atClient.closes > 0, "the refused client's end");
    client.end();
    await atClient.until(() => atClient.closes > 0, "the refused client's close");
    assert.equal(atServer.received, 0, "the server got no byte from a client without a certificate");
  } finally {
    for (const t of accepted) t.destroy();
    await listener.close();
  }
}
