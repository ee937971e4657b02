// wss:// end to end over this runtime's adapter, with certificates made at
// run time (test/certificate.ts): a self-signed one, and a small CA with a
// server certificate, a client certificate (CN=alice) and a stranger's
// client certificate from another CA (CN=mallory).
//
// Client certificates on the server (requestCert) run on the runtime's own
// network on Node and Bun. Deno.listenTls cannot ask for them: on Deno one
// test checks that clear error, and the others run the server on the node
// network (Deno's node:tls), as the error advises, with Deno's own client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { nodeNetwork } from "../adapters/node.ts";
import { runtimeNetwork } from "../mod.ts";
import { connect } from "../src/services/client.ts";
import { HandshakeError, WebSocketError } from "../src/core/errors.ts";
import { type Server, serve } from "../src/services/server.ts";
import type { PeerInfo } from "../src/transport/transport.ts";
import type { ClientTlsOptions, Network, PeerCertificate, ServerTlsOptions } from "../src/transport/transport.ts";
import { opensslMissing, testCertificate, testPki } from "./certificate.ts";
import { until, within } from "./helpers.ts";
import { PEERS_REQUIRED, skipUnlessPeer } from "./peers/requirements.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun ? "bun" : g.Deno ? "deno" : "node";
const OPENSSL_MISSING = opensslMissing();
/** Skips without openssl, except under CI=true (then the certificates fail to be made, and so does the run). */
const certificatesHere = OPENSSL_MISSING === undefined || PEERS_REQUIRED;
const selfSigned = certificatesHere ? testCertificate() : { cert: "", key: "" };
const pki = certificatesHere ? testPki() : undefined;
const { cert, key } = selfSigned;

/** Where a server that requests client certificates listens: Deno.listenTls cannot, Deno's node:tls can. */
async function clientCertNetwork(): Promise<Network> {
  return runtime === "deno" ? nodeNetwork : await runtimeNetwork();
}

async function tlsServer() {
  return await serve({
    network: await runtimeNetwork(),
    hostname: "127.0.0.1",
    tls: { cert, key },
    pingInterval: 0,
    protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }],
    fetch: () => new Response("over TLS"),
  });
}

/** What a client-certificate server saw. */
interface Seen {
  /** `ws.transport.peerCertificate` in each `open`. */
  opened: (PeerCertificate | undefined)[];
  /** The `peer` given to each `verifyClient` call, with the certificate. */
  verified: { certificate: PeerCertificate | undefined; peer: PeerInfo }[];
}

/**
 * A wss:// server with the CA-signed certificate that asks clients for
 * theirs. Its protocol answers "who" with the CN it saw, through
 * `peer.peerCertificate` in `data()`.
 */
async function clientCertServer(tls: Partial<ServerTlsOptions> = {}, network?: Network): Promise<{ server: Server; seen: Seen }> {
  const seen: Seen = { opened: [], verified: [] };
  const verifyClient = tls.verifyClient;
  const server = await serve({
    network: network ?? await clientCertNetwork(),
    hostname: "127.0.0.1",
    pingInterval: 0,
    tls: {
      cert: pki!.server.cert,
      key: pki!.server.key,
      ca: pki!.ca,
      requestCert: true,
      ...tls,
      verifyClient: verifyClient && ((certificate, peer) => {
        seen.verified.push({ certificate, peer });
        return verifyClient(certificate, peer);
      }),
    },
    protocols: [{
      name: "who",
      data: (_request, peer) => ({ cn: peer.peerCertificate?.subject.CN }),
      open: (ws) => void seen.opened.push(ws.transport.peerCertificate),
      message: (ws, message) => void ws.send(message === "who" ? String(ws.data.cn) : message),
    }],
  });
  return { server, seen };
}

async function clientOptions(tls: ClientTlsOptions) {
  return { network: await runtimeNetwork(), tls, pingInterval: 0, handshakeTimeout: 5000 };
}

/** Connects, asks "who", closes; resolves with the answer. */
async function whoAmI(server: Server, tls: ClientTlsOptions): Promise<string> {
  const ws = await within(connect(`wss://localhost:${server.port}/`, await clientOptions(tls)), 10_000, "a TLS connection");
  const messages = ws[Symbol.asyncIterator]();
  ws.send("who");
  const answer = (await within(messages.next())).value as string;
  ws.close();
  await within(ws.closed);
  return answer;
}

/** The connection fails (TLS alert, reset or EOF, not a timeout) and the server opens no WebSocket. */
async function refused(server: Server, seen: Seen, tls: ClientTlsOptions): Promise<void> {
  const opened = seen.opened.length;
  await assert.rejects(
    within(connect(`wss://localhost:${server.port}/`, await clientOptions(tls)), 10_000, "the refusal"),
    (error: unknown) => error instanceof Error && !(error instanceof HandshakeError && error.code === "WS_ERR_HANDSHAKE_TIMEOUT"),
  );
  assert.equal(seen.opened.length, opened, "no WebSocket was opened");
  assert.equal(server.connections.size, 0);
}

function assertIsAlice(certificate: PeerCertificate | undefined): void {
  assert.ok(certificate, "the client's certificate");
  assert.equal(certificate.subject.CN, "alice");
  assert.equal(certificate.subject.O, "wsport tests");
  assert.equal(certificate.issuer.CN, "wsport test CA");
  assert.equal(certificate.authorized, true);
  assert.equal(certificate.authorizationError, undefined);
  assert.ok(certificate.raw instanceof Uint8Array && certificate.raw.length > 0);
  assert.equal(certificate.raw[0], 0x30, "DER: a SEQUENCE");
  const digest = createHash("sha256").update(certificate.raw).digest("hex").toUpperCase().match(/../g)!.join(":");
  assert.equal(certificate.fingerprint256, digest);
  assert.match(certificate.serialNumber, /^[0-9A-F]+$/);
  assert.ok(certificate.validFrom.getTime() < certificate.validTo.getTime());
  assert.ok(!Number.isNaN(certificate.validFrom.getTime()));
}

test("wss:// with the server's certificate as CA: handshake, echo, close", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const server = await tlsServer();
  try {
    const ws = await within(connect(`wss://localhost:${server.port}/`, { network: await runtimeNetwork(), tls: { ca: cert }, pingInterval: 0 }), 10_000, "a TLS connection");
    assert.equal(ws.transport.secure, true);
    const messages = ws[Symbol.asyncIterator]();
    ws.send("secret");
    assert.equal((await within(messages.next())).value, "secret");
    ws.close();
    assert.equal((await within(ws.closed)).code, 1000);
    await until(() => server.connections.size === 0, "the server to drop the closed connection");
  } finally {
    await server.close();
  }
});

test("wss:// refuses a self-signed certificate unless told to accept it (ssl = 2)", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const server = await tlsServer();
  const network = await runtimeNetwork();
  try {
    await assert.rejects(connect(`wss://localhost:${server.port}/`, { network, handshakeTimeout: 5000 }), (error: unknown) => !(error instanceof HandshakeError) || error.code !== "WS_ERR_HANDSHAKE_TIMEOUT");
    if (runtime === "deno") {
      // Deno has no per-connection switch to skip verification: the adapter says so instead of pretending.
      await assert.rejects(connect(`wss://localhost:${server.port}/`, { network, tls: { rejectUnauthorized: false } }), (error: unknown) => {
        assert.ok(error instanceof WebSocketError);
        assert.equal(error.code, "WS_ERR_TLS_UNSUPPORTED");
        assert.match(error.message, /cannot skip TLS certificate verification.*rejectUnauthorized: false.*`ca`/);
        return true;
      });
    }
    // Deno's node:tls can; Node and Bun's own networks can.
    const insecure = runtime === "deno" ? nodeNetwork : network;
    const ws = await within(connect(`wss://127.0.0.1:${server.port}/`, { network: insecure, tls: { rejectUnauthorized: false }, pingInterval: 0 }));
    assert.equal(ws.readyState, 1);
    assert.equal(ws.transport.peerCertificate?.authorized, false, "the client sees the server certificate did not verify");
    ws.close();
    await within(ws.closed);
  } finally {
    await server.close();
  }
});

test("client with the CA in `ca` connects to a CA-signed server, by name and by IP, and sees its certificate", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const server = await serve({
    network: await runtimeNetwork(),
    hostname: "127.0.0.1",
    pingInterval: 0,
    tls: { cert: pki!.server.cert, key: pki!.server.key },
    protocols: [{ name: "echo", message: (ws, m) => void ws.send(m) }],
  });
  try {
    for (const host of ["localhost", "127.0.0.1"]) {
      const ws = await within(connect(`wss://${host}:${server.port}/`, await clientOptions({ ca: pki!.ca })), 10_000, `a TLS connection to ${host}`);
      const messages = ws[Symbol.asyncIterator]();
      ws.send(host);
      assert.equal((await within(messages.next())).value, host);
      const certificate = ws.transport.peerCertificate;
      if (runtime === "deno") {
        assert.equal(certificate, undefined, "Deno's TLS connections do not expose the peer certificate");
      } else {
        assert.equal(certificate?.subject.CN, "localhost");
        assert.equal(certificate?.issuer.CN, "wsport test CA");
        assert.equal(certificate?.authorized, true);
        assert.match(certificate?.subjectAltName ?? "", /DNS:localhost/);
      }
      ws.close();
      await within(ws.closed);
    }
    // Without the CA the same server is refused: `ca` is what made it trusted.
    await assert.rejects(connect(`wss://localhost:${server.port}/`, await clientOptions({})), (error: unknown) => !(error instanceof HandshakeError) || error.code !== "WS_ERR_HANDSHAKE_TIMEOUT");
  } finally {
    await server.close();
  }
});

test("required client certificate signed by the CA: accepted, and the application sees it", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const { server, seen } = await clientCertServer();
  try {
    const answer = await whoAmI(server, { ca: pki!.ca, cert: pki!.client.cert, key: pki!.client.key });
    assert.equal(answer, "alice", "data() saw peer.peerCertificate");
    assert.equal(seen.opened.length, 1);
    assertIsAlice(seen.opened[0]);
  } finally {
    await server.close();
  }
});

test("required client certificate: refused without one, with another CA's, and with a self-signed one", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const { server, seen } = await clientCertServer({ verifyClient: () => true });
  try {
    await refused(server, seen, { ca: pki!.ca });
    await refused(server, seen, { ca: pki!.ca, cert: pki!.stranger.cert, key: pki!.stranger.key });
    await refused(server, seen, { ca: pki!.ca, cert, key });
    // The server still serves a good client afterwards.
    assert.equal(await whoAmI(server, { ca: pki!.ca, cert: pki!.client.cert, key: pki!.client.key }), "alice");
    // The TLS handshake refused the others: the application saw only alice.
    assert.deepEqual(seen.verified.map((v) => v.certificate?.subject.CN), ["alice"]);
  } finally {
    await server.close();
  }
});

test("verifyClient sees the subject and can refuse a CA-signed certificate", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const { server, seen } = await clientCertServer({ verifyClient: (certificate) => certificate?.subject.CN === "bob" });
  try {
    await refused(server, seen, { ca: pki!.ca, cert: pki!.client.cert, key: pki!.client.key });
    assert.equal(seen.verified.length, 1);
    assertIsAlice(seen.verified[0]!.certificate);
    assert.equal(seen.verified[0]!.peer.remoteAddress.replace(/^::ffff:/, ""), "127.0.0.1");
    assert.equal(seen.verified[0]!.peer.peerCertificate, seen.verified[0]!.certificate);
  } finally {
    await server.close();
  }
});

test("verifyClient with rejectUnauthorized: false sees unverified and missing certificates and decides", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const { server, seen } = await clientCertServer({
    rejectUnauthorized: false,
    verifyClient: (certificate) => certificate?.authorized === true,
  });
  try {
    await refused(server, seen, { ca: pki!.ca });
    await refused(server, seen, { ca: pki!.ca, cert: pki!.stranger.cert, key: pki!.stranger.key });
    assert.equal(await whoAmI(server, { ca: pki!.ca, cert: pki!.client.cert, key: pki!.client.key }), "alice");
    const [none, stranger, alice] = seen.verified.map((v) => v.certificate);
    assert.equal(seen.verified.length, 3);
    assert.equal(none, undefined, "no certificate");
    assert.equal(stranger?.subject.CN, "mallory");
    assert.equal(stranger?.issuer.CN, "wsport other CA");
    assert.equal(stranger?.authorized, false);
    assert.match(stranger?.authorizationError ?? "", /\S/, "says why it did not verify");
    assertIsAlice(alice);
  } finally {
    await server.close();
  }
});

test("requestCert on the runtime's own network: served on Node and Bun, a clear error on Deno", { skip: skipUnlessPeer(OPENSSL_MISSING) }, async () => {
  const network = await runtimeNetwork();
  if (runtime === "deno") {
    await assert.rejects(clientCertServer({}, network), (error: unknown) => {
      assert.ok(error instanceof WebSocketError);
      assert.equal(error.code, "WS_ERR_TLS_UNSUPPORTED");
      assert.match(error.message, /Deno\.listenTls cannot request client certificates.*node network/);
      return true;
    });
    return;
  }
  const { server, seen } = await clientCertServer({}, network);
  try {
    assert.equal(await whoAmI(server, { ca: pki!.ca, cert: pki!.client.cert, key: pki!.client.key }), "alice");
    await refused(server, seen, { ca: pki!.ca });
  } finally {
    await server.close();
  }
});

test("connect({ version }): only 13 is spoken; any other version is refused before connecting", async () => {
  let connects = 0;
  const network: Network = {
    name: "never",
    listen: () => Promise.reject(new Error("not used")),
    connect: () => {
      connects++;
      return Promise.reject(new Error("no network here"));
    },
  };
  for (const version of [8, 7, 14, 0, -1, Number.NaN]) {
    await assert.rejects(connect("ws://127.0.0.1:1/", { network, version }), (error: unknown) => {
      assert.ok(error instanceof HandshakeError, `version ${version}: a HandshakeError`);
      assert.equal(error.code, "WS_ERR_INVALID_WS_VERSION");
      assert.equal(error.status, 0);
      assert.match(error.message, /only 13/);
      return true;
    });
  }
  assert.equal(connects, 0, "no connection was attempted");
  // 13, or no version, goes ahead (to this network's refusal).
  await assert.rejects(connect("ws://127.0.0.1:1/", { network, version: 13 }), /no network here/);
  await assert.rejects(connect("ws://127.0.0.1:1/", { network }), /no network here/);
  assert.equal(connects, 2);
});
